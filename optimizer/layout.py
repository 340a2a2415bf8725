"""Where each LP column lives: power first, then shortfall segments, then fairness segments."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.problem import ProblemData


@dataclass(frozen=True)
class Layout:
    power_count: int
    shortfall_start: int
    shortfall_segments: int
    fairness_start: int
    fairness_segments: int
    fairness_guns: np.ndarray  # guns drawing in the first step
    fairness_power_cols: np.ndarray  # their first-step power column
    col_count: int
    step_count: int

    @classmethod
    def of(cls, data: ProblemData, shortfall_segments: int, fairness_segments: int) -> Layout:
        power_count = len(data.col_gun)
        shortfall_start = power_count
        fairness_start = shortfall_start + len(data.sessions) * shortfall_segments
        guns, cols = data.step0_cols()
        return cls(
            power_count=power_count,
            shortfall_start=shortfall_start,
            shortfall_segments=shortfall_segments,
            fairness_start=fairness_start,
            fairness_segments=fairness_segments,
            fairness_guns=guns,
            fairness_power_cols=cols,
            col_count=fairness_start + len(guns) * fairness_segments,
            step_count=data.step_count,
        )

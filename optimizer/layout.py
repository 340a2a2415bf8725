"""Where each LP column lives: power, shortfall segments, fairness segments, equal shares, stability.

Power first (kW, one per gun and step of its window), then per gun its shortfall segments (kWh),
then per gun drawing in the first step its fairness segments and its equal-share column (kW), then
per such gun its two deviations from the limit it holds (kW above, kW below).

A gun that holds no limit (yet) has its two columns and its row too, with 0 for the limit, its
below fixed at 0 and no cost: its above is then just its first-step power. So the LP's structure
stays the same when the guns' first limits become known, one run after they plugged in, and the
kept model is re-solved warm instead of built anew (`Allocator`).
"""

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
    share_start: int  # one column per fairness gun
    stability_start: int  # two columns (above, below) per fairness gun
    holds: np.ndarray  # per fairness gun: whether it holds a limit (else its deviations cost nothing)
    col_count: int
    step_count: int

    @property
    def stability_guns(self) -> np.ndarray:
        """The fairness guns that hold a limit (the readable model gives only these a row)."""
        return self.fairness_guns[self.holds]

    @property
    def stability_power_cols(self) -> np.ndarray:
        """Their first-step power columns."""
        return self.fairness_power_cols[self.holds]

    @classmethod
    def of(cls, data: ProblemData, shortfall_segments: int, fairness_segments: int) -> Layout:
        power_count = len(data.col_gun)
        shortfall_start = power_count
        fairness_start = shortfall_start + len(data.sessions) * shortfall_segments
        guns, cols = data.step0_cols()
        share_start = fairness_start + len(guns) * fairness_segments
        stability_start = share_start + len(guns)
        holds = np.isfinite(data.held_kw[guns])
        return cls(
            power_count=power_count,
            shortfall_start=shortfall_start,
            shortfall_segments=shortfall_segments,
            fairness_start=fairness_start,
            fairness_segments=fairness_segments,
            fairness_guns=guns,
            fairness_power_cols=cols,
            share_start=share_start,
            stability_start=stability_start,
            holds=holds,
            col_count=stability_start + 2 * len(guns),
            step_count=data.step_count,
        )

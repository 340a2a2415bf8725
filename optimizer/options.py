"""Optimizer options: passed in by the caller, never read from the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Weights:
    """Objective coefficients, per kWh, chosen so that each level dominates the next.

    1. `shortfall_per_kwh` x priority: a kWh short of a session's request. Priorities are at least
       0.01, so the cheapest kWh short (10) outweighs any tariff or tie-break gain per kWh (< 1.01).
    2. `tariff_per_kwh`: the price, normalised over the horizon to [0, 1] (cheapest step = 0,
       dearest = 1), so it means the same whatever the currency or price level.
    3. `earliness_per_kwh` and `fairness_per_kwh`: tie-breaks. A normalised price difference
       below about 0.2 % of the horizon's price spread counts as a tie.
    """

    shortfall_per_kwh: float = 1000.0
    tariff_per_kwh: float = 1.0
    earliness_per_kwh: float = 1e-3
    fairness_per_kwh: float = 1e-3


@dataclass(frozen=True)
class OptimizerOptions:
    """How `allocate` solves.

    `method` is the solver choice: HiGHS dual simplex or interior point (see the benchmark in
    the README for which wins on our structure). HiGHS's presolve costs more than it saves on our
    LPs of 24 and 96 steps (measured 20-60 % slower with it) but helps single-step ones (about
    30 % faster): `presolve=None` chooses by that, True or False forces it.
    `uncontrolled_reserve`: an uncontrollable gun is reserved at its maximum (safe) or at its
    observed draw. Undrawn power: a gun that drew less than it was
    offered (by more than `undrawn_deadband_kw`) is capped in the first step at
    observed x (1 + `undrawn_headroom_fraction`) + `undrawn_headroom_kw`, never below its minimum.
    Up to `milp_max_columns` power columns the minimum current is solved exactly as a small MILP,
    when HiGHS proves the optimum within `milp_time_limit_s`; otherwise (and above that size) by
    rounding with re-solve (see `repair.py`).
    """

    time_limit_s: float = 5.0
    weights: Weights = field(default_factory=Weights)
    method: Literal["simplex", "ipm"] = "simplex"
    presolve: bool | None = None
    uncontrolled_reserve: Literal["max", "observed"] = "max"
    undrawn_deadband_kw: float = 0.5
    undrawn_headroom_kw: float = 1.0
    undrawn_headroom_fraction: float = 0.1
    shortfall_segments: int = 4
    fairness_segments: int = 8
    repair_rounds: int = 6
    milp_max_columns: int = 200
    milp_time_limit_s: float = 0.25

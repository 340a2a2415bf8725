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
    3. Tie-breaks; together they make a normalised price difference below about 0.2 % of the
       horizon's price spread a tie:
       - `earliness_per_kwh`: earlier is better, up to this much per kWh in the first step.
       - `fairness_per_kwh`: first-step power in slices of 1/`fairness_segments` of the gun's cap,
         rewarded this much per kWh in the first slice, falling by 1/segments each slice
         (concave: equal guns get equal power to within a slice).
       - `equal_share_per_kwh`: a reward per kWh of first-step power up to the gun's max-min fair
         share of the first step (`problem.equal_shares_kw`), so the utility kinks there and equal
         guns under a shared limit get exactly equal limits.
       - `stability_per_kwh`: per kWh (kW x first-step hours) the first step departs from the limit
         the gun holds (`Session.held_limit_kw`), either way. Below the others on purpose: it must
         stay under `equal_share_per_kwh` / 2 (a kW moved between two guns is two deviations) and
         `fairness_per_kwh` / `fairness_segments`, so it only picks among plans the terms above
         find equal (the LP would otherwise pick any vertex, and reshuffle the limits every run),
         never buys a kWh of shortfall (>= 10 per kWh) and loses to any price difference above
         0.002 % of the spread.
    """

    shortfall_per_kwh: float = 1000.0
    tariff_per_kwh: float = 1.0
    earliness_per_kwh: float = 1e-3
    fairness_per_kwh: float = 1e-3
    equal_share_per_kwh: float = 1e-4
    stability_per_kwh: float = 2e-5


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

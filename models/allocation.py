"""Allocation: the optimizer's answer for one snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

import pandas as pd


class SolveStatus(StrEnum):
    """Which path produced an allocation, and what the solver could prove.

    optimal    the LP solved to proven optimality (then the minimum-current repair)
    feasible   the LP stopped at its time limit with a feasible solution, not proven optimal
    fallback   the LP failed, was infeasible or found nothing in time: the greedy rule decided
    """

    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    FALLBACK = "fallback"


class SolverOutcome(StrEnum):
    """The solver's own status, mapped onto ours (HiGHS and PuLP alike)."""

    OPTIMAL = "optimal"
    FEASIBLE = "feasible-not-proven"
    INFEASIBLE = "infeasible"
    ERROR = "error"


@dataclass(frozen=True)
class GunLimit:
    """The limit to push to a gun now: kW, and per-phase A for guns steered in amperes."""

    limit_kw: float
    limit_a: float | None
    phases: int


@dataclass(frozen=True)
class Allocation:
    """Power per gun per step, the limits to push now, and why.

    `power_kw`: index = step start (UTC), columns = gun ids with a session (uncontrolled guns show
    the load reserved for them). `headroom_kw` / `headroom_a`: per node and step, limit minus
    planned load (kW; A on the most loaded phase), NaN where the node has no such limit.
    `sessions`: per gun, energy wanted in the horizon, planned and short (kWh). `objective` is the
    plan's objective after the minimum-current repair, `lp_objective` the LP optimum before it,
    `idle_objective` that of charging nobody.
    """

    power_kw: pd.DataFrame
    limits_now: dict[str, GunLimit]
    priority_rank: dict[str, int]
    status: SolveStatus
    solver_outcome: SolverOutcome | None
    objective: float
    lp_objective: float
    idle_objective: float
    build_time_s: float
    solve_time_s: float
    headroom_kw: pd.DataFrame
    headroom_a: pd.DataFrame
    sessions: pd.DataFrame
    explanations: Mapping[str, str]
    warnings: list[str] = field(default_factory=list)

    @property
    def repair_cost(self) -> float:
        """The share of the LP's gain over charging nobody that the minimum-current repair gave up.

        Measured against that gain rather than the objective itself, which is near 0 when every
        car gets all it wants (only tie-breaks remain) and would make any change look huge.
        """
        if self.status is SolveStatus.FALLBACK:
            return float("nan")
        gain = self.idle_objective - self.lp_objective
        return (self.objective - self.lp_objective) / gain if gain > 1e-9 else 0.0

    def to_frame(self) -> pd.DataFrame:
        """The plan as a long table: step, gun, power_kw."""
        frame = (
            self.power_kw.rename_axis("step").reset_index().melt(id_vars="step", var_name="gun", value_name="power_kw")
        )
        return frame.sort_values(["step", "gun"], ignore_index=True)

    def shortfalls(self) -> pd.DataFrame:
        """Sessions that fall short of their energy in the horizon, worst first."""
        short = self.sessions[self.sessions["shortfall_kwh"] > 1e-6]
        return short.sort_values("shortfall_kwh", ascending=False)

"""allocate(): snapshot in, allocation out, by the LP or, when it cannot answer, the greedy rule.

`fallback_allocation` is the greedy rule alone, for a caller whose solve failed outside `allocate`
(an exception building the problem, a solve that overran its wall-clock bound).
"""

from __future__ import annotations

import time

import numpy as np

from models import Allocation, SiteSnapshot, SolveStatus
from models.allocation import SolverOutcome
from optimizer.fallback import greedy_allocation
from optimizer.lp import LinearProgram, assemble, objective_of
from optimizer.options import OptimizerOptions
from optimizer.problem import ProblemData, build_problem
from optimizer.repair import repair_minimum
from optimizer.result import build_allocation
from optimizer.solve import HighsSolver, SolverResult

_PRESOLVE_BELOW_STEPS = 4  # measured: presolve helps 1-step LPs, slows 24- and 96-step ones


def allocate(snapshot: SiteSnapshot, options: OptimizerOptions | None = None) -> Allocation:
    """Per-gun power limits for the snapshot's horizon that respect every limit of the site."""
    return Allocator(options).allocate(snapshot)


def fallback_allocation(
    snapshot: SiteSnapshot, options: OptimizerOptions | None = None, *, reason: str | None = None
) -> Allocation:
    """The greedy rule's allocation of `snapshot`, as `allocate` gives it when the LP gives none.

    No solver runs: status `fallback`, `solver_outcome` None, `lp_objective` NaN; `objective` is
    the greedy plan's under the LP's objective. It respects every limit of the site (see
    `optimizer/fallback.py`). `reason`, when given, is said in the warnings.
    """
    options = options or OptimizerOptions()
    began = time.perf_counter()
    data = build_problem(snapshot, options)
    lp = assemble(data, options)
    built = time.perf_counter()
    why = "greedy fallback used" if reason is None else f"{reason}; greedy fallback used"
    return _greedy(data, lp, None, why, built - began, built)


def _greedy(
    data: ProblemData, lp: LinearProgram, outcome: SolverOutcome | None, why: str, build_time_s: float, built: float
) -> Allocation:
    """The greedy rule's plan as an allocation; `built` is when the solving began (perf_counter)."""
    power = greedy_allocation(data)
    data.warnings.append(why)
    return build_allocation(
        data,
        power,
        SolveStatus.FALLBACK,
        outcome,
        objective_of(lp, data, power),
        float("nan"),
        objective_of(lp, data, np.zeros(lp.layout.power_count)),
        build_time_s,
        time.perf_counter() - built,
    )


class Allocator:
    """`allocate` that keeps its HiGHS model between calls, for a live loop.

    When a new snapshot yields an LP of the same structure (same sessions, windows and limited
    nodes; only limits, prices or energy changed, as after a limit change within an interval), the
    model's costs and bounds are replaced in place and HiGHS restarts from the last basis instead
    of solving from scratch. Otherwise a new model is built. The answer is the same either way.
    """

    def __init__(self, options: OptimizerOptions | None = None) -> None:
        self.options = options or OptimizerOptions()
        self._solver: HighsSolver | None = None

    def allocate(self, snapshot: SiteSnapshot) -> Allocation:
        options = self.options
        began = time.perf_counter()
        data = build_problem(snapshot, options)
        lp = assemble(data, options)
        built = time.perf_counter()
        try:
            solver = self._solver_for(lp)
            result = solver.solve()
        except Exception as error:  # noqa: BLE001 - the limits must hold even when the solver breaks
            self._solver = None
            data.warnings.append(f"solver failed: {error!r}")
            result = SolverResult(SolverOutcome.ERROR, None, float("nan"), time.perf_counter() - built)
        if result.solution is None:
            why = f"LP gave no solution ({result.outcome}); greedy fallback used"
            return _greedy(data, lp, result.outcome, why, built - began, built)
        lp_objective = objective_of(lp, data, result.solution[: lp.layout.power_count])
        deadline = built + options.time_limit_s
        solver.set_time_limit(deadline - time.perf_counter())
        power, final = repair_minimum(data, lp, solver, result, options, deadline)
        objective = objective_of(lp, data, power)
        outcome = final.outcome
        status = SolveStatus.OPTIMAL if outcome is SolverOutcome.OPTIMAL else SolveStatus.FEASIBLE
        idle_objective = objective_of(lp, data, np.zeros(lp.layout.power_count))
        return build_allocation(
            data,
            power,
            status,
            outcome,
            objective,
            lp_objective,
            idle_objective,
            built - began,
            time.perf_counter() - built,
        )

    def _solver_for(self, lp: LinearProgram) -> HighsSolver:
        if self._solver is not None and self._solver.holds_structure_of(lp):
            self._solver.load_data(lp, self.options.time_limit_s)
        else:
            presolve = presolve_for(self.options, lp)
            self._solver = HighsSolver(lp, self.options.method, self.options.time_limit_s, presolve)
        return self._solver


def presolve_for(options: OptimizerOptions, lp: LinearProgram) -> bool:
    """HiGHS presolve as the options ask, or chosen by the horizon when they leave it open (None)."""
    if options.presolve is None:
        return lp.layout.step_count < _PRESOLVE_BELOW_STEPS
    return options.presolve

"""allocate(): snapshot in, allocation out, by the LP or, when it cannot answer, the greedy rule."""

from __future__ import annotations

import time

from models import Allocation, SiteSnapshot, SolveStatus
from models.allocation import SolverOutcome
from optimizer.fallback import greedy_allocation
from optimizer.lp import assemble
from optimizer.objective import evaluate
from optimizer.options import OptimizerOptions
from optimizer.problem import build_problem
from optimizer.repair import repair_minimum
from optimizer.result import build_allocation
from optimizer.solve import HighsSolver, SolverResult


def allocate(snapshot: SiteSnapshot, options: OptimizerOptions | None = None) -> Allocation:
    """Per-gun power limits for the snapshot's horizon that respect every limit of the site."""
    options = options or OptimizerOptions()
    began = time.perf_counter()
    data = build_problem(snapshot, options)
    lp = assemble(data, options)
    built = time.perf_counter()
    try:
        solver = HighsSolver(lp, options.method, options.time_limit_s)
        result = solver.solve()
    except Exception as error:  # noqa: BLE001 - the limits must hold even when the solver breaks
        data.warnings.append(f"solver failed: {error!r}")
        result = SolverResult(SolverOutcome.ERROR, None, float("nan"), time.perf_counter() - built)
    if result.solution is None:
        power = greedy_allocation(data)
        objective = evaluate(data, power, lp.layout, options.weights)
        data.warnings.append(f"LP gave no solution ({result.outcome}); greedy fallback used")
        return build_allocation(
            data,
            power,
            SolveStatus.FALLBACK,
            result.outcome,
            objective,
            float("nan"),
            built - began,
            time.perf_counter() - built,
        )
    lp_objective = evaluate(data, result.solution[: lp.layout.power_count], lp.layout, options.weights)
    solver.set_time_limit(options.time_limit_s - (time.perf_counter() - built))
    power, final = repair_minimum(data, lp, solver, result, options.repair_rounds)
    status = SolveStatus.OPTIMAL if final.outcome is SolverOutcome.OPTIMAL else SolveStatus.FEASIBLE
    return build_allocation(
        data,
        power,
        status,
        final.outcome,
        evaluate(data, power, lp.layout, options.weights),
        lp_objective,
        built - began,
        time.perf_counter() - built,
    )

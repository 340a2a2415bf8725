"""Minimum-current repair: no gun's limit between 0 and its minimum, without wasting capacity.

The LP may give a gun less than its minimum in some step. Rounding with re-solve: such a column
is forced up to the minimum where it holds at least half of it (and the gun still wants that
energy), else held at 0; the LP is re-solved warm in place, so the power freed or taken is
rebalanced among the other guns. If forcing up makes the LP infeasible (the minima do not fit
under a node), those columns are held at 0 instead. A few rounds settle it; anything still
fractional after them is set to 0, which can only lower load.
"""

from __future__ import annotations

import numpy as np

from optimizer.lp import LinearProgram
from optimizer.problem import ProblemData
from optimizer.solve import HighsSolver, SolverResult

_TOL = 1e-6


def fractional_columns(data: ProblemData, power_kw: np.ndarray) -> np.ndarray:
    min_kw = data.min_kw[data.col_gun]
    return np.flatnonzero((power_kw > _TOL) & (power_kw < min_kw - _TOL))


def repair_minimum(
    data: ProblemData, lp: LinearProgram, solver: HighsSolver, result: SolverResult, rounds: int
) -> tuple[np.ndarray, SolverResult]:
    """The repaired power columns (kW) and the last solver result that produced them."""
    assert result.solution is not None
    solution = result.solution
    power_count = lp.layout.power_count
    for _ in range(rounds):
        power = solution[:power_count]
        fractional = fractional_columns(data, power)
        if len(fractional) == 0:
            break
        min_kw = data.min_kw[data.col_gun[fractional]]
        up = fractional[_affordable(data, fractional, power[fractional] >= min_kw / 2)]
        down = np.setdiff1d(fractional, up)
        solver.change_bounds(down, np.zeros(len(down)), np.zeros(len(down)))
        solver.change_bounds(up, data.min_kw[data.col_gun[up]], lp.col_upper[up])
        attempt = solver.solve()
        if attempt.solution is None and len(up):
            solver.change_bounds(up, np.zeros(len(up)), np.zeros(len(up)))
            attempt = solver.solve()
        if attempt.solution is None:
            break
        result, solution = attempt, attempt.solution
    power = solution[:power_count].copy()
    power[fractional_columns(data, power)] = 0.0
    return power, result


def _affordable(data: ProblemData, cols: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Candidates whose forced minimum energy, summed per gun, stays within the gun's target."""
    forced_kwh = np.where(candidate, data.min_kw[data.col_gun[cols]] * data.col_hours[cols], 0.0)
    per_gun = np.bincount(data.col_gun[cols], weights=forced_kwh, minlength=len(data.target_kwh))
    return candidate & (per_gun[data.col_gun[cols]] <= data.target_kwh[data.col_gun[cols]] + _TOL)

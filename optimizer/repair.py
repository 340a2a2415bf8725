"""Minimum-current repair: no gun's limit between 0 and its minimum, without wasting capacity.

On a small LP (a few hundred power columns) the min-current problem is solved exactly, as a
MILP with semi-continuous columns (0 or at least the minimum). Otherwise, the LP may give a gun
less than its minimum in some step (typically the last step of its energy, or its share of a
node at its limit). Each round, energy is first moved between steps of the same gun
(`repair_local`): no re-solve, no energy lost. What that cannot fix goes to rounding with
re-solve: such a value is raised to the minimum where that fits in the spare capacity of every
node above it at that step and the car still wants that much energy; the LP then moves the gun's
energy out of its other steps. Where it does not fit, the value is held at 0 and the LP gives the
power freed to other guns. The same HiGHS model is re-solved warm in place; a few rounds settle
it. Whatever is still fractional after them is set to 0, and the power that frees is offered
to guns already charging at those steps that want more (`top_up`).
"""

from __future__ import annotations

import time

import numpy as np

from models.allocation import SolverOutcome
from optimizer.lp import LinearProgram
from optimizer.options import OptimizerOptions
from optimizer.problem import ProblemData
from optimizer.repair_local import fractional_columns, shift_within_guns, top_up
from optimizer.solve import HighsSolver, SolverResult

_TOL = 1e-6


def repair_minimum(
    data: ProblemData,
    lp: LinearProgram,
    solver: HighsSolver,
    result: SolverResult,
    options: OptimizerOptions,
    deadline: float,
) -> tuple[np.ndarray, SolverResult]:
    """The repaired power columns (kW) and the last solver result that produced them.

    `deadline` (a `time.perf_counter()` value) bounds every solve made here.
    """
    assert result.solution is not None
    solution = result.solution
    power_count = lp.layout.power_count
    if 0 < power_count <= options.milp_max_columns:
        budget_s = min(options.milp_time_limit_s, deadline - time.perf_counter())
        exact = _solve_small_milp(data, lp, solver, solution[:power_count], budget_s)
        solver.set_time_limit(deadline - time.perf_counter())
        if exact is not None:
            return exact
    raised = np.zeros(power_count, dtype=bool)
    for _ in range(options.repair_rounds):
        power = solution[:power_count]
        shifted = shift_within_guns(data, power)
        leftover = fractional_columns(data, shifted)
        if len(leftover) == 0:
            return shifted, result
        up, tails = _raisable(data, power, leftover, raised)
        down = np.setdiff1d(leftover, up)
        _allow_tail_overshoot(data, solver, tails)
        solver.change_bounds(down, np.zeros(len(down)), np.zeros(len(down)))
        solver.change_bounds(up, data.min_kw[data.col_gun[up]], lp.col_upper[up])
        solver.change_bounds(tails, data.min_kw[data.col_gun[tails]], data.min_kw[data.col_gun[tails]])
        raised[down] = False
        raised[up] = True
        attempt = solver.resolve_after_bounds_changed()
        if attempt.solution is None and len(up):
            # Should not happen (each raise fits); hold them at 0 instead, which is always feasible.
            solver.change_bounds(up, np.zeros(len(up)), np.zeros(len(up)))
            raised[up] = False
            attempt = solver.resolve_after_bounds_changed()
        if attempt.solution is None:
            break
        result, solution = attempt, attempt.solution
    power = shift_within_guns(data, solution[:power_count])
    leftover = fractional_columns(data, power)
    power[leftover] = 0.0
    return top_up(data, power, np.unique(data.col_step[leftover])), result


def _solve_small_milp(
    data: ProblemData, lp: LinearProgram, solver: HighsSolver, power: np.ndarray, budget_s: float
) -> tuple[np.ndarray, SolverResult] | None:
    """On a small LP with values below a minimum, solve the min-current MILP exactly.

    Every column with a minimum becomes semi-continuous (0 or [minimum, cap]); HiGHS's branch
    and bound reaches the true optimum, which rounding can miss by a few percent on a handful of
    guns. None if nothing needs it or the MILP is not proven optimal within `budget_s` (then
    rounding goes on from the LP, the columns continuous again): some small instances take
    branch and bound seconds, which a scheduler interval cannot spare.
    """
    if budget_s <= 0 or len(fractional_columns(data, shift_within_guns(data, power))) == 0:
        return None
    power_count = lp.layout.power_count
    minimum = data.min_kw[data.col_gun]
    cols = np.flatnonzero((minimum > 0) & (lp.col_upper[:power_count] > 0))
    solver.set_semi_continuous(cols, minimum[cols], lp.col_upper[cols], on=True)
    solver.set_time_limit(budget_s)
    attempt = solver.solve()
    solver.set_semi_continuous(cols, minimum[cols], lp.col_upper[cols], on=False)
    if attempt.solution is None or attempt.outcome is not SolverOutcome.OPTIMAL:
        return None
    exact = attempt.solution[:power_count].copy()
    exact[fractional_columns(data, exact)] = 0.0  # semi-continuous within tolerance only
    return exact, attempt


def _allow_tail_overshoot(data: ProblemData, solver: HighsSolver, tails: np.ndarray) -> None:
    """Let a gun's energy row reach the energy of its tail step at its minimum, and no further.

    The tail alone covers more than the gun wants (the car stops when full): the gun's other
    steps go to 0, so no energy nobody wants is planned elsewhere.
    """
    guns = data.col_gun[tails]  # at most one tail per gun (see _raisable)
    if len(guns):
        tail_kwh = data.min_kw[guns] * data.col_hours[tails]
        solver.change_row_bounds(guns, data.target_kwh[guns], np.maximum(tail_kwh, data.target_kwh[guns]))


def _raisable(
    data: ProblemData, power: np.ndarray, cols: np.ndarray, raised: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Fractional columns to raise to their gun's minimum, keeping the LP feasible.

    Largest first, a column is raised if the raise fits in the spare capacity of every node above
    it at its step (then nobody else loses), or if it already holds half its minimum and the
    minima held so far under those nodes still fit their limits (then the re-solve takes the
    difference from other guns). The gun's other steps give way to the energy of its raised steps;
    where even one step at the minimum is more than the gun still wants (its last bit of energy),
    it is raised anyway and returned among the tails: the limit is a cap and the car stops when
    full. `raised` are columns held at their minimum by earlier rounds.
    """
    settled = power.copy()
    settled[cols] = 0.0  # every fractional column is raised or held at 0 this round
    load_kw, load_a = data.node_loads(settled)
    spare_kw = data.node_static_kw - load_kw
    spare_a = data.node_static_a - load_a
    held = np.flatnonzero(raised)
    held_kw = np.where(raised, data.min_kw[data.col_gun], 0.0)
    minima_kw, minima_a = data.node_loads(held_kw)
    room_kw = data.node_static_kw - minima_kw
    room_a = data.node_static_a - minima_a
    # float: np.bincount of an empty array is int64 even with weights, and would truncate `+=` below
    forced_kwh = np.bincount(
        data.col_gun[held], weights=data.min_kw[data.col_gun[held]] * data.col_hours[held], minlength=len(data.sessions)
    ).astype(float)
    chosen, tails = [], []
    for col in cols[np.argsort(-power[cols])]:
        gun, step = data.col_gun[col], data.col_step[col]
        minimum = data.min_kw[gun]
        energy = minimum * data.col_hours[col]
        tail = forced_kwh[gun] + energy > data.target_kwh[gun] + _TOL
        if tail and forced_kwh[gun] > 0:
            continue
        nodes = data.gun_ancestors[gun][data.gun_ancestors[gun] >= 0]
        a_per_kw = data.phase_a_per_kw[gun]
        raise_kw = minimum
        fits_spare = np.all(spare_kw[nodes, step] >= raise_kw) and np.all(
            spare_a[nodes, :, step] >= raise_kw * a_per_kw[None, :]
        )
        minima_fit = np.all(room_kw[nodes, step] >= minimum) and np.all(
            room_a[nodes, :, step] >= minimum * a_per_kw[None, :]
        )
        if not (minima_fit and (fits_spare or power[col] >= minimum / 2)):
            continue
        spare_kw[nodes, step] -= raise_kw
        spare_a[nodes, :, step] -= raise_kw * a_per_kw[None, :]
        room_kw[nodes, step] -= minimum
        room_a[nodes, :, step] -= minimum * a_per_kw[None, :]
        forced_kwh[gun] += energy
        chosen.append(col)
        if tail:
            tails.append(col)
    return np.array(chosen, dtype=np.int64), np.array(tails, dtype=np.int64)

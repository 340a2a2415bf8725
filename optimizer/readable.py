"""The optimizer's LP written the readable way, in PuLP: one named variable and constraint at a time.

`allocate` builds its LP as sparse arrays (`constraints.py`, `lp.py`) and hands them to HiGHS: fast,
but a row there is a slice of a triplet array. This module writes the same LP as a person would on
paper, so that

- a test can check that the arrays say what the equations say (same optimum on random sites),
- an infeasible or surprising model can be written out (`build_pulp_model(...).writeLP(path)`) and
  read constraint by constraint, by name,
- the benchmark has an honest naive baseline (this model solved by PuLP's bundled CBC).

Names, as in `constraints.py`:

    power_kw[gun,step]      kW drawn by a gun in a step of its window            0 <= . <= cap
    shortfall_kwh[gun,k]    k-th slice of the energy a gun will miss (kWh)       0 <= . <= target / K
    fair_share[gun,k]       k-th slice of a gun's first-step power (kW)          0 <= . <= cap / S
    equal_share[gun]        its first-step power up to its equal share (kW)      0 <= . <= share
    above_held[gun]         first-step kW above the limit the gun holds          0 <= . <= cap
    below_held[gun]         first-step kW below it                               0 <= . <= max(held, cap)

    energy[gun]             sum_t hours * power_kw[gun,t] + sum_k shortfall_kwh[gun,k] = target_kwh
    node_kw[node,step]      sum of power_kw under the node <= limit_kw - fixed load
    node_a_Lx[node,step]    sum of A per kW on phase x * power_kw under the node <= limit_a - fixed
    fair[gun]               sum_k fair_share[gun,k] <= power_kw[gun,0]
    share[gun]              equal_share[gun] <= power_kw[gun,0]
    stable[gun]             power_kw[gun,0] - above_held[gun] + below_held[gun] = held_kw[gun]

Every coefficient and bound comes from `ProblemData`, `Layout` and the term functions of
`objective.py`, so this model cannot drift from the production one in anything but its writing.
"""

from __future__ import annotations

import math
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pulp

from models import SiteSnapshot
from models.allocation import SolverOutcome
from optimizer.layout import Layout
from optimizer.objective import (
    earliness_bonus,
    equal_share_bonus,
    fairness_bonus,
    shortfall_penalty,
    stability_penalty,
    tariff_cost,
)
from optimizer.options import OptimizerOptions
from optimizer.problem import ProblemData, build_problem

_FEASIBLE_PRIMAL = 2  # HiGHS SolutionStatus kSolutionStatusFeasible
_NAME_UNSAFE = re.compile(r"[-+\[\] >/\s]")  # what PuLP or an LP file would mangle in a name


@dataclass(frozen=True)
class _Variables:
    """The model's variables, by position: power per LP column, the segments per gun."""

    power_kw: list[pulp.LpVariable]  # one per column c of ProblemData
    shortfall_kwh: list[list[pulp.LpVariable]]  # [g][k]
    fair_share: dict[int, list[pulp.LpVariable]]  # g -> [k], guns drawing in the first step
    equal_share: dict[int, pulp.LpVariable]  # g -> its first-step power up to its share
    held_deviation: dict[int, tuple[pulp.LpVariable, pulp.LpVariable]]  # g -> (above, below), guns holding a limit


def build_pulp_model(data: ProblemData, options: OptimizerOptions) -> pulp.LpProblem:
    """The LP of `optimizer.lp.assemble(data, options)`, as a named PuLP model (minimised).

    Rows are the same as the production LP's except that a phase row with no term at all (every
    gun under the node loads other phases) is left out: it would read `0 <= limit`, and limits
    are never negative, so it constrains nothing.
    """
    layout = Layout.of(data, options.shortfall_segments, options.fairness_segments)
    prob = pulp.LpProblem("gridcharge", pulp.LpMinimize)
    guns = _unique_labels(data.gun_ids)
    nodes = _unique_labels(data.node_ids)
    variables = _define_variables(prob, data, layout, guns)
    prob.setObjective(_objective(data, layout, options, variables))
    _define_energy(prob, data, variables, guns)
    _define_node_rows(prob, data, variables, nodes, data.node_limit_kw, None, "node_kw")
    for phase in range(3):
        family = f"node_a_L{phase + 1}"
        _define_node_rows(prob, data, variables, nodes, data.node_limit_a[:, phase, :], phase, family)
    _define_fairness(prob, data, layout, variables, guns)
    _define_share(prob, layout, variables, guns)
    _define_stability(prob, data, layout, variables, guns)
    return prob


def solve_readable(
    snapshot: SiteSnapshot,
    options: OptimizerOptions | None = None,
    solver: Literal["highs", "cbc"] = "highs",
) -> tuple[SolverOutcome, float]:
    """Solve the snapshot's LP through PuLP: our mapped status and the LP objective (NaN if none).

    The objective is the LP optimum before the minimum-current repair, the number to compare with
    `allocate(snapshot, options).lp_objective`. HiGHS is the reference; CBC only the benchmark's
    baseline. The time limit is always `options.time_limit_s`: a model must never run unbounded.
    """
    options = options or OptimizerOptions()
    data = build_problem(snapshot, options)
    return solve_pulp_model(build_pulp_model(data, options), solver, options.time_limit_s)


def solve_pulp_model(
    prob: pulp.LpProblem, solver: Literal["highs", "cbc"], time_limit_s: float
) -> tuple[SolverOutcome, float]:
    """Solve a model of `build_pulp_model` within `time_limit_s`: our status and its objective.

    Separate from `solve_readable` so that a benchmark can time building and solving apart.
    """
    if not prob.variables():
        # Nothing to decide: PuLP's HiGHS would call the empty model "not solved"; ours is optimal.
        return SolverOutcome.OPTIMAL, 0.0
    prob.solve(_pulp_solver(solver, time_limit_s))
    outcome = map_pulp_status(prob.sol_status)
    if outcome is SolverOutcome.FEASIBLE and solver == "highs" and not _highs_primal_feasible(prob):
        # PuLP labels any HiGHS run stopped by its time limit "integer feasible", even when the
        # point it stopped at is not primal feasible (dual simplex is not, until the end).
        outcome = SolverOutcome.ERROR
    if outcome not in (SolverOutcome.OPTIMAL, SolverOutcome.FEASIBLE):
        return outcome, math.nan
    return outcome, float(prob.objective.value())


def map_pulp_status(sol_status: int) -> SolverOutcome:
    """PuLP's solution status onto ours; PuLP's `status` is not used, as it is not proof.

    A time-limited run reports `status` Optimal with CBC and with HiGHS alike; only
    `sol_status == LpSolutionOptimal` says the solver proved optimality.
    """
    if sol_status == pulp.LpSolutionOptimal:
        return SolverOutcome.OPTIMAL
    if sol_status == pulp.LpSolutionIntegerFeasible:
        return SolverOutcome.FEASIBLE
    if sol_status == pulp.LpSolutionInfeasible:
        return SolverOutcome.INFEASIBLE
    return SolverOutcome.ERROR  # no solution found, or unbounded (impossible: every column is bounded)


def _pulp_solver(solver: Literal["highs", "cbc"], time_limit_s: float) -> pulp.LpSolver:
    if solver == "highs":
        return pulp.HiGHS(msg=False, timeLimit=time_limit_s)
    with warnings.catch_warnings():
        # PuLP 3.3 warns that the bundled CBC leaves in PuLP 4.0; it is exactly the baseline we
        # want to measure (what a PuLP user gets out of the box), so the warning is not ours.
        warnings.simplefilter("ignore", DeprecationWarning)
        return pulp.PULP_CBC_CMD(msg=False, timeLimit=time_limit_s)


def _highs_primal_feasible(prob: pulp.LpProblem) -> bool:
    model = getattr(prob, "solverModel", None)
    return model is not None and int(model.getInfo().primal_solution_status) == _FEASIBLE_PRIMAL


def _define_variables(prob: pulp.LpProblem, data: ProblemData, layout: Layout, guns: list[str]) -> _Variables:
    """Bounds as in `lp.assemble`: the column's cap, equal slices of the target and of the cap, the share."""
    power_kw = [
        prob.add_variable(f"power_kw[{guns[g]},{t}]", 0.0, float(cap))
        for g, t, cap in zip(data.col_gun, data.col_step, data.col_upper_kw, strict=True)
    ]
    shortfall_kwh = [
        [
            prob.add_variable(f"shortfall_kwh[{guns[g]},{k}]", 0.0, float(target / layout.shortfall_segments))
            for k in range(layout.shortfall_segments)
        ]
        for g, target in enumerate(data.target_kwh)
    ]
    fair_share = {
        int(g): [
            prob.add_variable(
                f"fair_share[{guns[g]},{k}]", 0.0, float(data.col_upper_kw[col] / layout.fairness_segments)
            )
            for k in range(layout.fairness_segments)
        ]
        for g, col in zip(layout.fairness_guns, layout.fairness_power_cols, strict=True)
    }
    equal_share = {
        int(g): prob.add_variable(f"equal_share[{guns[g]}]", 0.0, float(data.share_kw[g])) for g in layout.fairness_guns
    }
    held_deviation = {}
    for g, col in zip(layout.stability_guns, layout.stability_power_cols, strict=True):
        cap, held = float(data.col_upper_kw[col]), float(data.held_kw[g])
        above = prob.add_variable(f"above_held[{guns[g]}]", 0.0, cap)
        below = prob.add_variable(f"below_held[{guns[g]}]", 0.0, max(held, cap))
        held_deviation[int(g)] = (above, below)
    return _Variables(power_kw, shortfall_kwh, fair_share, equal_share, held_deviation)


def _objective(
    data: ProblemData, layout: Layout, options: OptimizerOptions, variables: _Variables
) -> pulp.LpAffineExpression:
    """Tariff + earliness per kW, shortfall penalty per kWh short, fairness, share and stability now."""
    weights = options.weights
    power_cost = tariff_cost(data, weights) + earliness_bonus(data, weights)
    shortfall_cost = shortfall_penalty(data, layout, weights).reshape(-1, layout.shortfall_segments)
    fair_cost = fairness_bonus(data, layout, weights).reshape(-1, layout.fairness_segments)
    terms = list(zip(variables.power_kw, power_cost, strict=True))
    for g, slices in enumerate(variables.shortfall_kwh):
        terms += zip(slices, shortfall_cost[g], strict=True)
    for row, g in enumerate(layout.fairness_guns):
        terms += zip(variables.fair_share[int(g)], fair_cost[row], strict=True)
    share_cost = equal_share_bonus(data, layout, weights)
    terms += zip([variables.equal_share[int(g)] for g in layout.fairness_guns], share_cost, strict=True)
    held_cost = stability_penalty(data, layout, weights).reshape(-1, 2)[layout.holds]
    for row, g in enumerate(layout.stability_guns):
        terms += zip(variables.held_deviation[int(g)], held_cost[row], strict=True)
    return _weighted_sum(terms)


def _define_energy(prob: pulp.LpProblem, data: ProblemData, variables: _Variables, guns: list[str]) -> None:
    """energy[gun]: what is delivered plus what is missed is exactly what is still wanted."""
    for g, target in enumerate(data.target_kwh):
        cols = range(data.gun_cols[g], data.gun_cols[g + 1])
        delivered = [(variables.power_kw[c], data.col_hours[c]) for c in cols]
        missed = [(slice_kwh, 1.0) for slice_kwh in variables.shortfall_kwh[g]]
        prob += (_weighted_sum(delivered + missed) == float(target), f"energy[{guns[g]}]")


def _define_node_rows(
    prob: pulp.LpProblem,
    data: ProblemData,
    variables: _Variables,
    nodes: list[str],
    limits: np.ndarray,
    phase: int | None,
    family: str,
) -> None:
    """One row per node and step with a finite limit and a gun under it: kW, or A on one phase.

    `limits` (node, step) is what is left for controllable guns once uncontrolled ones are
    reserved. A gun counts 1 per kW in the kW family and its A per kW on `phase` in a phase one.
    """
    terms: dict[tuple[int, int], list[tuple[pulp.LpVariable, float]]] = defaultdict(list)
    for c, (g, t) in enumerate(zip(data.col_gun, data.col_step, strict=True)):
        weight = 1.0 if phase is None else float(data.phase_a_per_kw[g, phase])
        for n in data.gun_ancestors[g]:
            if n >= 0 and np.isfinite(limits[n, t]) and weight != 0.0:
                terms[(int(n), int(t))].append((variables.power_kw[c], weight))
    for (n, t), row in sorted(terms.items()):
        prob += (_weighted_sum(row) <= float(limits[n, t]), f"{family}[{nodes[n]},{t}]")


def _define_fairness(
    prob: pulp.LpProblem, data: ProblemData, layout: Layout, variables: _Variables, guns: list[str]
) -> None:
    """fair[gun]: the rewarded slices never add up to more than the gun's power in the first step."""
    for g, col in zip(layout.fairness_guns, layout.fairness_power_cols, strict=True):
        slices = [(slice_kw, 1.0) for slice_kw in variables.fair_share[int(g)]]
        prob += (_weighted_sum([*slices, (variables.power_kw[col], -1.0)]) <= 0.0, f"fair[{guns[g]}]")


def _define_share(prob: pulp.LpProblem, layout: Layout, variables: _Variables, guns: list[str]) -> None:
    """share[gun]: the rewarded equal share never exceeds the gun's power in the first step."""
    for g, col in zip(layout.fairness_guns, layout.fairness_power_cols, strict=True):
        share = variables.equal_share[int(g)]
        prob += (_weighted_sum([(share, 1.0), (variables.power_kw[col], -1.0)]) <= 0.0, f"share[{guns[g]}]")


def _define_stability(
    prob: pulp.LpProblem, data: ProblemData, layout: Layout, variables: _Variables, guns: list[str]
) -> None:
    """stable[gun]: first-step power is the held limit plus what is above it minus what is below."""
    for g, col in zip(layout.stability_guns, layout.stability_power_cols, strict=True):
        above, below = variables.held_deviation[int(g)]
        row = [(variables.power_kw[col], 1.0), (above, -1.0), (below, 1.0)]
        prob += (_weighted_sum(row) == float(data.held_kw[g]), f"stable[{guns[g]}]")


def _weighted_sum(terms: Iterable[tuple[pulp.LpVariable, float]]) -> pulp.LpAffineExpression:
    """sum of coefficient x variable, built from pairs (no intermediate expression per term)."""
    return pulp.LpAffineExpression((variable, float(coefficient)) for variable, coefficient in terms)


def _unique_labels(ids: Sequence[str]) -> list[str]:
    """Ids as they may appear inside a name; `#index` is added where two would read the same.

    PuLP turns `-+[] >/` into `_` in variable names, so `a-b/1` and `a_b/1` would otherwise
    collide and PuLP would refuse the model.
    """
    safe = [_NAME_UNSAFE.sub("_", item) for item in ids]
    seen: dict[str, int] = defaultdict(int)
    for label in safe:
        seen[label] += 1
    return [label if seen[label] == 1 else f"{label}#{index}" for index, label in enumerate(safe)]

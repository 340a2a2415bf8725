"""Constraint families of the LP, one function each, as sparse triplets.

Each returns `Rows(row, col, value, lower, upper)` with row numbers starting at 0; the assembler
offsets them. Columns: power columns `c` first (kW), then the layout's extra columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.layout import Layout
from optimizer.problem import ProblemData


@dataclass
class Rows:
    row: np.ndarray
    col: np.ndarray
    value: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


def define_energy(data: ProblemData, layout: Layout) -> Rows:
    """energy[g]: sum_t hours[g,t] * power_kw[g,t] + sum_k shortfall_kwh[g,k] = target_kwh[g].

    Delivered energy never exceeds the request; what is missing is the (penalised) shortfall.
    """
    gun_count = len(data.sessions)
    segments = layout.shortfall_segments
    power_cols = np.arange(layout.power_count)
    shortfall_cols = layout.shortfall_start + np.arange(gun_count * segments)
    return Rows(
        row=np.concatenate([data.col_gun, np.repeat(np.arange(gun_count), segments)]),
        col=np.concatenate([power_cols, shortfall_cols]),
        value=np.concatenate([data.col_hours, np.ones(gun_count * segments)]),
        lower=data.target_kwh.copy(),
        upper=data.target_kwh.copy(),
    )


def define_node_power(data: ProblemData) -> Rows:
    """node_kw[n,t]: sum of power_kw[g,t] over guns under n <= limit_kw[n,t] - fixed load (kW).

    One row per limited node and step that has a gun under it; unlimited nodes have none.
    """
    return _tree_rows(data, data.node_limit_kw, None)


def define_node_phase(data: ProblemData) -> Rows:
    """node_a[n,phase,t]: sum of a_per_kw[g,phase] * power_kw[g,t] <= limit_a[n,t] - fixed (A)."""
    return _concat([_tree_rows(data, data.node_limit_a[:, phase, :], phase) for phase in range(3)])


def define_fairness(data: ProblemData, layout: Layout) -> Rows:
    """fair[g]: sum_k fair_share[g,k] <= power_kw[g,0] for guns drawing in the first step.

    The segments carry a concave reward (objective.py), so equal guns get equal first-step power
    to within one segment (1 / `fairness_segments` of the gun's cap).
    """
    guns, cols = layout.fairness_guns, layout.fairness_power_cols
    segments = layout.fairness_segments
    count = len(guns)
    extra = layout.fairness_start + np.arange(count * segments)
    return Rows(
        row=np.concatenate([np.arange(count), np.repeat(np.arange(count), segments)]),
        col=np.concatenate([cols, extra]),
        value=np.concatenate([-np.ones(count), np.ones(count * segments)]),
        lower=np.full(count, -np.inf),
        upper=np.zeros(count),
    )


def define_share(data: ProblemData, layout: Layout) -> Rows:
    """share[g]: equal_share[g] <= power_kw[g,0] for guns drawing in the first step.

    `equal_share[g]` is bounded by the gun's share (`ProblemData.share_kw`) and rewarded
    (objective.py): the reward kinks there, so equal guns under a limit they share get exactly
    equal first-step power rather than equal to within one fairness segment.
    """
    guns, cols = layout.fairness_guns, layout.fairness_power_cols
    count = len(guns)
    return Rows(
        row=np.concatenate([np.arange(count), np.arange(count)]),
        col=np.concatenate([cols, layout.share_start + np.arange(count)]),
        value=np.concatenate([-np.ones(count), np.ones(count)]),
        lower=np.full(count, -np.inf),
        upper=np.zeros(count),
    )


def define_stability(data: ProblemData, layout: Layout) -> Rows:
    """stable[g]: power_kw[g,0] - above_held[g] + below_held[g] = held_kw[g] for guns holding a limit.

    The two deviations are penalised (objective.py), so their sum is |power_kw[g,0] - held_kw[g]|
    at an optimum: among otherwise equal plans, the one closest to what the guns hold wins. A gun
    that holds no limit has its row too, with 0 in place of the limit (see layout.py).
    """
    guns, cols = layout.fairness_guns, layout.fairness_power_cols
    count = len(guns)
    above = layout.stability_start + 2 * np.arange(count)
    held = data.held_kw[guns]
    return Rows(
        row=np.tile(np.arange(count), 3),
        col=np.concatenate([cols, above, above + 1]),
        value=np.concatenate([np.ones(count), -np.ones(count), np.ones(count)]),
        lower=np.where(layout.holds, held, 0.0),
        upper=np.where(layout.holds, held, 0.0),
    )


def _tree_rows(data: ProblemData, limits: np.ndarray, phase: int | None) -> Rows:
    """Rows of one family over the tree: (node, step) pairs that are limited and have a column,
    numbered by node, then step."""
    flat_limits = limits.ravel()
    used = data.loaded_cells & np.isfinite(flat_limits)
    cells = np.flatnonzero(used)
    row_of = np.full(len(flat_limits), -1, dtype=np.int64)
    row_of[cells] = np.arange(len(cells))
    weight = np.ones(len(data.col_gun)) if phase is None else data.phase_a_per_kw[data.col_gun, phase]
    rows, cols, values = [], [], []
    for level_cols, level_cells in data.column_cells:
        ok = used[level_cells]
        if phase is not None:
            ok &= weight[level_cols] != 0
        chosen = level_cols[ok]
        cols.append(chosen)
        rows.append(row_of[level_cells[ok]])
        values.append(weight[chosen])
    return Rows(
        row=np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
        col=np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64),
        value=np.concatenate(values) if values else np.zeros(0),
        lower=np.full(len(cells), -np.inf),
        upper=flat_limits[cells],
    )


def _concat(parts: list[Rows]) -> Rows:
    offsets = np.cumsum([0] + [len(part.lower) for part in parts])
    return Rows(
        row=np.concatenate([part.row + offset for part, offset in zip(parts, offsets, strict=False)]),
        col=np.concatenate([part.col for part in parts]),
        value=np.concatenate([part.value for part in parts]),
        lower=np.concatenate([part.lower for part in parts]),
        upper=np.concatenate([part.upper for part in parts]),
    )

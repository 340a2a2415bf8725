"""The LP as arrays (column-wise sparse matrix), assembled from the constraint families."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from optimizer.constraints import (
    define_energy,
    define_fairness,
    define_node_phase,
    define_node_power,
    define_share,
    define_stability,
)
from optimizer.layout import Layout
from optimizer.objective import column_costs
from optimizer.options import OptimizerOptions
from optimizer.problem import ProblemData


@dataclass(frozen=True)
class LinearProgram:
    layout: Layout
    cost: np.ndarray
    col_lower: np.ndarray
    col_upper: np.ndarray
    row_lower: np.ndarray
    row_upper: np.ndarray
    start: np.ndarray  # CSC column starts, length col_count + 1
    index: np.ndarray  # row of each nonzero
    value: np.ndarray

    @property
    def row_count(self) -> int:
        return len(self.row_lower)


def assemble(data: ProblemData, options: OptimizerOptions) -> LinearProgram:
    layout = Layout.of(data, options.shortfall_segments, options.fairness_segments)
    families = [
        define_energy(data, layout),
        define_node_power(data),
        define_node_phase(data),
        define_fairness(data, layout),
        define_share(data, layout),
        define_stability(data, layout),
    ]
    offsets = np.cumsum([0] + [len(rows.lower) for rows in families])
    row_lower = np.concatenate([rows.lower for rows in families])
    row = np.concatenate([rows.row + offset for rows, offset in zip(families, offsets, strict=False)])
    col = np.concatenate([rows.col for rows in families])
    value = np.concatenate([rows.value for rows in families])
    # By column, then row: each family's columns come in ascending runs, and a column's rows in
    # ascending order (families in row order; within the tree families, root first and a node's
    # index below its descendants'), so a stable sort by column alone is enough, and fast.
    order = np.argsort(col, kind="stable")
    counts = np.bincount(col, minlength=layout.col_count)
    start = np.concatenate([[0], np.cumsum(counts)])
    shortfall_upper = np.repeat(data.target_kwh / layout.shortfall_segments, layout.shortfall_segments)
    fairness_upper = np.repeat(
        data.col_upper_kw[layout.fairness_power_cols] / layout.fairness_segments, layout.fairness_segments
    )
    first_upper = data.col_upper_kw[layout.fairness_power_cols]
    # A gun holding no limit: its row says above = first-step power, and its below is 0.
    below_upper = np.where(layout.holds, np.maximum(data.held_kw[layout.fairness_guns], first_upper), 0.0)
    stability_upper = np.column_stack([first_upper, below_upper]).ravel()  # above, below
    return LinearProgram(
        layout=layout,
        cost=column_costs(data, layout, options.weights),
        col_lower=np.zeros(layout.col_count),
        col_upper=np.concatenate(
            [data.col_upper_kw, shortfall_upper, fairness_upper, data.share_kw[layout.fairness_guns], stability_upper]
        ),
        row_lower=row_lower,
        row_upper=np.concatenate([rows.upper for rows in families]),
        start=start.astype(np.int32),
        index=row[order].astype(np.int32),
        value=value[order],
    )


def objective_of(lp: LinearProgram, data: ProblemData, power_kw: np.ndarray) -> float:
    """The objective of any plan (LP, repaired or greedy), with its best shortfall and fairness split.

    Equal to the LP's objective at an optimum: shortfall fills its cheapest segments first, the
    fairness reward its richest segments first, the equal-share reward up to the share, and the
    deviations from the held limits are |first-step power - held|.
    """
    layout = lp.layout
    shortfall = data.target_kwh - data.planned_kwh(power_kw)
    width = data.target_kwh / layout.shortfall_segments
    edges = np.arange(layout.shortfall_segments)[None, :] * width[:, None]
    shortfall_fill = np.clip(shortfall[:, None] - edges, 0.0, width[:, None]).ravel()
    first_power = power_kw[layout.fairness_power_cols]
    fair_width = data.col_upper_kw[layout.fairness_power_cols] / layout.fairness_segments
    fair_edges = np.arange(layout.fairness_segments)[None, :] * fair_width[:, None]
    fair_fill = np.clip(first_power[:, None] - fair_edges, 0.0, fair_width[:, None]).ravel()
    share_fill = np.minimum(first_power, data.share_kw[layout.fairness_guns])
    held = np.where(layout.holds, data.held_kw[layout.fairness_guns], first_power)  # else no deviation
    deviation = first_power - held
    deviation_fill = np.column_stack([np.clip(deviation, 0.0, None), np.clip(-deviation, 0.0, None)]).ravel()
    return float(
        lp.cost[: layout.power_count] @ power_kw
        + lp.cost[layout.shortfall_start : layout.fairness_start] @ shortfall_fill
        + lp.cost[layout.fairness_start : layout.share_start] @ fair_fill
        + lp.cost[layout.share_start : layout.stability_start] @ share_fill
        + lp.cost[layout.stability_start :] @ deviation_fill
    )

"""The greedy rule that takes over when the LP cannot answer: it always respects every limit.

Sessions are served by priority, then earliest departure; each asks for its cheapest steps (then
the earliest among equal prices) until its energy is covered. At every (node, step) and phase the
requests are granted in that order while capacity lasts: a request is cut to what is left after
all requests before it, which can never add up to more than the node's limit. A grant that would
leave a gun between 0 and its minimum is dropped. A few passes give capacity left by cut or
dropped requests to the next-cheapest steps. All of it is vectorised over guns and steps.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import ProblemData

_PASSES = 3
_TOL = 1e-9


def greedy_allocation(data: ProblemData) -> np.ndarray:
    """Power per column (kW), within every gun, car, node and phase limit."""
    col_count = len(data.col_gun)
    power = np.zeros(col_count)
    if col_count == 0:
        return power
    rank = np.empty(len(data.sessions), dtype=np.int64)
    rank[np.lexsort((data.departure_s, -data.priority))] = np.arange(len(data.sessions))
    # Within each gun, its columns from cheapest to dearest (earliest first among equals).
    by_price = np.lexsort((data.col_step, data.price_norm[data.col_step], data.col_gun))
    gun_of_sorted = data.col_gun[by_price]
    levels = _level_groups(data, rank[data.col_gun])
    min_kw = data.min_kw[data.col_gun]
    remaining_kwh = data.target_kwh.copy()
    for _ in range(_PASSES):
        room_kwh = (data.col_upper_kw - power)[by_price] * data.col_hours[by_price]
        before = _exclusive_group_cumsum(room_kwh, gun_of_sorted)
        wanted_kwh = np.clip(remaining_kwh[gun_of_sorted] - before, 0.0, room_kwh)
        request_kw = np.zeros(col_count)
        request_kw[by_price] = np.divide(
            wanted_kwh, data.col_hours[by_price], out=np.zeros(col_count), where=data.col_hours[by_price] > 0
        )
        grant_kw = request_kw.copy()
        for level in levels:
            grant_kw = np.minimum(grant_kw, level.cap_kw(request_kw))
        total = power + grant_kw
        grant_kw[(total < min_kw - _TOL) & (grant_kw > 0)] = 0.0
        if not grant_kw.any():
            break
        power += grant_kw
        remaining_kwh -= np.bincount(data.col_gun, weights=grant_kw * data.col_hours, minlength=len(remaining_kwh))
        for level in levels:
            level.consume(grant_kw)
    return power


class _LevelGroup:
    """Columns grouped by their ancestor at one tree level and step, in service order."""

    def __init__(self, data: ProblemData, nodes: np.ndarray, service_rank: np.ndarray) -> None:
        self.cols = np.flatnonzero(nodes >= 0)
        node, step = nodes[self.cols], data.col_step[self.cols]
        order = np.lexsort((service_rank[self.cols], step, node))
        self.cols, self.node, self.step = self.cols[order], node[order], step[order]
        self.group = self.node * data.step_count + self.step
        self.left_kw = data.node_limit_kw.copy()
        self.left_a = data.node_limit_a.copy()
        self.a_per_kw = data.phase_a_per_kw[data.col_gun[self.cols]]

    def cap_kw(self, request_kw: np.ndarray) -> np.ndarray:
        """Largest grant per column that keeps this level's nodes within their limits."""
        cap = np.full(len(request_kw), np.inf)
        requested = request_kw[self.cols]
        before = _exclusive_group_cumsum(requested, self.group)
        local = np.clip(self.left_kw[self.node, self.step] - before, 0.0, None)
        for phase in range(3):
            weight = self.a_per_kw[:, phase]
            before_a = _exclusive_group_cumsum(requested * weight, self.group)
            room_a = np.clip(self.left_a[self.node, phase, self.step] - before_a, 0.0, None)
            local = np.minimum(local, np.divide(room_a, weight, out=np.full(len(weight), np.inf), where=weight > 0))
        cap[self.cols] = local
        return cap

    def consume(self, grant_kw: np.ndarray) -> None:
        granted = grant_kw[self.cols]
        np.subtract.at(self.left_kw, (self.node, self.step), granted)
        for phase in range(3):
            np.subtract.at(self.left_a[:, phase, :], (self.node, self.step), granted * self.a_per_kw[:, phase])


def _level_groups(data: ProblemData, service_rank: np.ndarray) -> list[_LevelGroup]:
    column_nodes = data.gun_ancestors[data.col_gun]
    return [_LevelGroup(data, column_nodes[:, level], service_rank) for level in range(column_nodes.shape[1])]


def _exclusive_group_cumsum(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Sum of the values before each one within its group; groups must be contiguous."""
    running = np.cumsum(values)
    if len(values) == 0:
        return running
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(values)]))
    offset = np.where(group_start > 0, running[group_start - 1], 0.0)
    return running - values - offset

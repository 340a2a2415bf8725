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
    # Within each gun, its columns from cheapest to dearest step (earliest first among equals).
    step_rank = np.empty(data.step_count, dtype=np.int64)
    step_rank[np.lexsort((np.arange(data.step_count), data.price_norm))] = np.arange(data.step_count)
    by_price = np.argsort(data.col_gun * data.step_count + step_rank[data.col_step], kind="stable")
    hours_sorted = data.col_hours[by_price]
    gun_groups = _Groups(data.col_gun[by_price])
    levels = _level_groups(data, rank[data.col_gun])
    min_kw = data.min_kw[data.col_gun]
    remaining_kwh = data.target_kwh.copy()
    for _ in range(_PASSES):
        room_kwh = (data.col_upper_kw - power)[by_price] * hours_sorted
        wanted_kwh = np.clip(remaining_kwh[data.col_gun[by_price]] - gun_groups.before(room_kwh), 0.0, room_kwh)
        request_kw = np.zeros(col_count)
        request_kw[by_price] = np.divide(wanted_kwh, hours_sorted, out=np.zeros(col_count), where=hours_sorted > 0)
        grant_kw = request_kw.copy()
        for level in levels:
            grant_kw = np.minimum(grant_kw, level.cap_kw(request_kw))
        grant_kw[(power + grant_kw < min_kw - _TOL) & (grant_kw > 0)] = 0.0
        if not grant_kw.any():
            break
        power += grant_kw
        remaining_kwh -= np.bincount(data.col_gun, weights=grant_kw * data.col_hours, minlength=len(remaining_kwh))
        for level in levels:
            level.consume(grant_kw)
    return power


class _Groups:
    """Contiguous groups of a sorted array: sums of the values before each one in its group."""

    def __init__(self, keys: np.ndarray) -> None:
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, dtype=np.int64)
        self._start_of = np.repeat(starts, np.diff(np.r_[starts, len(keys)]))

    def before(self, values: np.ndarray) -> np.ndarray:
        running = np.cumsum(values)
        offset = np.where(self._start_of > 0, running[self._start_of - 1], 0.0)
        return running - values - offset


class _LevelGroup:
    """Columns grouped by their ancestor at one tree level and step, in service order."""

    def __init__(self, data: ProblemData, nodes: np.ndarray, service_rank: np.ndarray) -> None:
        cols = np.flatnonzero(nodes >= 0)
        cell = nodes[cols] * data.step_count + data.col_step[cols]  # (node, step) flattened
        order = np.argsort(cell * len(service_rank) + service_rank[cols], kind="stable")
        self.cols, self.cell = cols[order], cell[order]
        self.groups = _Groups(self.cell)
        self.cell_count = data.node_static_kw.size
        self.left_kw = data.node_limit_kw.ravel().copy()
        self.a_per_kw = data.phase_a_per_kw[data.col_gun[self.cols]]
        # Only phases with a finite limit somewhere at this level need checking.
        self.left_a = {
            phase: data.node_limit_a[:, phase, :].ravel().copy()
            for phase in range(3)
            if np.isfinite(data.node_limit_a[:, phase, :].ravel()[self.cell]).any()
        }

    def cap_kw(self, request_kw: np.ndarray) -> np.ndarray:
        """Largest grant per column that keeps this level's nodes within their limits."""
        cap = np.full(len(request_kw), np.inf)
        requested = request_kw[self.cols]
        local = np.clip(self.left_kw[self.cell] - self.groups.before(requested), 0.0, None)
        for phase, left in self.left_a.items():
            weight = self.a_per_kw[:, phase]
            room_a = np.clip(left[self.cell] - self.groups.before(requested * weight), 0.0, None)
            local = np.minimum(local, np.divide(room_a, weight, out=np.full(len(weight), np.inf), where=weight > 0))
        cap[self.cols] = local
        return cap

    def consume(self, grant_kw: np.ndarray) -> None:
        granted = grant_kw[self.cols]
        self.left_kw -= np.bincount(self.cell, weights=granted, minlength=self.cell_count)
        for phase, left in self.left_a.items():
            left -= np.bincount(self.cell, weights=granted * self.a_per_kw[:, phase], minlength=self.cell_count)


def _level_groups(data: ProblemData, service_rank: np.ndarray) -> list[_LevelGroup]:
    column_nodes = data.gun_ancestors[data.col_gun]
    return [_LevelGroup(data, column_nodes[:, level], service_rank) for level in range(column_nodes.shape[1])]

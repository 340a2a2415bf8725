"""Why each gun got what it got, in words a site operator reads.

The reasons are decided for all guns at once (numpy), in order of precedence: its own cap below
its minimum, at its own or the car's maximum, the first node above it at its limit (kW, then each
phase the gun loads), energy already delivered, waiting for cheaper steps, below its minimum, held
at 0, covered. Only the sentences are written gun by gun.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

import numpy as np

from optimizer.problem import ProblemData

_TOL_KW = 1e-4


class Explanations(Mapping[str, str]):
    """Gun id -> its sentence, written on first read: a live loop that only pushes limits never
    pays for thousands of sentences (20 ms at 5,000 guns, an eighth of what `allocate` adds to
    the solve)."""

    def __init__(self, write: Callable[[], dict[str, str]]) -> None:
        self._write: Callable[[], dict[str, str]] | None = write
        self._texts: dict[str, str] = {}

    def _read(self) -> dict[str, str]:
        if self._write is not None:
            self._texts, self._write = self._write(), None  # what it held (the plan's arrays) goes
        return self._texts

    def __getitem__(self, gun_id: str) -> str:
        return self._read()[gun_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._read())

    def __len__(self) -> int:
        return len(self._read())


def explain(data: ProblemData, matrix: np.ndarray, load_kw: np.ndarray, load_a: np.ndarray) -> dict[str, str]:
    """One sentence per gun about its first step in the horizon and its energy."""
    gun_count = len(data.gun_ids)
    has_cols = data.gun_cols[1:] > data.gun_cols[:-1]
    first = np.minimum(data.gun_cols[:-1], max(len(data.col_step) - 1, 0))
    step = data.col_step[first] if len(data.col_step) else np.zeros(gun_count, dtype=np.int64)
    guns = np.arange(gun_count)
    power = matrix[step, guns] if gun_count else np.zeros(0)
    upper = data.col_upper_kw[first] if len(data.col_step) else np.zeros(gun_count)
    node, phase = _binding_nodes(data, step, data.node_static_kw - load_kw, data.node_static_a - load_a)
    best_price = _cheapest_price(data, has_cols)
    planned = data.planned_kwh(matrix[data.col_step, data.col_gun])
    texts = {}
    for g, gun_id in enumerate(data.gun_ids):
        if not has_cols[g]:
            texts[gun_id] = "no step of the horizon falls inside its session"
            continue
        when = "now" if step[g] == 0 else f"from step {step[g]}"
        parts = [f"{power[g]:.2f} kW {when}"]
        parts.append(_reason(data, g, int(step[g]), float(power[g]), float(upper[g]), node[g], phase[g], best_price[g]))
        parts.append(_energy(data.target_kwh[g], planned[g]))
        if data.priority[g] != 1.0:
            parts.append(f"priority {data.priority[g]:g}")
        texts[gun_id] = "; ".join(parts)
    return texts


def _binding_nodes(
    data: ProblemData, step: np.ndarray, headroom_kw: np.ndarray, headroom_a: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per gun, the first node above it with no headroom at its first step (-1: none), and the
    phase that binds there (-1: its kW limit)."""
    gun_count, depth = data.gun_ancestors.shape
    node = np.full(gun_count, -1)
    phase = np.full(gun_count, -1)
    open_ = np.ones(gun_count, dtype=bool)
    for level in range(depth):
        ancestor = data.gun_ancestors[:, level]
        present = open_ & (ancestor >= 0)
        at = np.where(present, ancestor, 0)
        kw_binds = present & (headroom_kw[at, step] <= _TOL_KW)
        phase_binds = present[:, None] & (data.phase_a_per_kw > 0) & (headroom_a[at, :, step] <= _TOL_KW)  # (G, 3)
        binds = kw_binds | phase_binds.any(axis=1)
        node[binds] = ancestor[binds]
        phase[binds & ~kw_binds] = np.argmax(phase_binds[binds & ~kw_binds], axis=1)
        open_ &= ~binds
    return node, phase


def _cheapest_price(data: ProblemData, has_cols: np.ndarray) -> np.ndarray:
    """Per gun, the lowest price over the steps of its window (NaN for a gun without one)."""
    best = np.full(len(has_cols), np.nan)
    if len(data.col_step):
        starts = data.gun_cols[:-1][has_cols]
        best[has_cols] = np.minimum.reduceat(data.prices[data.col_step], starts)
    return best


def _reason(
    data: ProblemData, g: int, step: int, power: float, upper: float, node: int, phase: int, best_price: float
) -> str:
    minimum = data.min_kw[g]
    if upper < minimum - 1e-9 or upper <= _TOL_KW:
        return f"its cap {upper:.2f} kW is below its minimum {minimum:.2f} kW"
    if power >= upper - _TOL_KW:
        return f"at its own or the car's maximum ({upper:.2f} kW)"
    if node >= 0 and phase < 0:
        return f"limited by node {data.node_ids[node]} ({data.node_static_kw[node, step]:.2f} kW)"
    if node >= 0:
        limit = data.node_static_a[node, phase, step]
        return f"limited by node {data.node_ids[node]} on L{phase + 1} ({limit:.1f} A)"
    if data.target_kwh[g] <= _TOL_KW:
        return "its energy is already delivered"
    if data.prices[step] > best_price + 1e-9:
        return f"waits for cheaper steps (price {data.prices[step]:.4g} now, {best_price:.4g} at best)"
    if 0 < power < minimum:
        return "below its minimum"
    if power <= _TOL_KW:
        return f"held at 0: its minimum {minimum:.2f} kW does not fit"
    return "its energy is covered at this rate"


def _energy(wanted: float, planned: float) -> str:
    if wanted <= _TOL_KW:
        return "nothing more wanted"
    if planned >= wanted - 1e-3:
        return f"gets all {wanted:.2f} kWh wanted"
    return f"short {wanted - planned:.2f} of {wanted:.2f} kWh wanted"

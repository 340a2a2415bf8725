"""Why each gun got what it got, in words a site operator reads."""

from __future__ import annotations

import numpy as np

from optimizer.problem import ProblemData

_TOL_KW = 1e-4


def explain(data: ProblemData, matrix: np.ndarray, load_kw: np.ndarray, load_a: np.ndarray) -> dict[str, str]:
    """One sentence per gun about its first step in the horizon and its energy."""
    headroom_kw = data.node_static_kw - load_kw
    headroom_a = data.node_static_a - load_a
    planned = data.planned_kwh(matrix[data.col_step, data.col_gun])
    texts = {}
    for g, gun_id in enumerate(data.gun_ids):
        cols = np.arange(data.gun_cols[g], data.gun_cols[g + 1])
        if len(cols) == 0:
            texts[gun_id] = "no step of the horizon falls inside its session"
            continue
        first = cols[0]
        step = int(data.col_step[first])
        power = float(matrix[step, g])
        when = "now" if step == 0 else f"from step {step}"
        parts = [f"{power:.2f} kW {when}"]
        parts.append(_reason(data, g, first, step, power, cols, headroom_kw, headroom_a))
        parts.append(_energy(data.target_kwh[g], planned[g]))
        if data.priority[g] != 1.0:
            parts.append(f"priority {data.priority[g]:g}")
        texts[gun_id] = "; ".join(parts)
    return texts


def _reason(
    data: ProblemData,
    g: int,
    col: int,
    step: int,
    power: float,
    cols: np.ndarray,
    headroom_kw: np.ndarray,
    headroom_a: np.ndarray,
) -> str:
    upper = float(data.col_upper_kw[col])
    if upper < data.min_kw[g] - 1e-9 or upper <= _TOL_KW:
        return f"its cap {upper:.2f} kW is below its minimum {data.min_kw[g]:.2f} kW"
    if power >= upper - _TOL_KW:
        return f"at its own or the car's maximum ({upper:.2f} kW)"
    for node in data.gun_ancestors[g]:
        if node < 0:
            continue
        if headroom_kw[node, step] <= _TOL_KW:
            return f"limited by node {data.node_ids[node]} ({data.node_static_kw[node, step]:.2f} kW)"
        for phase in range(3):
            if data.phase_a_per_kw[g, phase] > 0 and headroom_a[node, phase, step] <= _TOL_KW:
                limit = data.node_static_a[node, phase, step]
                return f"limited by node {data.node_ids[node]} on L{phase + 1} ({limit:.1f} A)"
    if data.target_kwh[g] <= _TOL_KW:
        return "its energy is already delivered"
    prices = data.prices[data.col_step[cols]]
    if data.prices[step] > prices.min() + 1e-9:
        return f"waits for cheaper steps (price {data.prices[step]:.4g} now, {prices.min():.4g} at best)"
    if 0 < power < data.min_kw[g]:
        return "below its minimum"
    if power <= _TOL_KW:
        return f"held at 0: its minimum {data.min_kw[g]:.2f} kW does not fit"
    return "its energy is covered at this rate"


def _energy(wanted: float, planned: float) -> str:
    if wanted <= _TOL_KW:
        return "nothing more wanted"
    if planned >= wanted - 1e-3:
        return f"gets all {wanted:.2f} kWh wanted"
    return f"short {wanted - planned:.2f} of {wanted:.2f} kWh wanted"

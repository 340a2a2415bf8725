"""Failsafe limits: what each gun may draw while nobody steers it, within every limit of the site.

A station keeps its tx default profile (and its station cap) when gridcharge dies or loses it, so
these limits must hold together, for every gun that may draw at once, for as long as they may stay
in force. They are computed from the site alone (no sessions): every considered gun is assumed to
draw all it is given, in its worst case per phase (`Gun.phase_current_a_per_kw(None)`: a car of
unknown phases, as the optimizer reckons it).

The rule, with each gun's own ceiling `cap` (rating, and its own limit series) and minimum `min`:
1. Admission: guns are taken by increasing minimum (ties by gun id) and each is admitted if its
   minimum fits beside the minimums already admitted at every node, in kW and on every phase. The
   others get 0: a limit between 0 and a gun's minimum would stop the car anyway. With kW limits
   only (a laminar family of one-dimensional limits) this admits the most guns possible: swapping
   an admitted gun for a larger one never frees room; with phase limits it is a heuristic.
2. Water-filling: one level (kW) rises from 0; each admitted gun holds
   `clip(level, min, cap)`. When a node's kW or phase limit is reached, every gun loading it stops
   rising; the others go on until each is stopped or at its cap. This is max-min fair: no gun can
   get more without a node breaking or a gun with no more than it getting less.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from models import Gun, GunKind, LimitNode, LimitSeries, Site, SnapshotError
from models.site import PHASES
from models.units import power_to_current_a

_TOL = 1e-9


@dataclass(frozen=True)
class FallbackLimits:
    """Per considered gun, its failsafe limit in kW, and in A per phase for AC guns.

    `kw`: every considered gun (0 where its minimum does not fit). `a`: AC guns only, the current
    on each phase the gun has (`kw` spread over `gun.phases` at its voltage); a DC station is
    steered in watts. `valid_until`: the end of the window the limits were computed for (None when
    computed without `now`); recompute before it, as when stations join or leave or a limit changes.
    """

    kw: dict[str, float]
    a: dict[str, float]
    valid_until: datetime | None

    def station_kw(self, site: Site) -> dict[str, float]:
        """Per station with a considered gun, the sum of its guns' limits: its station cap (kW)."""
        guns = site.guns()
        totals: dict[str, float] = defaultdict(float)
        for gun_id, limit_kw in self.kw.items():
            totals[guns[gun_id].station_id] += limit_kw
        return dict(totals)

    def to_frame(self) -> pd.DataFrame:
        """One row per gun (index `gun`): `limit_kw`, `limit_a` (NaN for DC guns)."""
        return pd.DataFrame(
            {"limit_kw": pd.Series(self.kw, dtype=float), "limit_a": pd.Series(self.a, dtype=float)},
            index=pd.Index(list(self.kw), name="gun"),
        )


def fallback_limits(
    site: Site,
    gun_ids: Collection[str] | None = None,
    limit_series: Mapping[str, LimitSeries] | None = None,
    now: datetime | None = None,
    hold: timedelta = timedelta(hours=24),
) -> FallbackLimits:
    """Failsafe limits for `gun_ids` (default: every gun of the site) that fit the site together.

    `gun_ids` must hold every gun that may draw on a fallback: those of connected stations and
    also those of stations that lost their connection but still hold the fallback they were sent
    (a gun left out gets no limit here and is assumed to draw nothing). A node's limit is the
    smallest that may be in force during `[now, now + hold)`: its static limit and every step of
    its series (keyed by node or gun id, as in a snapshot) overlapping that window, in kW and in A
    per phase. Without `now` every step of a series counts.
    """
    if hold <= timedelta(0):
        raise ValueError(f"hold must be positive, not {hold}")
    if now is not None and now.utcoffset() is None:
        raise ValueError("now must be time-zone aware")
    series = dict(limit_series or {})
    all_guns = site.guns()
    nodes = site.nodes()
    unknown = [key for key in series if key not in nodes and key not in all_guns]
    if unknown:
        raise SnapshotError(f"limit series for unknown nodes {sorted(unknown)}")
    chosen = sorted(all_guns if gun_ids is None else set(gun_ids))
    missing = [gun_id for gun_id in chosen if gun_id not in all_guns]
    if missing:
        raise SnapshotError(f"fallback limits asked for unknown guns {missing}")
    window_s = (-math.inf, math.inf) if now is None else (now.timestamp(), (now + hold).timestamp())
    guns = [all_guns[gun_id] for gun_id in chosen]
    coefficient, limit = _node_rows(site, guns, series, window_s)
    minimum_kw = np.array([gun.min_kw(None) for gun in guns])
    cap_kw = np.array([_gun_cap_kw(gun, series.get(gun.id), window_s) for gun in guns])
    admitted = _admit(coefficient, limit, minimum_kw, cap_kw, chosen)
    power_kw = _water_fill(coefficient, limit, minimum_kw, cap_kw, admitted)
    kw = {gun.id: float(value) for gun, value in zip(guns, power_kw, strict=True)}
    a = {gun.id: power_to_current_a(kw[gun.id], gun.voltage_v, gun.phases) for gun in guns if gun.kind is GunKind.AC}
    valid_until = None if now is None else now + hold
    return FallbackLimits(kw=kw, a=a, valid_until=valid_until)


def _smallest_in_window(
    series: LimitSeries | None, static_kw: float | None, static_a: float | None, window_s: tuple[float, float]
) -> tuple[float, float]:
    """The smallest kW and per-phase A limits among the static ones and the steps overlapping the window.

    The static limit counts even where a series step covers the whole window: a fallback outlives
    its window when nobody is left to recompute it, and then the static limit holds again.
    """
    limits_kw = [static_kw]
    limits_a = [static_a]
    begin_s, end_s = window_s
    for step in series.steps if series is not None else []:
        if step.start.timestamp() < end_s and step.end.timestamp() > begin_s:
            limits_kw.append(step.limit_kw)
            limits_a.append(step.limit_a)
    return (
        min((value for value in limits_kw if value is not None), default=math.inf),
        min((value for value in limits_a if value is not None), default=math.inf),
    )


def _node_rows(
    site: Site, guns: list[Gun], series: Mapping[str, LimitSeries], window_s: tuple[float, float]
) -> tuple[np.ndarray, np.ndarray]:
    """Limits as rows `coefficient @ power_kw <= limit`: per limited node, one kW row, one row per phase.

    Rows that no considered gun loads are left out.
    """
    column = {gun.id: g for g, gun in enumerate(guns)}
    a_per_kw = [gun.phase_current_a_per_kw(None) for gun in guns]
    rows: list[np.ndarray] = []
    limits: list[float] = []

    def visit(node: LimitNode) -> list[int]:
        under = [column[gun.id] for gun in node.guns if gun.id in column]
        for child in node.children:
            under += visit(child)
        limit_kw, limit_a = _smallest_in_window(series.get(node.id), node.limit_kw, node.limit_a, window_s)
        if under and math.isfinite(limit_kw):
            row = np.zeros(len(guns))
            row[under] = 1.0
            rows.append(row)
            limits.append(limit_kw)
        if under and math.isfinite(limit_a):
            for phase in PHASES:
                row = np.zeros(len(guns))
                row[under] = [a_per_kw[g][phase] for g in under]
                if row.any():
                    rows.append(row)
                    limits.append(limit_a)
        return under

    visit(site.root)
    coefficient = np.vstack(rows) if rows else np.zeros((0, len(guns)))
    return coefficient, np.array(limits, dtype=float)


def _gun_cap_kw(gun: Gun, series: LimitSeries | None, window_s: tuple[float, float]) -> float:
    """The gun's rating, lowered by its own series; its A limit taken on its most loaded phase."""
    limit_kw, limit_a = _smallest_in_window(series, None, None, window_s)
    worst_a_per_kw = max(gun.phase_current_a_per_kw(None).values())
    return min(gun.max_kw(None), limit_kw, limit_a / worst_a_per_kw)


def _admit(
    coefficient: np.ndarray, limit: np.ndarray, minimum_kw: np.ndarray, cap_kw: np.ndarray, gun_ids: list[str]
) -> np.ndarray:
    """Which guns get at least their minimum: by increasing minimum, then gun id, while it fits."""
    admitted = np.zeros(len(gun_ids), dtype=bool)
    load = np.zeros(len(limit))
    for g in sorted(range(len(gun_ids)), key=lambda g: (minimum_kw[g], gun_ids[g])):
        if cap_kw[g] < minimum_kw[g] - _TOL:
            continue
        with_gun = load + coefficient[:, g] * minimum_kw[g]
        if np.all(with_gun <= limit + _TOL):
            admitted[g] = True
            load = with_gun
    return admitted


def _water_fill(
    coefficient: np.ndarray, limit: np.ndarray, minimum_kw: np.ndarray, cap_kw: np.ndarray, admitted: np.ndarray
) -> np.ndarray:
    """Raise one level from 0, each admitted gun at `clip(level, minimum, cap)`, stopping guns at full rows.

    Each pass moves the level to the next event (a gun's minimum or cap, or a row reaching its
    limit), so it ends after at most two passes per gun plus one per row.
    """
    low = np.where(admitted, minimum_kw, 0.0)
    high = np.where(admitted, np.maximum(cap_kw, minimum_kw), 0.0)
    power = low.copy()
    stopped = ~admitted
    level = 0.0
    while True:
        load = coefficient @ power
        full = load >= limit - _TOL
        stopped |= (coefficient[full] > 0).any(axis=0) | (power >= high - _TOL)
        free = ~stopped
        if not free.any():
            return power
        rising = free & (low <= level) & (level < high)
        breaks = np.concatenate([low[free & (low > level)], high[free & (high > level)]])
        next_level = float(breaks.min())
        slope = coefficient[:, rising].sum(axis=1)
        hit = slope > 0
        if hit.any():
            next_level = min(next_level, level + float(((limit[hit] - load[hit]) / slope[hit]).min()))
        level = next_level
        power[free] = np.clip(level, low[free], high[free])

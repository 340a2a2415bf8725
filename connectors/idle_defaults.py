"""What an idle gun's tx default may allow while the plans of the others use the site's room (pure).

A car plugged into a gun with no session draws up to that gun's tx default until the run its
plug-in triggers has pushed the new plans. So at every instant

    (sum of the plans pushed to the active guns) + (sum of the idle guns' tx defaults) <= each node's limit,

and the idle guns' tx defaults are cut to what the plans leave: the smallest headroom of each node
(`Allocation.headroom_kw`, `headroom_a`) over the steps a pushed plan may be in force, shared
among the idle guns by the same max-min fair rule as the fallbacks (`optimizer.fallback_limits`),
never above a gun's own fallback. Idle guns that cannot be steered (their station refuses
profiles, or is away) keep what they hold: the plan reserves that as load (`snapshots`).

A gun with a session gets no more than the least its own plan gives it over the same steps
(`active_gun_limits`): should its car leave and another plug in before the next run, the new car
takes what the plan counted on for that gun, no more.

When the service dies the plans end and the tx defaults alone remain: none above its gun's
fallback, and the fallbacks fit the site together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta

import pandas as pd

from models import Allocation, LimitNode, Site
from optimizer.fallback_limits import fallback_limits


def idle_gun_limits(
    site: Site,
    allocation: Allocation,
    steered_kw: Mapping[str, float],
    window: tuple[datetime, datetime],
    step: timedelta,
) -> dict[str, float]:
    """Per idle gun that can be steered (keys of `steered_kw`: its own fallback), its tx default in kW.

    `window`: when the plans just pushed may be in force ([now, now + profile hold)); steps of
    `step` overlapping it count.
    """
    if not steered_kw:
        return {}
    in_window = _steps_in(allocation.headroom_kw.index, window, step)
    if not in_window.any():
        return dict(steered_kw)  # no plan in force: the fallbacks fit by themselves
    room_kw = allocation.headroom_kw[in_window].min()
    room_a = allocation.headroom_a[in_window].min()
    roomy = site.model_copy(update={"root": _with_room(site.root, room_kw, room_a)})
    shares = fallback_limits(roomy, gun_ids=list(steered_kw)).kw
    return {gun_id: min(fallback_kw, shares[gun_id]) for gun_id, fallback_kw in steered_kw.items()}


def active_gun_limits(allocation: Allocation, window: tuple[datetime, datetime], step: timedelta) -> dict[str, float]:
    """Per gun with a session in `allocation`, the least the plan gives it over the steps of `window`.

    Its tx default at most this keeps a car that plugs in as soon as the gun's car left within
    what the plan counted on for that gun (the others hold their plans meanwhile).
    """
    in_window = _steps_in(allocation.power_kw.index, window, step)
    if not in_window.any():
        return {}
    least = allocation.power_kw[in_window.to_numpy()].min()
    return {str(gun_id): max(0.0, float(kw)) for gun_id, kw in least.items()}


def _steps_in(starts: pd.Index, window: tuple[datetime, datetime], step: timedelta) -> pd.Series:
    begin, end = (pd.Timestamp(instant) for instant in window)
    index = pd.DatetimeIndex(starts)
    return pd.Series((index < end) & (index + step > begin), index=starts)


def _with_room(node: LimitNode, room_kw: pd.Series, room_a: pd.Series) -> LimitNode:
    """`node` and its subtree with each limit replaced by the room the plan leaves (None: no such limit)."""
    return node.model_copy(
        update={
            "limit_kw": _room(room_kw.get(node.id)),
            "limit_a": _room(room_a.get(node.id)),
            "children": [_with_room(child, room_kw, room_a) for child in node.children],
        }
    )


def _room(headroom: float | None) -> float | None:
    if headroom is None or not math.isfinite(headroom):
        return None
    return max(0.0, headroom)

"""Hypothesis strategies for failsafe limits: a random site, the guns that may draw, limit series.

Built on `tests/strategies.py`: its sites (kW and per-phase limits, AC 1- and 3-phase guns on any
phase, W or A, and DC guns) and its limit series, placed around a window `[now, now + hold)` short
enough that some steps fall outside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hypothesis import strategies as st

from models import LimitSeries, Site
from tests.strategies import BASE, limit_series, sites


@dataclass(frozen=True)
class FallbackCase:
    """The arguments of one `fallback_limits` call."""

    site: Site
    gun_ids: list[str] | None
    limit_series: dict[str, LimitSeries]
    now: datetime | None
    hold: timedelta


@st.composite
def fallback_cases(draw: st.DrawFn) -> FallbackCase:
    """Any site; all its guns or a subset, in any order; series on some nodes and guns; maybe no `now`."""
    site = draw(sites())
    now = BASE + timedelta(minutes=5 * draw(st.integers(0, 12 * 24 * 30)))
    hold = timedelta(minutes=draw(st.sampled_from([30, 60, 180])))
    series: dict[str, LimitSeries] = {}
    for target in [*site.nodes(), *site.guns()]:
        if draw(st.integers(0, 2)) == 0:
            series[target] = draw(limit_series(now, hold))
    gun_ids: list[str] | None = None
    if draw(st.booleans()):
        gun_ids = draw(st.permutations(sorted(site.guns())))
        gun_ids = gun_ids[: draw(st.integers(0, len(gun_ids)))]
    return FallbackCase(
        site=site,
        gun_ids=gun_ids,
        limit_series=series,
        now=draw(st.one_of(st.just(now), st.just(now), st.none())),
        hold=hold,
    )

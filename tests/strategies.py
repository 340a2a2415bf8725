"""Hypothesis strategies for random sites, sessions, signals and snapshots.

Sizes stay small (a tree of depth 3 with at most about fifteen guns, at most eight steps), so that
hundreds of LPs solve in seconds. Amounts are drawn on a 0.1 grid: that shrinks to readable
counterexamples and still hits every boundary (0, exactly the minimum, exactly the limit).
All datetimes are built in absolute time (UTC arithmetic); `now` may carry a fixed offset.
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from models import (
    Gun,
    GunKind,
    LimitNode,
    LimitSeries,
    LimitStep,
    PriceSeries,
    PriceStep,
    RateUnit,
    Session,
    Site,
    SiteSnapshot,
)
from optimizer import OptimizerOptions

MAX_DEPTH = 3
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def amounts(low: float, high: float, resolution: float = 0.1) -> st.SearchStrategy[float]:
    """Numbers from `low` to `high` on a grid of `resolution` (both ends included)."""
    steps = round((high - low) / resolution)
    return st.integers(0, steps).map(lambda k: round(low + k * resolution, 6))


def optional(strategy: st.SearchStrategy, none_weight: int = 1, some_weight: int = 2) -> st.SearchStrategy:
    return st.one_of(*([st.none()] * none_weight), *([strategy] * some_weight))


@st.composite
def guns(draw: st.DrawFn, station_id: str, evse_id: int = 1) -> Gun:
    """An AC gun (1 or 3 phases, any wiring, W or A) or a DC gun, always valid."""
    rate_unit = draw(st.sampled_from([None, RateUnit.W, RateUnit.A]))
    if draw(st.integers(0, 3)) == 0:
        max_power_kw = draw(amounts(10, 150, 1))
        return Gun(
            station_id=station_id,
            evse_id=evse_id,
            kind=GunKind.DC,
            max_power_kw=max_power_kw,
            min_power_kw=draw(amounts(0, 5)),
            rate_unit=rate_unit,
        )
    phases = draw(st.sampled_from([1, 3]))
    max_power_kw = draw(amounts(1.5, 7.4) if phases == 1 else amounts(4.2, 22.1))
    ceiling_a = max_power_kw * 1000 / (230.0 * phases)
    min_current_a = draw(st.sampled_from([6.0, 6.0, 6.0, 0.0, 8.0, 10.0]).filter(lambda a: a <= ceiling_a))
    return Gun(
        station_id=station_id,
        evse_id=evse_id,
        kind=GunKind.AC,
        max_power_kw=max_power_kw,
        phases=phases,
        phase=draw(st.sampled_from(["L1", "L2", "L3"])),
        min_current_a=min_current_a,
        rate_unit=rate_unit,
    )


@st.composite
def limit_nodes(draw: st.DrawFn, depth: int = 1, counter: itertools.count | None = None) -> LimitNode:
    """A node with optional kW and per-phase A limits, guns, and (above depth 3) children."""
    counter = counter if counter is not None else itertools.count()
    node_id = "grid" if depth == 1 else f"n{next(counter)}"
    node_guns: list[Gun] = []
    for _ in range(draw(st.integers(0, 3 if depth == 1 else 2))):
        station = f"S{next(counter)}"
        node_guns.append(draw(guns(station)))
        if draw(st.integers(0, 4)) == 0:  # a second EVSE on the same station
            node_guns.append(draw(guns(station, 2)))
    children = []
    if depth < MAX_DEPTH:
        for _ in range(draw(st.integers(0, 2))):
            children.append(draw(limit_nodes(depth + 1, counter)))
    return LimitNode(
        id=node_id,
        limit_kw=draw(optional(amounts(0, 120, 0.5))),
        limit_a=draw(optional(amounts(0, 200, 0.5), none_weight=2, some_weight=1)),
        children=children,
        guns=node_guns,
    )


def sites() -> st.SearchStrategy[Site]:
    return limit_nodes().map(lambda root: Site(id="site", root=root))


@st.composite
def sessions(draw: st.DrawFn, gun: Gun, now: datetime, horizon: timedelta) -> Session:
    """A session arriving before or inside the horizon (sometimes after it), of any shape."""
    horizon_min = int(horizon.total_seconds() // 60)
    arrival = now + timedelta(minutes=draw(st.integers(-300, horizon_min + 30)))
    departure = arrival + timedelta(minutes=draw(st.integers(1, 600)))
    return Session(
        gun_id=gun.id,
        arrival=arrival,
        departure=departure,
        energy_requested_kwh=draw(optional(amounts(0, 80, 0.5), 1, 3)),
        energy_delivered_kwh=draw(st.one_of(st.just(0.0), amounts(0, 40, 0.5))),
        observed_power_kw=draw(optional(amounts(0, 50))),
        offered_power_kw=draw(optional(amounts(0, 60))),
        ev_phases=draw(st.sampled_from([None, 1, 3])),
        ev_max_power_kw=draw(optional(amounts(1, 150, 0.5), 2, 1)),
        priority=draw(st.sampled_from([0.01, 0.5, 1.0, 1.0, 1.0, 2.0, 5.0, 100.0])),
        controllable=draw(st.integers(0, 4)) > 0,
    )


@st.composite
def limit_series(draw: st.DrawFn, now: datetime, horizon: timedelta) -> LimitSeries:
    """One to three limit steps (kW, A or both), with gaps, that may cover the horizon partly."""
    horizon_min = int(horizon.total_seconds() // 60)
    cursor = now + timedelta(minutes=draw(st.integers(-60, horizon_min)))
    steps = []
    for _ in range(draw(st.integers(1, 3))):
        cursor += timedelta(minutes=draw(st.sampled_from([0, 0, 7, 30])))
        end = cursor + timedelta(minutes=draw(st.integers(1, 120)))
        limit_kw = draw(optional(amounts(0, 100, 0.5)))
        limit_a = draw(optional(amounts(0, 150, 0.5), 2, 1))
        if limit_kw is None and limit_a is None:
            limit_kw = draw(amounts(0, 100, 0.5))
        steps.append(LimitStep(start=cursor, end=end, limit_kw=limit_kw, limit_a=limit_a))
        cursor = end
    return LimitSeries(steps=steps)


@st.composite
def price_series(draw: st.DrawFn, now: datetime, horizon: timedelta) -> PriceSeries:
    horizon_min = int(horizon.total_seconds() // 60)
    cursor = now + timedelta(minutes=draw(st.integers(-60, 30)))
    steps = []
    for _ in range(draw(st.integers(1, 6))):
        cursor += timedelta(minutes=draw(st.sampled_from([0, 0, 0, 20])))
        end = cursor + timedelta(minutes=draw(st.sampled_from([15, 30, 60, 60, max(horizon_min, 1)])))
        steps.append(PriceStep(start=cursor, end=end, price_per_kwh=draw(amounts(-0.2, 1.0, 0.01))))
        cursor = end
    return PriceSeries(steps=steps)


@st.composite
def snapshots(draw: st.DrawFn) -> SiteSnapshot:
    """A random site with random sessions, limit series and tariff at a random `now`."""
    site = draw(sites())
    offset = draw(st.sampled_from([0, 0, 60, -300, 330]))
    now_utc = BASE + timedelta(minutes=5 * draw(st.integers(0, 366 * 24 * 12)))
    now = now_utc.astimezone(timezone(timedelta(minutes=offset)))
    step = timedelta(minutes=draw(st.sampled_from([5, 15, 15, 30, 60])))
    count = draw(st.integers(1, 8))
    step_min = int(step.total_seconds() // 60)
    short_by = timedelta(minutes=draw(st.integers(0, step_min - 1))) if count > 1 else timedelta()
    horizon = step * count - short_by
    all_guns = list(site.guns().values())
    chosen = [gun for gun in all_guns if draw(st.integers(0, 4)) > 0]
    session_list = [draw(sessions(gun, now, horizon)) for gun in chosen]
    series: dict[str, LimitSeries] = {}
    for target in [*site.nodes(), *site.guns()]:
        if draw(st.integers(0, 3)) == 0:
            series[target] = draw(limit_series(now, horizon))
    return SiteSnapshot(
        site=site,
        now=now,
        sessions=session_list,
        limit_series=series,
        tariff=draw(optional(price_series(now, horizon), 1, 2)),
        horizon=horizon,
        step=step,
        default_energy_kwh=draw(amounts(0, 40, 0.5)),
    )


@st.composite
def options(draw: st.DrawFn) -> OptimizerOptions:
    return OptimizerOptions(
        method=draw(st.sampled_from(["simplex", "simplex", "ipm"])),
        uncontrolled_reserve=draw(st.sampled_from(["max", "observed"])),
    )

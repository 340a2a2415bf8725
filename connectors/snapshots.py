"""From the store and the live state to the optimizer's `SiteSnapshot`: `read_inputs` reads, the rest is pure.

A session's facts come, in this order, from the REST API's override, what the car told (2.0.1
charging needs), and the site defaults. A car is judged to draw less than it was offered only by a
sample received `follow` after it accepted its new limit. A gun is steered only while its
station is connected and takes profiles; otherwise it is reserved as uncontrolled, with or without
a car (a car may plug into an idle one and draw what its station allows, unasked).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.settings import OptimizerSection, SessionDefaults
from connectors.state import GunState, LiveState
from connectors.store.protocol import SessionOverride, Store, Tariff
from models import LimitSeries, PriceSeries, Session, Site, SiteSnapshot, TimeOfUseTariff


@dataclass(frozen=True)
class SnapshotInputs:
    """What a run read from the store for one site."""

    site: Site
    limit_series: dict[str, LimitSeries]
    tariff: Tariff | None
    overrides: dict[str, SessionOverride]


async def read_inputs(store: Store, state: LiveState, site_id: str) -> SnapshotInputs | None:
    """What a run reads from the store for `site_id` (None: the site is gone); overrides of live sessions only."""
    site = await store.get_site(site_id)
    if site is None:
        return None
    session_ids = [
        gun.session.transaction_id
        for gun_id in site.guns()
        if (gun := state.guns.get(gun_id)) is not None and gun.session is not None
    ]
    return SnapshotInputs(
        site=site,
        limit_series=series_in_tree(site, await store.get_limit_series(site_id)),
        tariff=await store.get_tariff(site_id),
        overrides=await store.get_session_overrides(session_ids),
    )


def series_in_tree(site: Site, series: Mapping[str, LimitSeries]) -> dict[str, LimitSeries]:
    """The series of nodes and guns in the site's tree. A series stays stored when a replaced site
    drops its node (the node may come back), but it no longer applies."""
    known = site.nodes().keys() | site.guns().keys()
    return {node_id: steps for node_id, steps in series.items() if node_id in known}


def price_series(tariff: Tariff | None, site: Site, now: datetime, horizon: timedelta) -> PriceSeries | None:
    """The tariff over the horizon: a time-of-use tariff becomes hourly prices in the site's time."""
    if isinstance(tariff, TimeOfUseTariff):
        return tariff.to_price_series(now, now + horizon, site.timezone)
    return tariff


def build_snapshot(
    inputs: SnapshotInputs,
    state: LiveState,
    now: datetime,
    optimizer: OptimizerSection,
    defaults: SessionDefaults,
    follow: timedelta,
    idle_reserved_kw: Mapping[str, float] | None = None,
) -> SiteSnapshot:
    """`idle_reserved_kw`: idle guns that cannot be steered, held as load at what a car plugged in may draw."""
    sessions = [
        session_of(state, gun_state, inputs.overrides, now, defaults, follow, optimizer.step)
        for gun_id in inputs.site.guns()
        if (gun_state := state.guns.get(gun_id)) is not None and gun_state.session is not None
    ]
    sessions += [
        Session(
            gun_id=gun_id,
            arrival=now,
            departure=now + optimizer.horizon,
            ev_max_power_kw=reserved_kw,
            controllable=False,
        )
        for gun_id, reserved_kw in (idle_reserved_kw or {}).items()
        if reserved_kw > 0
    ]
    return SiteSnapshot(
        site=inputs.site,
        now=now,
        sessions=sessions,
        limit_series=inputs.limit_series,
        tariff=price_series(inputs.tariff, inputs.site, now, optimizer.horizon),
        horizon=optimizer.horizon,
        step=optimizer.step,
        default_energy_kwh=defaults.energy_kwh,
    )


def session_of(
    state: LiveState,
    gun: GunState,
    overrides: Mapping[str, SessionOverride],
    now: datetime,
    defaults: SessionDefaults,
    follow: timedelta,
    step: timedelta,
) -> Session:
    """The optimizer's view of the session on `gun` (which has one)."""
    live = gun.session
    assert live is not None
    override = overrides.get(live.transaction_id)
    departure = (override and override.departure) or live.departure or live.arrival + timedelta(seconds=defaults.stay_s)
    energy_kwh = override.energy_requested_kwh if override and override.energy_requested_kwh is not None else None
    priority = override.priority if override and override.priority is not None else defaults.priority
    held = gun.held
    received_at = gun.sample_received_at
    measured_after_limit = held is not None and received_at is not None and received_at >= held.accepted_at + follow
    return Session(
        gun_id=gun.gun_id,
        session_id=live.transaction_id,
        arrival=min(live.arrival, now),
        departure=max(departure, now + step),  # a car still plugged in past its departure stays a step more
        energy_requested_kwh=energy_kwh if energy_kwh is not None else live.energy_requested_kwh,
        energy_delivered_kwh=live.energy_delivered_kwh,
        observed_power_kw=gun.power_kw if measured_after_limit else None,
        offered_power_kw=held.limit_kw if held is not None and measured_after_limit else None,
        held_limit_kw=held.kw_at(now) if held is not None and (held.until is None or now < held.until) else None,
        ev_max_power_kw=live.ev_max_power_kw,
        priority=priority,
        controllable=uncontrolled_reason(state, gun.gun_id) is None,
    )


def uncontrolled_reason(state: LiveState, gun_id: str) -> str | None:
    """Why the service cannot steer `gun_id` now; None when it can."""
    station = state.stations.get(gun_id.rsplit("/", 1)[0])
    if station is None or not station.connected:
        return "station not connected"
    if station.capabilities is not None and not station.capabilities.smart_charging:
        return "the station does no smart charging"
    return station.uncontrolled_reason(gun_id)

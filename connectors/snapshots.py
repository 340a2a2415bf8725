"""From the store and the live state to the optimizer's `SiteSnapshot` (pure: no I/O, `now` given).

A session's facts come, in this order, from the REST API's override, what the car told (2.0.1
charging needs), and the site defaults. A car is judged to draw less than it was offered only by a
sample received `follow` after it accepted its new limit. A gun is steered only while its
station is connected and takes profiles; otherwise it is reserved as uncontrolled.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.settings import OptimizerSection, SessionDefaults
from connectors.state import GunState, LiveState
from connectors.store.protocol import SessionOverride, Tariff
from models import LimitSeries, PriceSeries, Session, Site, SiteSnapshot, TimeOfUseTariff


@dataclass(frozen=True)
class SnapshotInputs:
    """What a run read from the store for one site."""

    site: Site
    limit_series: dict[str, LimitSeries]
    tariff: Tariff | None
    overrides: dict[str, SessionOverride]


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
) -> SiteSnapshot:
    sessions = [
        session_of(state, gun_state, inputs.overrides, now, defaults, follow, optimizer.step)
        for gun_id in inputs.site.guns()
        if (gun_state := state.guns.get(gun_id)) is not None and gun_state.session is not None
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

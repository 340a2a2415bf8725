"""The live state as the REST API reads it (`connectors.runtime` views); pure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from connectors.runtime import GunView, SessionView, StationView
from connectors.settings import SessionDefaults
from connectors.snapshots import session_of, uncontrolled_reason
from connectors.state import LiveState
from connectors.store.protocol import SessionOverride
from models import Gun, LimitSeries, Site


def station_view(
    station_id: str,
    site_id: str,
    guns: list[Gun],
    state: LiveState,
    fallback_kw: Callable[[str], float | None],
    now: datetime,
) -> StationView:
    station = state.stations.get(station_id)
    return StationView(
        station_id=station_id,
        site_id=site_id,
        connected=station is not None and station.connected,
        ocpp_version=station.ocpp_version if station is not None else None,
        guns=[gun_view(gun.id, state, fallback_kw, now) for gun in guns],
        offline_fallback=station.offline_fallback if station is not None else None,
    )


def gun_view(gun_id: str, state: LiveState, fallback_kw: Callable[[str], float | None], now: datetime) -> GunView:
    gun = state.guns.get(gun_id)
    reason = uncontrolled_reason(state, gun_id)
    if gun is None:
        return GunView(gun_id, None, None, None, None, fallback_kw(gun_id), None, None, reason is None, reason)
    return GunView(
        gun_id=gun_id,
        status=gun.status,
        session_id=gun.session.transaction_id if gun.session is not None else None,
        power_kw=gun.power_kw,
        limit_kw=gun.held.kw_at(now) if gun.held is not None else None,
        fallback_limit_kw=fallback_kw(gun_id),
        last_profile_id=gun.last_profile_id,
        last_profile_accepted=gun.last_profile_accepted,
        controllable=reason is None,
        uncontrolled_reason=reason,
    )


def session_views(
    site: Site,
    state: LiveState,
    overrides: Mapping[str, SessionOverride],
    now: datetime,
    defaults: SessionDefaults,
    follow: timedelta,
    step: timedelta,
) -> list[SessionView]:
    views = []
    for gun_id in site.guns():
        gun = state.guns.get(gun_id)
        if gun is None or gun.session is None:
            continue
        session = session_of(state, gun, overrides, now, defaults, follow, step)
        views.append(
            SessionView(
                session_id=gun.session.transaction_id,
                gun_id=gun_id,
                arrival=session.arrival,
                departure=session.departure,
                energy_requested_kwh=(
                    defaults.energy_kwh if session.energy_requested_kwh is None else session.energy_requested_kwh
                ),
                energy_delivered_kwh=session.energy_delivered_kwh,
                power_kw=gun.power_kw,
                priority=session.priority,
                controllable=session.controllable,
            )
        )
    return views


def limit_now_kw(site: Site, limit_series: Mapping[str, LimitSeries], now: datetime) -> float | None:
    """The grid connection's kW limit in force at `now`: its series step there, else its static limit."""
    series = limit_series.get(site.root.id)
    for step in series.steps if series is not None else []:
        if step.start <= now < step.end and step.limit_kw is not None:
            return step.limit_kw
    return site.root.limit_kw

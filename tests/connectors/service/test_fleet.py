"""End to end: the service steering a fleet of simulated stations over real WebSockets and SQLite."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.app import running_service
from connectors.ocpp.profiles import from_rate
from connectors.simulator.charge_point import SimulatedEv
from connectors.state import LiveState
from models import ProfilePurpose
from tests.connectors.service.fleet import (
    INTERVAL_S,
    TOLERANCE_KW,
    depot,
    fast_settings,
    fleet,
    simulated_stations,
    station_limits_kw,
    totals_over,
    until,
    with_root_limit,
)


def run(scenario: object, timeout_s: float = 40.0) -> None:
    async def bounded() -> None:
        async with asyncio.timeout(timeout_s):
            await scenario  # type: ignore[misc]

    asyncio.run(bounded())


def test_twenty_stations_stay_under_the_limit_and_follow_a_lower_one(tmp_path: Path) -> None:
    site = depot(20, limit_kw=100.0)
    gun_ids = list(site.guns())

    async def scenario() -> None:
        async with running_service(fast_settings(tmp_path, site), api=False) as running:
            state, store = running.runtime.state, running.runtime.store
            async with fleet(running, [f"CP{index:02d}" for index in range(20)]) as stations:
                started = datetime.now(UTC)

                # the fallback each station got at boot: together within the site's limit
                await until(lambda: all(_tx_default_kw(station) is not None for station in stations), 5.0, "fallbacks")
                assert sum(_tx_default_kw(station) or 0.0 for station in stations) <= 100.0 + TOLERANCE_KW

                await until(lambda: all(state.guns[gun].held is not None for gun in gun_ids), 10.0, "every gun steered")
                totals = await totals_over(running, store, gun_ids, started + timedelta(seconds=INTERVAL_S), 4)
                assert max(total for _, total in totals) <= 100.0 + TOLERANCE_KW
                assert max(total for _, total in totals) > 90.0  # the limit is used, not wasted

                # the grid operator lowers the limit to 60 kW
                lowered = datetime.now(UTC)
                await store.put_site(with_root_limit(site, 60.0))
                await running.runtime.site_changed(site.id)

                def within_new_limit() -> bool:
                    return sum(station_limits_kw(stations, datetime.now(UTC))) <= 60.0 + TOLERANCE_KW

                await until(within_new_limit, 2 * INTERVAL_S, "every station holds a profile within 60 kW")
                totals = await totals_over(running, store, gun_ids, datetime.now(UTC) + timedelta(seconds=INTERVAL_S))
                assert max(total for _, total in totals) <= 60.0 + TOLERANCE_KW
                runs = await store.get_runs(site.id, lowered, datetime.now(UTC))
                assert any(run.site_limit_kw == 60.0 for run in runs)

    run(scenario())


def test_a_car_drawing_less_leaves_its_share_to_the_others(tmp_path: Path) -> None:
    site = depot(4, limit_kw=40.0)
    gun_ids = list(site.guns())

    async def scenario() -> None:
        async with running_service(fast_settings(tmp_path, site), api=False) as running:
            state = running.runtime.state
            cars = [SimulatedEv(max_power_kw=22.0) for _ in range(4)]
            async with fleet(running, ["CP00", "CP01", "CP02", "CP03"], cars) as stations:
                await until(lambda: all(state.guns[gun].held is not None for gun in gun_ids), 10.0, "every gun steered")
                # 10 kW each or so (the plan may share unevenly in its first step)
                assert _held_kw(state, gun_ids[0]) > 6.0

                cars[0].max_power_kw = 3.0  # this car now takes 3 kW at most
                # it keeps 3 kW + 10 % + 1 kW of headroom (4.3 kW); the others share the rest
                await until(
                    lambda: _held_kw(state, gun_ids[0]) < 4.5 and sum(_held_kw(state, gun) for gun in gun_ids[1:]) > 35,
                    4 * INTERVAL_S,
                    "its limit falls and the others get the rest",
                )
                assert sum(_held_kw(state, gun) for gun in gun_ids) <= 40.0 + TOLERANCE_KW
                await until(lambda: sum(station.power_kw for station in stations[1:]) > 35.0, 2.0, "and draw it")

    run(scenario())


def test_a_restart_keeps_the_limits_and_steers_the_stations_again(tmp_path: Path) -> None:
    site = depot(6, limit_kw=60.0)
    gun_ids = list(site.guns())
    settings = fast_settings(tmp_path, site)

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            await running.runtime.store.put_site(with_root_limit(site, 30.0))  # given over the API, say
            await running.runtime.site_changed(site.id)
            stations = simulated_stations(running, [f"CP{index:02d}" for index in range(6)])
            await asyncio.gather(*(station.start() for station in stations))
            state = running.runtime.state
            await until(lambda: all(state.guns[gun].held is not None for gun in gun_ids), 10.0, "steered")
        # the service is gone; the stations charge on, under what they hold
        await asyncio.gather(*(station.wait_disconnected() for station in stations))

        async with running_service(settings, api=False) as running:  # the site file still says 60 kW
            state, store = running.runtime.state, running.runtime.store
            stored = await store.get_site(site.id)
            assert stored is not None
            assert stored.root.limit_kw == 30.0
            for station in stations:
                station.url = running.station_url(station.station_id)
            await asyncio.gather(*(station.connect() for station in stations))
            try:
                reconnected = datetime.now(UTC)
                await until(lambda: all(state.guns[gun].held is not None for gun in gun_ids), 10.0, "re-steered")
                assert sum(station_limits_kw(stations, datetime.now(UTC))) <= 30.0 + TOLERANCE_KW
                totals = await totals_over(running, store, gun_ids, reconnected)
                assert max(total for _, total in totals) <= 30.0 + TOLERANCE_KW
            finally:
                await asyncio.gather(*(station.stop() for station in stations))

    run(scenario())


def _tx_default_kw(station: object) -> float | None:
    """The tx default a simulated station holds on EVSE 0, in kW (None: none yet)."""
    from connectors.simulator.charge_point import SimulatedChargePoint

    assert isinstance(station, SimulatedChargePoint)
    for installed in station.store.profiles(0):
        schedule = installed.schedule
        if schedule.purpose is ProfilePurpose.TX_DEFAULT:
            period = schedule.periods[0]
            return from_rate(period.limit, schedule.rate_unit, 230.0, period.number_phases or 3)
    return None


def _held_kw(state: LiveState, gun_id: str) -> float:
    held = state.guns[gun_id].held
    return 0.0 if held is None else held.limit_kw

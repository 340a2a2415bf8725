"""The simulated fleet against the real OCPP endpoint on loopback, and its seeded arrival plan."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from connectors.ocpp.events import (
    MemorySink,
    MeterSampleReceived,
    ProfileAccepted,
    SessionEnded,
    SessionStarted,
    StationBooted,
)
from connectors.ocpp.server import OcppServer, ServerSettings, StationRegistry
from connectors.simulator.arrivals import DAY_STARTS_AT_H, LATEST_ARRIVAL_H, plan_visits, v201_stations
from connectors.simulator.charge_point import SimulatedEv
from connectors.simulator.clock import SimulatedClock
from connectors.simulator.fleet import Fleet, FleetEvent, simple_site
from models import Gun, LimitNode, Site
from tests.connectors.live import until

DAY_START = datetime(2026, 3, 2, 5, 0, tzinfo=UTC)
STATION_LIMIT_KW = 9.0
"""Each station's boot cap (shared among its guns as their tx default): below most cars' maximum."""


def four_stations() -> Site:
    """Three one-gun AC stations and one with two guns: four stations, five guns."""
    guns = [Gun(station_id=f"AC{number}", max_power_kw=22) for number in range(1, 4)]
    guns += [Gun(station_id="TWIN", evse_id=evse_id, max_power_kw=11) for evse_id in (1, 2)]
    return Site(id="lot", root=LimitNode(id="grid", limit_kw=60, guns=guns))


def boot_profiles_accepted(sink: MemorySink) -> int:
    return sum(event.gun_id.endswith("/0") for event in sink.of_type(ProfileAccepted))


def test_the_arrival_plan_is_the_same_under_a_seed_and_looks_like_a_working_day() -> None:
    guns = list(simple_site(40).guns().values())
    plan = plan_visits(guns, DAY_START, seed=7)
    assert plan == plan_visits(reversed(guns), DAY_START, seed=7)
    assert plan != plan_visits(guns, DAY_START, seed=8)
    some = {gun.id for gun in guns[:10]}
    assert plan_visits(guns[:10], DAY_START, seed=7) == [visit for visit in plan if visit.gun_id in some]
    first_visits = {visit.gun_id: visit for visit in reversed(plan)}
    latest = DAY_START + timedelta(hours=LATEST_ARRIVAL_H - DAY_STARTS_AT_H)
    assert len(first_visits) >= 30  # most guns see a car
    assert all(DAY_START < visit.arrival <= latest for visit in first_visits.values())  # the morning
    by_gun: dict[str, list[datetime]] = {}
    for visit in plan:
        assert visit.arrival < visit.departure
        assert visit.energy_wanted_kwh > 0
        car = visit.ev()
        assert car.target_soc <= 0.95 + 1e-9
        by_gun.setdefault(visit.gun_id, []).extend([visit.arrival, visit.departure])
    assert all(times == sorted(times) for times in by_gun.values())  # one car at a time on a gun


def test_the_version_mix_follows_the_share_and_the_seed() -> None:
    stations = [f"S{number}" for number in range(20)]
    assert len(v201_stations(stations, 0.25, seed=1)) == 5
    assert v201_stations(stations, 0.25, seed=1) == v201_stations(reversed(stations), 0.25, seed=1)
    assert v201_stations(stations, 0.0, seed=1) == set()
    with pytest.raises(ValueError, match="share"):
        v201_stations(stations, 1.5, seed=1)


def test_the_simulated_clock_runs_ahead_at_its_speed() -> None:
    clock = SimulatedClock(DAY_START, speed=3600)
    assert clock() >= DAY_START
    assert clock.real_seconds_until(DAY_START) == 0.0
    assert 0.0 < clock.real_seconds_until(DAY_START + timedelta(hours=10)) <= 10.0
    with pytest.raises(ValueError, match="timezone"):
        SimulatedClock(datetime(2026, 3, 2, 6, 0))  # naive: refused


def test_a_battery_car_tapers_near_full_and_stops_there() -> None:
    car = SimulatedEv(max_power_kw=11.0, battery_kwh=50.0, soc=0.5, target_soc=0.9)
    assert car.draw_kw(None) == pytest.approx(11.0)
    assert car.draw_kw(4_000.0) == pytest.approx(4.0)
    car.charge(20.0)  # 0.9
    assert car.full
    assert car.draw_kw(None) == 0.0
    tapering = SimulatedEv(max_power_kw=10.0, battery_kwh=50.0, soc=0.9)
    assert 3.0 < tapering.draw_kw(None) < 10.0
    assert car.room_kwh() == pytest.approx(0.0)


def test_a_fleet_day_runs_sessions_meter_values_and_obeys_the_station_limits() -> None:
    async def scenario() -> None:
        sink = MemorySink()
        site = four_stations()
        settings = ServerSettings(host="127.0.0.1", port=0, fallback_limit_kw=STATION_LIMIT_KW)
        server = OcppServer(sink, StationRegistry(auto_register=True), settings)
        events: list[FleetEvent] = []
        limit_kw = {gun.id: STATION_LIMIT_KW / (2 if gun.station_id == "TWIN" else 1) for gun in site.guns().values()}
        async with server:
            fleet = Fleet(
                site,
                f"ws://127.0.0.1:{server.port}/ocpp/",
                seed=3,
                speed=12_000,
                meter_interval_s=600,
                v201_share=0.5,
                on_event=events.append,
            )
            assert {station.version for station in fleet.stations.values()} == {"1.6", "2.0.1"}
            try:
                await fleet.connect()
                await until(lambda: boot_profiles_accepted(sink) == 2 * len(fleet.stations))  # cap, tx default
                await fleet.start()
                await until(lambda: any(gun.car_present for gun in fleet.state()))
                for gun in fleet.state():
                    assert gun.limit_kw is not None
                    assert 0.95 * limit_kw[gun.gun_id] < gun.limit_kw <= limit_kw[gun.gun_id] + 1e-6
                await fleet.run_for(15)
                assert fleet.day_over
                live = fleet.state()
            finally:
                await fleet.stop()
        visits = fleet.visits
        assert len(visits) >= 4
        started, ended = sink.of_type(SessionStarted), sink.of_type(SessionEnded)
        assert sorted(event.gun_id for event in started) == sorted(visit.gun_id for visit in visits)
        assert sorted(event.transaction_id for event in ended) == sorted(event.transaction_id for event in started)
        assert fleet.totals.arrivals == fleet.totals.departures == len(visits)
        assert [event.kind for event in events].count("arrived") == len(visits)
        samples = [event.sample for event in sink.of_type(MeterSampleReceived)]
        assert {sample.gun_id for sample in samples} == {visit.gun_id for visit in visits}
        for sample in samples:
            assert sample.power_kw is not None
            assert sample.power_kw <= limit_kw[sample.gun_id] + 1e-6, sample
        fast_cars = {visit.gun_id for visit in visits if visit.max_power_kw > limit_kw[visit.gun_id]}
        assert fast_cars, "the seed should bring a car faster than its station's limit"
        assert any(
            sample.power_kw is not None and sample.power_kw > 0.95 * limit_kw[sample.gun_id]
            for sample in samples
            if sample.gun_id in fast_cars
        )
        assert all(gun.connected and not gun.car_present for gun in live)

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_stations_reconnect_when_the_endpoint_comes_back_and_their_cars_charge_on() -> None:
    async def scenario() -> None:
        site = simple_site(2)
        registry = StationRegistry(auto_register=True)  # what the endpoint knows of transactions, kept
        first = OcppServer(MemorySink(), registry, ServerSettings(host="127.0.0.1", port=0))
        await first.start()
        port = first.port
        events: list[FleetEvent] = []
        fleet = Fleet(site, f"ws://127.0.0.1:{port}/ocpp/", seed=1, speed=60, on_event=events.append)
        try:
            await fleet.connect()
            station = fleet.stations["SIM0001"]
            await station.start_transaction("CAR", evse_id=1, ev=SimulatedEv(max_power_kw=7.0))
            transaction_id = station.transaction_id
            await first.stop()
            await until(lambda: not any(item.connected for item in fleet.stations.values()))
            sink = MemorySink()
            second = OcppServer(sink, registry, ServerSettings(host="127.0.0.1", port=port))
            async with second:
                await fleet.connect(timeout_s=10)
                assert {event.station_id for event in sink.of_type(StationBooted)} == set(fleet.stations)
                reading = await sink.wait_for(MeterSampleReceived, timeout_s=10)
                assert (reading.sample.gun_id, reading.sample.transaction_id) == ("SIM0001/1", transaction_id)
                assert reading.sample.power_kw == pytest.approx(7.0)
                await fleet.stop()
        finally:
            await fleet.stop()
        kinds = [(event.subject, event.kind) for event in events]
        assert kinds.count(("SIM0001", "connected")) == 2
        assert ("SIM0001", "disconnected") in kinds

    asyncio.run(asyncio.wait_for(scenario(), 30))

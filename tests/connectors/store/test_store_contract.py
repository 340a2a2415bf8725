"""The contract of `Store`, written against the protocol only: every kind of store must pass it.

Durable facts survive closing and reopening; meter samples and runs come back for half-open time
ranges [start, end), in time order, with aware UTC datetimes, until pruned.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.store import (
    AcknowledgedProfile,
    ApiKeyRecord,
    RunRecord,
    SessionOverride,
    StationRecord,
    Store,
)
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    Gun,
    LimitNode,
    LimitSeries,
    LimitStep,
    MeterSample,
    PriceSeries,
    PriceStep,
    ProfilePurpose,
    RateUnit,
    Site,
    TimeOfUseBand,
    TimeOfUseTariff,
)
from tests.connectors.store.conftest import StoreOpener

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
PLUS_TWO = timezone(timedelta(hours=2))
SECOND = timedelta(seconds=1)
MINUTE = timedelta(minutes=1)
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)


def site(site_id: str = "depot", grid_limit_kw: float = 100.0) -> Site:
    feeder = LimitNode(id=f"{site_id}-feeder", limit_a=63.0, guns=[Gun(station_id=f"{site_id}-CP1", max_power_kw=11)])
    return Site(
        id=site_id,
        timezone="Europe/Berlin",
        root=LimitNode(id=f"{site_id}-grid", limit_kw=grid_limit_kw, children=[feeder]),
    )


def limit_series(limit_kw: float) -> LimitSeries:
    return LimitSeries(
        steps=[
            LimitStep(start=T0, end=T0 + 15 * MINUTE, limit_kw=limit_kw),
            LimitStep(start=T0 + 15 * MINUTE, end=T0 + 30 * MINUTE, limit_a=32.0),
        ]
    )


def price_series() -> PriceSeries:
    return PriceSeries(steps=[PriceStep(start=T0, end=T0 + 60 * MINUTE, price_per_kwh=0.31)])


def time_of_use() -> TimeOfUseTariff:
    return TimeOfUseTariff(
        default_price_per_kwh=0.30,
        bands=[TimeOfUseBand(weekdays=[0, 1, 2, 3, 4], start_hour=17, end_hour=21, price_per_kwh=0.45)],
    )


def schedule(profile_id: int, limit: float) -> ChargingLimitSchedule:
    return ChargingLimitSchedule(
        profile_id=profile_id,
        purpose=ProfilePurpose.TX_DEFAULT,
        stack_level=1,
        start=T0,
        rate_unit=RateUnit.A,
        periods=[
            ChargingLimitPeriod(start_offset_s=0, limit=limit),
            ChargingLimitPeriod(start_offset_s=900, limit=6.0),
        ],
    )


def sample(gun_id: str, timestamp: datetime, power_kw: float | None = 7.2) -> MeterSample:
    return MeterSample(gun_id=gun_id, timestamp=timestamp, power_kw=power_kw, current_l1_a=10.5, energy_kwh=1234.5)


def run(site_id: str, at: datetime, load_kw: float = 42.0) -> RunRecord:
    return RunRecord(
        site_id=site_id,
        at=at,
        status="optimal",
        site_load_kw=load_kw,
        site_limit_kw=None,
        gun_power_kw={"CP1/1": 7.25, "CP1/2": 0.0},
        gun_limit_kw={"CP1/1": 11.0, "CP1/2": 4.14},
        snapshot_s=0.002,
        solve_s=0.031,
        push_s=0.0005,
    )


def gun_and_time(found: MeterSample) -> tuple[str, datetime]:
    return found.gun_id, found.timestamp


def assert_utc(instant: datetime | None) -> None:
    assert instant is not None
    assert instant.utcoffset() == timedelta(0)


# --- sites and their signals -------------------------------------------------------------------
async def test_a_site_comes_back_and_is_replaced_whole(store: Store) -> None:
    assert await store.get_site("depot") is None
    await store.put_site(site("depot", grid_limit_kw=100))
    assert await store.get_site("depot") == site("depot", grid_limit_kw=100)
    await store.put_site(site("depot", grid_limit_kw=80))
    assert await store.get_site("depot") == site("depot", grid_limit_kw=80)


async def test_every_site_is_listed_once(store: Store) -> None:
    assert await store.list_sites() == []
    for site_id in ["b", "a", "b"]:
        await store.put_site(site(site_id))
    assert sorted(listed.id for listed in await store.list_sites()) == ["a", "b"]


async def test_limit_series_are_kept_per_node_and_site(store: Store) -> None:
    assert await store.get_limit_series("depot") == {}
    await store.put_limit_series("depot", "grid", limit_series(80))
    await store.put_limit_series("depot", "feeder", limit_series(40))
    await store.put_limit_series("other", "grid", limit_series(10))
    await store.put_limit_series("depot", "grid", limit_series(70))
    assert await store.get_limit_series("depot") == {"grid": limit_series(70), "feeder": limit_series(40)}
    assert await store.get_limit_series("other") == {"grid": limit_series(10)}


async def test_a_tariff_of_either_kind_comes_back_as_that_kind(store: Store) -> None:
    assert await store.get_tariff("depot") is None
    await store.put_tariff("depot", price_series())
    await store.put_tariff("yard", time_of_use())
    assert await store.get_tariff("depot") == price_series()
    assert await store.get_tariff("yard") == time_of_use()
    await store.put_tariff("depot", time_of_use())
    got = await store.get_tariff("depot")
    assert isinstance(got, TimeOfUseTariff)
    assert got == time_of_use()


# --- stations, sessions, profiles --------------------------------------------------------------
async def test_stations_are_kept_listed_by_site_and_replaced(store: Store) -> None:
    assert await store.get_station("CP1") is None
    await store.put_station(StationRecord("CP1", "depot", "hash-1"))
    await store.put_station(StationRecord("CP2", "depot"))
    await store.put_station(StationRecord("CP3", "yard", "hash-3"))
    await store.put_station(StationRecord("CP1", "depot", "hash-1b"))
    assert await store.get_station("CP1") == StationRecord("CP1", "depot", "hash-1b")
    assert await store.get_station("CP2") == StationRecord("CP2", "depot", None)
    depot = await store.list_stations("depot")
    assert sorted(depot, key=lambda record: record.station_id) == [
        StationRecord("CP1", "depot", "hash-1b"),
        StationRecord("CP2", "depot", None),
    ]
    assert {record.station_id for record in await store.list_stations()} == {"CP1", "CP2", "CP3"}
    assert await store.list_stations("nowhere") == []


async def test_deleting_a_station_says_whether_it_was_known(store: Store) -> None:
    await store.put_station(StationRecord("CP1", "depot"))
    assert await store.delete_station("CP1") is True
    assert await store.get_station("CP1") is None
    assert await store.list_stations() == []
    assert await store.delete_station("CP1") is False
    assert await store.delete_station("never-seen") is False


async def test_a_deleted_station_forgets_its_acknowledged_profiles(store: Store) -> None:
    await store.put_station(StationRecord("CP1", "depot"))
    await store.put_station(StationRecord("CP2", "depot"))
    await store.put_acknowledged_profile(AcknowledgedProfile("CP1/1", schedule(1, 16), T0))
    await store.put_acknowledged_profile(AcknowledgedProfile("CP2/1", schedule(1, 16), T0))
    assert await store.delete_station("CP1") is True
    assert await store.get_acknowledged_profiles("CP1") == []
    assert len(await store.get_acknowledged_profiles("CP2")) == 1


async def test_a_session_override_merges_fields_given_over_those_stored(store: Store) -> None:
    assert await store.get_session_override("s1") is None
    departure = datetime(2026, 3, 1, 18, tzinfo=PLUS_TWO)
    await store.put_session_override(SessionOverride("s1", departure=departure))
    await store.put_session_override(SessionOverride("s1", energy_requested_kwh=30.5))
    await store.put_session_override(SessionOverride("s1", priority=2.0))
    await store.put_session_override(SessionOverride("s1"))
    merged = await store.get_session_override("s1")
    assert merged == SessionOverride("s1", departure=departure, energy_requested_kwh=30.5, priority=2.0)
    assert merged is not None
    assert_utc(merged.departure)

    later = departure + 30 * MINUTE
    await store.put_session_override(SessionOverride("s1", departure=later, energy_requested_kwh=0.0))
    assert await store.get_session_override("s1") == SessionOverride("s1", later, 0.0, 2.0)
    assert await store.get_session_override("s2") is None


async def test_the_last_acknowledged_profile_per_gun_is_kept(store: Store) -> None:
    assert await store.get_acknowledged_profiles("CP1") == []
    at = datetime(2026, 3, 1, 14, 0, 0, 123456, tzinfo=PLUS_TWO)
    await store.put_acknowledged_profile(AcknowledgedProfile("CP1/2", schedule(1, 10), at))
    await store.put_acknowledged_profile(AcknowledgedProfile("CP1/0", schedule(2, 32), at))
    await store.put_acknowledged_profile(AcknowledgedProfile("CP10/1", schedule(3, 8), at))
    await store.put_acknowledged_profile(AcknowledgedProfile("CP1/2", schedule(4, 12), at + MINUTE))
    profiles = await store.get_acknowledged_profiles("CP1")
    assert sorted(profiles, key=lambda profile: profile.gun_id) == [
        AcknowledgedProfile("CP1/0", schedule(2, 32), at),
        AcknowledgedProfile("CP1/2", schedule(4, 12), at + MINUTE),
    ]
    for profile in profiles:
        assert_utc(profile.at)
    assert await store.get_acknowledged_profiles("CP10") == [AcknowledgedProfile("CP10/1", schedule(3, 8), at)]


MANY_IDS = 40_000
"""More ids than SQLite binds as variables in one statement (999 before 3.32, 32,766 since)."""


async def test_overrides_are_read_for_many_sessions_at_once(store: Store) -> None:
    assert await store.get_session_overrides([]) == {}
    departure = datetime(2026, 3, 1, 18, tzinfo=PLUS_TWO)
    stored = [
        SessionOverride("s0", departure=departure),
        SessionOverride("s1500", energy_requested_kwh=12.5),
        SessionOverride("s35000", priority=2.0),
        SessionOverride(f"s{MANY_IDS - 1}", departure, 0.0, 1.0),
    ]
    for override in stored:
        await store.put_session_override(override)
    await store.put_session_override(SessionOverride("not-asked", priority=5.0))

    found = await store.get_session_overrides([f"s{k}" for k in range(MANY_IDS)])
    assert found == {override.session_id: override for override in stored}
    for override in found.values():
        if override.departure is not None:
            assert_utc(override.departure)
    assert await store.get_session_overrides(["s1500", "missing", "s1500"]) == {"s1500": stored[1]}
    assert await store.get_session_overrides(["missing"]) == {}


async def test_acknowledged_profiles_are_kept_together_as_if_one_by_one(store: Store) -> None:
    at = datetime(2026, 3, 1, 14, 0, 0, 123456, tzinfo=PLUS_TWO)
    await store.put_acknowledged_profile(AcknowledgedProfile("CP1/1", schedule(1, 10), at))
    await store.put_acknowledged_profiles([])
    assert await store.get_acknowledged_profiles("CP1") == [AcknowledgedProfile("CP1/1", schedule(1, 10), at)]

    await store.put_acknowledged_profiles(
        [
            AcknowledgedProfile("CP1/2", schedule(2, 16), at),
            AcknowledgedProfile("CP1/1", schedule(3, 20), at + MINUTE),  # replaces the one kept before
            AcknowledgedProfile("CP2/1", schedule(4, 8), at),
            AcknowledgedProfile("CP1/2", schedule(5, 12), at + MINUTE),  # the later of one gun wins
        ]
    )
    profiles = await store.get_acknowledged_profiles("CP1")
    assert profiles == [
        AcknowledgedProfile("CP1/1", schedule(3, 20), at + MINUTE),
        AcknowledgedProfile("CP1/2", schedule(5, 12), at + MINUTE),
    ]
    for profile in profiles:
        assert_utc(profile.at)
    assert await store.get_acknowledged_profiles("CP2") == [AcknowledgedProfile("CP2/1", schedule(4, 8), at)]


async def test_many_acknowledged_profiles_are_kept_in_one_call(store: Store) -> None:
    profiles = [AcknowledgedProfile(f"CP{k}/1", schedule(k + 1, 16), T0) for k in range(1_500)]
    await store.put_acknowledged_profiles(profiles)
    for k in (0, 999, 1_000, 1_499):
        assert await store.get_acknowledged_profiles(f"CP{k}") == [profiles[k]]


async def test_a_batch_with_a_bad_profile_keeps_none_of_it(store: Store) -> None:
    with pytest.raises(ValueError, match="gun id"):
        await store.put_acknowledged_profiles(
            [AcknowledgedProfile("CP1/1", schedule(1, 16), T0), AcknowledgedProfile("CP1", schedule(2, 16), T0)]
        )
    with pytest.raises(ValueError, match="naive"):
        await store.put_acknowledged_profiles(
            [
                AcknowledgedProfile("CP1/1", schedule(1, 16), T0),
                AcknowledgedProfile("CP1/2", schedule(2, 16), datetime(2026, 3, 1, 12)),
            ]
        )
    assert await store.get_acknowledged_profiles("CP1") == []


# --- API keys ----------------------------------------------------------------------------------
async def test_api_keys_are_found_by_hash(store: Store) -> None:
    assert await store.get_api_key("h1") is None
    await store.put_api_key(ApiKeyRecord("h1", "read", "dashboard"))
    await store.put_api_key(ApiKeyRecord("h2", "write"))
    assert await store.get_api_key("h1") == ApiKeyRecord("h1", "read", "dashboard")
    assert await store.get_api_key("h2") == ApiKeyRecord("h2", "write", "")
    await store.put_api_key(ApiKeyRecord("h1", "write", "planner"))
    assert await store.get_api_key("h1") == ApiKeyRecord("h1", "write", "planner")


# --- meter samples and runs --------------------------------------------------------------------
async def test_meter_samples_come_back_for_a_half_open_range_in_time_order(store: Store) -> None:
    samples = [sample("CP1/1", T0 + k * MINUTE, power_kw=float(k)) for k in range(5)]
    await store.add_meter_samples(list(reversed(samples)))
    between = sample("CP1/2", T0 + 90 * SECOND)
    await store.add_meter_samples([sample("CP2/1", T0 + 2 * MINUTE), between])
    got = await store.get_meter_samples(["CP1/1"], T0 + MINUTE, T0 + 4 * MINUTE)
    assert got == samples[1:4]
    two_guns = await store.get_meter_samples(["CP1/2", "CP1/1"], T0 + MINUTE, T0 + 3 * MINUTE)
    assert two_guns == [samples[1], between, samples[2]]
    both = await store.get_meter_samples(["CP1/1", "CP2/1"], T0 + 2 * MINUTE, T0 + 3 * MINUTE)
    assert sorted(both, key=lambda found: found.gun_id) == [samples[2], sample("CP2/1", T0 + 2 * MINUTE)]
    assert await store.get_meter_samples([], T0, FAR_FUTURE) == []
    assert await store.get_meter_samples(["CP9/1"], T0, FAR_FUTURE) == []
    assert await store.get_meter_samples(["CP1/1"], T0 + MINUTE, T0 + MINUTE) == []


async def test_meter_samples_come_back_aware_in_utc_whatever_offset_they_had(store: Store) -> None:
    local = datetime(2026, 3, 1, 14, 0, 30, 500, tzinfo=PLUS_TWO)
    await store.add_meter_samples([sample("CP1/1", local)])
    got = await store.get_meter_samples(["CP1/1"], T0, T0 + MINUTE)
    assert got == [sample("CP1/1", local)]
    assert_utc(got[0].timestamp)
    assert await store.get_meter_samples(["CP1/1"], local.astimezone(PLUS_TWO), local + timedelta(microseconds=1))


async def test_a_sample_of_the_same_gun_and_instant_replaces_the_one_kept(store: Store) -> None:
    await store.add_meter_samples([sample("CP1/1", T0, power_kw=3.0)])
    await store.add_meter_samples([sample("CP1/1", T0.astimezone(PLUS_TWO), power_kw=4.0)])
    assert await store.get_meter_samples(["CP1/1"], T0, T0 + MINUTE) == [sample("CP1/1", T0, power_kw=4.0)]


async def test_runs_come_back_per_site_for_a_half_open_range_in_time_order(store: Store) -> None:
    runs = [run("depot", T0 + k * MINUTE, load_kw=10.0 + k) for k in range(4)]
    for record in reversed(runs):
        await store.add_run(record)
    await store.add_run(run("yard", T0 + MINUTE))
    got = await store.get_runs("depot", T0 + MINUTE, T0 + 3 * MINUTE)
    assert got == runs[1:3]
    for record in got:
        assert_utc(record.at)
    assert await store.get_runs("yard", T0, FAR_FUTURE) == [run("yard", T0 + MINUTE)]
    assert await store.get_runs("nowhere", T0, FAR_FUTURE) == []


async def test_pruning_drops_samples_and_runs_older_than_the_bound_only(store: Store) -> None:
    await store.add_meter_samples([sample("CP1/1", T0 + k * MINUTE) for k in range(4)])
    await store.add_meter_samples([sample("CP2/1", T0)])
    for k in range(3):
        await store.add_run(run("depot", T0 + k * MINUTE))
    await store.put_station(StationRecord("CP1", "depot"))
    await store.put_session_override(SessionOverride("s1", priority=3.0))

    assert await store.prune(T0 + 2 * MINUTE) == 3 + 2
    remaining = await store.get_meter_samples(["CP1/1", "CP2/1"], T0 - MINUTE, FAR_FUTURE)
    assert [found.timestamp for found in remaining] == [T0 + 2 * MINUTE, T0 + 3 * MINUTE]
    assert [record.at for record in await store.get_runs("depot", T0 - MINUTE, FAR_FUTURE)] == [T0 + 2 * MINUTE]
    assert await store.prune(T0 + 2 * MINUTE) == 0
    assert await store.get_station("CP1") == StationRecord("CP1", "depot")
    assert await store.get_session_override("s1") == SessionOverride("s1", priority=3.0)


async def test_naive_datetimes_are_refused(store: Store) -> None:
    naive = datetime(2026, 3, 1, 12)
    with pytest.raises(ValueError, match="naive"):
        await store.get_runs("depot", naive, FAR_FUTURE)
    with pytest.raises(ValueError, match="naive"):
        await store.prune(naive)


# --- durability --------------------------------------------------------------------------------
async def test_everything_given_is_there_after_closing_and_reopening(open_store: StoreOpener) -> None:
    departure = datetime(2026, 3, 1, 20, tzinfo=PLUS_TWO)
    async with open_store() as store:
        await store.put_site(site("depot"))
        await store.put_limit_series("depot", "depot-grid", limit_series(60))
        await store.put_tariff("depot", time_of_use())
        await store.put_station(StationRecord("CP1", "depot", "hash-1"))
        await store.put_session_override(SessionOverride("s1", departure=departure))
        await store.put_session_override(SessionOverride("s1", energy_requested_kwh=22.0))
        await store.put_acknowledged_profile(AcknowledgedProfile("CP1/1", schedule(7, 16), T0))
        await store.put_acknowledged_profiles([AcknowledgedProfile("CP2/1", schedule(8, 10), T0)])
        await store.put_api_key(ApiKeyRecord("h1", "write", "planner"))
        await store.add_meter_samples([sample("CP1/1", T0), sample("CP1/1", T0 + MINUTE)])
        await store.add_run(run("depot", T0))

    async with open_store() as store:
        assert await store.list_sites() == [site("depot")]
        assert await store.get_limit_series("depot") == {"depot-grid": limit_series(60)}
        assert await store.get_tariff("depot") == time_of_use()
        assert await store.list_stations() == [StationRecord("CP1", "depot", "hash-1")]
        assert await store.get_session_override("s1") == SessionOverride("s1", departure, 22.0)
        assert await store.get_acknowledged_profiles("CP1") == [AcknowledgedProfile("CP1/1", schedule(7, 16), T0)]
        assert await store.get_acknowledged_profiles("CP2") == [AcknowledgedProfile("CP2/1", schedule(8, 10), T0)]
        assert await store.get_session_overrides(["s1", "s2"]) == {"s1": SessionOverride("s1", departure, 22.0)}
        assert await store.get_api_key("h1") == ApiKeyRecord("h1", "write", "planner")
        assert await store.get_meter_samples(["CP1/1"], T0, FAR_FUTURE) == [
            sample("CP1/1", T0),
            sample("CP1/1", T0 + MINUTE),
        ]
        assert await store.get_runs("depot", T0, FAR_FUTURE) == [run("depot", T0)]
        await store.prune(T0 + MINUTE)

    async with open_store() as store:
        assert await store.get_meter_samples(["CP1/1"], T0, FAR_FUTURE) == [sample("CP1/1", T0 + MINUTE)]
        assert await store.get_runs("depot", T0, FAR_FUTURE) == []


# --- property ----------------------------------------------------------------------------------
GUN_IDS = ["CP1/1", "CP1/2", "CP2/1"]
measurements = st.none() | st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
instants = st.builds(
    lambda offset_us, hours: (T0 + timedelta(microseconds=offset_us)).astimezone(timezone(timedelta(hours=hours))),
    st.integers(-(10**11), 10**11),
    st.integers(-12, 14),
)
meter_samples = st.builds(
    MeterSample,
    gun_id=st.sampled_from(GUN_IDS),
    timestamp=instants,
    power_kw=measurements,
    current_l1_a=measurements,
    current_l2_a=measurements,
    current_l3_a=measurements,
    offered_current_a=measurements,
    energy_kwh=measurements,
    soc_percent=st.none() | st.floats(min_value=0, max_value=100),
    transaction_id=st.none() | st.text(max_size=12),
    power_inferred=st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    samples=st.lists(meter_samples, min_size=1, max_size=30, unique_by=lambda found: (found.gun_id, found.timestamp))
)
async def test_samples_written_come_back_equal_and_in_time_order(store: Store, samples: list[MeterSample]) -> None:
    await store.prune(FAR_FUTURE)  # one store serves every example: start each from nothing
    await store.add_meter_samples(samples)
    start = min(found.timestamp for found in samples)
    end = max(found.timestamp for found in samples) + timedelta(microseconds=1)
    got = await store.get_meter_samples(GUN_IDS, start, end)
    assert sorted(got, key=gun_and_time) == sorted(samples, key=gun_and_time)
    assert [found.timestamp for found in got] == sorted(found.timestamp for found in samples)
    for found in got:
        assert_utc(found.timestamp)

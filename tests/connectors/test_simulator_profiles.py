"""The simulated station's profile logic against the OCPP rules, on its own (no sockets).

The main case stacks, on EVSE 1 (three phases, 230 V, so 1 A = 690 W) of a station:
  station max  stack 0, absolute from 11:00: 20 kW, from 14:00 10 kW
  station max  stack 1, 8 kW, valid only 12:30-13:00
  tx default   stack 0 on EVSE 0 (all EVSEs), 32 A
  tx default   stack 1 on EVSE 1, 16 A for one hour from 12:00
  tx           stack 1, absolute from 12:00: 5 kW
  tx           stack 2, relative to the transaction (started 12:15): 7 kW, after 30 min 12 kW, for 2 h
and asserts the limit at chosen instants, and the composite schedule over them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.ocpp.composite import composite_from_v16
from connectors.ocpp.profiles import profile_for_gun, to_rate
from connectors.simulator.profiles import ProfileStore
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    Gun,
    ProfilePurpose,
    RateUnit,
    Recurrency,
    ScheduleKind,
    StationCapabilities,
)

T0 = datetime(2024, 1, 15, 12, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
CAPABILITIES = StationCapabilities(ocpp_version="1.6", max_periods_per_schedule=4, max_stack_level=3)


def at(hour: int, minute: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute)


def profile(
    profile_id: int,
    purpose: ProfilePurpose,
    stack_level: int,
    periods: list[tuple[int, float]],
    unit: RateUnit = RateUnit.W,
    **fields: object,
) -> ChargingLimitSchedule:
    values: dict[str, object] = {
        "profile_id": profile_id,
        "purpose": purpose,
        "stack_level": stack_level,
        "rate_unit": unit,
        "periods": [ChargingLimitPeriod(start_offset_s=offset, limit=limit) for offset, limit in periods],
    }
    values.setdefault("start", None if fields.get("kind") is ScheduleKind.RELATIVE else T0)
    values.update(fields)
    return ChargingLimitSchedule.model_validate(values)


@pytest.fixture
def station() -> ProfileStore:
    store = ProfileStore(CAPABILITIES, {1: 3, 2: 1})
    installs = [
        (0, profile(1, ProfilePurpose.STATION_MAX, 0, [(0, 20_000), (3 * 3600, 10_000)], start=at(11))),
        (0, profile(2, ProfilePurpose.STATION_MAX, 1, [(0, 8_000)], valid_from=at(12, 30), valid_to=at(13))),
        (0, profile(3, ProfilePurpose.TX_DEFAULT, 0, [(0, 32)], RateUnit.A, start=T0 - 24 * HOUR)),
        (1, profile(4, ProfilePurpose.TX_DEFAULT, 1, [(0, 16)], RateUnit.A, duration_s=3600)),
    ]
    for evse_id, schedule in installs:
        assert store.install(evse_id, schedule).accepted
    return store


def start_charging(store: ProfileStore) -> None:
    store.start_transaction(1, "42", at(12, 15))
    tx_absolute = profile(5, ProfilePurpose.TX, 1, [(0, 5_000)], transaction_id="42")
    tx_relative = profile(
        6, ProfilePurpose.TX, 2, [(0, 7_000), (1800, 12_000)], kind=ScheduleKind.RELATIVE, duration_s=7200
    )
    assert store.install(1, tx_absolute).accepted
    assert store.install(1, tx_relative).accepted


def test_before_the_transaction_the_evse_default_outranks_the_station_default(station: ProfileStore) -> None:
    assert station.limit_at(1, at(12, 5)) == pytest.approx(16 * 690)  # stack 1 on EVSE 1 beats stack 0 on EVSE 0
    assert station.limit_at(1, at(13, 5)) == pytest.approx(20_000)  # its hour is over: 32 A = 22 080 W, capped
    assert station.limit_at(2, at(12, 5)) == pytest.approx(32 * 230)  # one phase: 32 A = 7 360 W
    assert station.limit_at(1, at(12, 40)) == pytest.approx(8_000)  # the windowed max at stack 1 caps
    assert station.limit_at(0, at(12, 40)) == pytest.approx(8_000)
    assert station.limit_at(0, at(14, 0)) == pytest.approx(10_000)


@pytest.mark.parametrize(
    ("instant", "expected_w", "why"),
    [
        (at(12, 20), 7_000, "relative tx at stack 2, period 1, overrides the tx defaults"),
        (at(12, 40), 7_000, "still period 1 (25 min in); the 8 kW window cap is above it"),
        (at(12, 50), 8_000, "period 2 (12 kW) capped by the 8 kW window at max stack 1"),
        (at(13, 30), 12_000, "window over: back to the 20 kW max at stack 0"),
        (at(14, 10), 10_000, "the station max steps down to 10 kW at 14:00"),
        (at(14, 20), 5_000, "the relative tx ended at 14:15: the absolute tx at stack 1, not a default"),
    ],
)
def test_during_the_transaction(station: ProfileStore, instant: datetime, expected_w: float, why: str) -> None:
    start_charging(station)
    assert station.limit_at(1, instant) == pytest.approx(expected_w), why


def test_the_end_of_the_transaction_removes_its_profiles(station: ProfileStore) -> None:
    start_charging(station)
    station.end_transaction(1)
    assert [item.schedule.profile_id for item in station.profiles(1)] == [4]
    assert station.limit_at(1, at(14, 40)) == pytest.approx(10_000)  # 32 A default (22 080 W) under the cap


def test_the_composite_schedule_is_the_same_logic_period_by_period(station: ProfileStore) -> None:
    start_charging(station)
    composite = station.composite(1, at(12, 20), 150 * 60)
    assert composite.rate_unit is RateUnit.W
    assert composite.periods == [
        (0, pytest.approx(7_000)),
        (25 * 60, pytest.approx(8_000)),  # 12:45 the relative tx steps to 12 kW, the window caps at 8
        (40 * 60, pytest.approx(12_000)),  # 13:00 the window closes
        (100 * 60, pytest.approx(10_000)),  # 14:00 the station max steps down
        (115 * 60, pytest.approx(5_000)),  # 14:15 the relative tx ends
    ]
    for offset, limit in composite.periods:
        assert station.limit_at(1, at(12, 20) + timedelta(seconds=offset)) == limit
    in_amperes = station.composite(1, at(12, 20), 150 * 60, RateUnit.A)
    assert [limit for _, limit in in_amperes.periods] == pytest.approx(
        [7000 / 690, 8000 / 690, 12000 / 690, 10000 / 690, 5000 / 690]
    )


def test_without_a_transaction_a_relative_default_starts_with_the_composite(station: ProfileStore) -> None:
    relative = profile(7, ProfilePurpose.TX_DEFAULT, 2, [(0, 6), (600, 10)], RateUnit.A, kind=ScheduleKind.RELATIVE)
    assert station.install(2, relative).accepted
    composite = station.composite(2, at(15), 3600, RateUnit.A)
    assert composite.periods == [(0, pytest.approx(6)), (600, pytest.approx(10))]
    assert station.limit_at(2, at(15)) == pytest.approx(6 * 230)  # charging would begin now: period 1


def test_a_station_with_no_profile_has_no_limit() -> None:
    store = ProfileStore(CAPABILITIES)
    assert store.limit_at(1, T0) is None
    assert store.composite(1, T0, 600).periods == [(0, None)]


def test_a_recurring_daily_default_repeats_every_day() -> None:
    store = ProfileStore(CAPABILITIES)
    nightly = profile(
        8,
        ProfilePurpose.TX_DEFAULT,
        0,
        [(0, 16), (8 * 3600, 32), (20 * 3600, 16)],
        RateUnit.A,
        kind=ScheduleKind.RECURRING,
        recurrency=Recurrency.DAILY,
        start=datetime(2024, 1, 1, tzinfo=UTC),
    )
    assert store.install(0, nightly).accepted
    assert store.limit_at(1, at(7)) == pytest.approx(16 * 690)
    assert store.limit_at(1, at(9)) == pytest.approx(32 * 690)
    assert store.limit_at(1, at(21)) == pytest.approx(16 * 690)
    assert store.limit_at(1, datetime(2023, 12, 31, 23, tzinfo=UTC)) is None  # not before its start
    composite = store.composite(1, at(6), 24 * 3600, RateUnit.A)
    assert composite.periods == [(0, pytest.approx(16)), (2 * 3600, pytest.approx(32)), (14 * 3600, pytest.approx(16))]


def test_validity_and_duration_hand_over_to_the_next_stack_level(station: ProfileStore) -> None:
    later = profile(
        9, ProfilePurpose.TX_DEFAULT, 3, [(0, 10)], RateUnit.A, valid_from=at(16), start=at(15), duration_s=7200
    )
    assert station.install(1, later).accepted
    assert station.limit_at(1, at(15, 30)) == pytest.approx(10_000)  # not valid yet: 32 A under the 10 kW cap
    assert station.limit_at(1, at(16, 30)) == pytest.approx(6_900)  # valid and running: 10 A
    assert station.limit_at(1, at(17, 0)) == pytest.approx(10_000)  # duration over at 17:00


@pytest.mark.parametrize(
    ("evse_id", "changes", "reason"),
    [
        (1, {"periods": [(offset * 60, 10) for offset in range(5)]}, "periods"),
        (1, {"stack_level": 4}, "stack level"),
        (1, {"purpose": ProfilePurpose.STATION_MAX}, "EVSE 0"),
        (0, {"purpose": ProfilePurpose.STATION_MAX, "kind": ScheduleKind.RELATIVE}, "relative"),
        (1, {"purpose": ProfilePurpose.TX}, "no transaction"),
        (3, {}, "no EVSE"),
    ],
)
def test_a_station_rejects_what_it_cannot_hold(evse_id: int, changes: dict[str, object], reason: str) -> None:
    store = ProfileStore(CAPABILITIES)
    fields: dict[str, object] = {"purpose": ProfilePurpose.TX_DEFAULT, "stack_level": 0, "periods": [(0, 16)]}
    fields.update(changes)
    verdict = store.install(evse_id, profile(10, unit=RateUnit.A, **fields))  # type: ignore[arg-type]
    assert not verdict.accepted
    assert reason in verdict.reason
    assert store.profiles() == []


def test_a_watt_only_station_rejects_amperes_and_a_tx_profile_must_match_the_transaction() -> None:
    store = ProfileStore(CAPABILITIES.without_rate_unit(RateUnit.A))
    assert "rate unit" in store.install(1, profile(1, ProfilePurpose.TX_DEFAULT, 0, [(0, 16)], RateUnit.A)).reason
    store.start_transaction(1, "42", T0)
    assert not store.install(1, profile(2, ProfilePurpose.TX, 0, [(0, 7000)], transaction_id="41")).accepted
    assert store.install(1, profile(2, ProfilePurpose.TX, 0, [(0, 7000)], transaction_id="42")).accepted
    dumb = ProfileStore(CAPABILITIES.model_copy(update={"smart_charging": False}))
    assert not dumb.install(1, profile(3, ProfilePurpose.TX_DEFAULT, 0, [(0, 7000)])).accepted


def test_a_profile_replaces_one_with_its_id_or_its_purpose_and_stack_level(station: ProfileStore) -> None:
    assert station.install(1, profile(4, ProfilePurpose.TX_DEFAULT, 2, [(0, 10)], RateUnit.A)).accepted
    assert [item.schedule.stack_level for item in station.profiles(1)] == [2]  # same id: replaced
    assert station.install(1, profile(11, ProfilePurpose.TX_DEFAULT, 2, [(0, 12)], RateUnit.A)).accepted
    assert [item.schedule.profile_id for item in station.profiles(1)] == [11]  # same purpose and level
    assert station.limit_at(1, at(12, 5)) == pytest.approx(12 * 690)


def test_clearing_by_id_or_by_criteria(station: ProfileStore) -> None:
    assert station.clear(profile_id=99) == 0
    assert station.clear(profile_id=2) == 1
    assert station.clear(purpose=ProfilePurpose.TX_DEFAULT, evse_id=0) == 1
    assert station.clear(stack_level=1) == 1
    assert [item.schedule.profile_id for item in station.profiles()] == [1]
    assert station.clear() == 1
    assert station.limit_at(1, T0) is None


def test_a_compiled_profile_is_held_and_obeyed_and_its_composite_reads_back() -> None:
    """profiles -> station -> composite payload -> composite: the plan's limits come back, never more."""
    gun = Gun(station_id="AC01", max_power_kw=22)
    plan = [(T0 + index * 15 * MINUTE, limit) for index, limit in enumerate([11, 7, 9, 4.2, 11, 0])]
    store = ProfileStore(CAPABILITIES)
    store.start_transaction(1, "42", T0)
    schedule = profile_for_gun(plan, gun, CAPABILITIES, transaction_id="42")
    assert len(schedule.periods) == CAPABILITIES.max_periods_per_schedule
    assert store.install(1, schedule).accepted
    for start, limit_kw in plan:
        held = store.limit_at(1, start + MINUTE)
        assert held is not None
        assert held <= to_rate(limit_kw, RateUnit.A, 230, 3) * 690 + 1e-6
    composite = store.composite(1, T0, 6 * 15 * 60, RateUnit.A)
    payload = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": T0.isoformat(),
        "chargingSchedule": {
            "duration": composite.duration_s,
            "chargingRateUnit": composite.rate_unit.value,
            "chargingSchedulePeriod": [
                {"startPeriod": offset, "limit": round(limit, 1)}
                for offset, limit in composite.periods
                if limit is not None
            ],
        },
    }
    read_back = composite_from_v16(payload, T0)
    assert [(start, round(limit or 0, 2)) for start, limit in read_back] == [
        (T0, 10.97),  # 15.9 A
        (T0 + 15 * MINUTE, 6.97),  # 10.1 A
        (T0 + 30 * MINUTE, 8.97),  # 13.0 A
        (T0 + 45 * MINUTE, 0.0),  # the tail (4.2 kW, 11 kW, 0) merged at its smallest
    ]

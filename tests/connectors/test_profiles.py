"""Allocation -> profile compiled per station -> SetChargingProfile / ClearChargingProfile of each version.

Every outbound payload is validated against the `ocpp` package's JSON schemas (see `payloads.ocpp_valid`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ocpp.composite import get_composite_schedule_v16, get_composite_schedule_v201
from connectors.ocpp.profiles import (
    clear_charging_profile_v16,
    clear_charging_profile_v201,
    fallback_profile,
    profile_for_gun,
    station_cap_profile,
    to_rate,
    to_v16_set_charging_profile,
    to_v201_set_charging_profile,
)
from models import ChargingLimitPeriod, ChargingLimitSchedule, Gun, ProfilePurpose, RateUnit, Recurrency, ScheduleKind
from tests.connectors.payloads import AC1, AC3, DC, NOW, QUARTER, ROOMY, STAMP, ocpp_valid
from tests.strategies import guns


def steps(*limits_kw: float) -> list[tuple[datetime, float]]:
    return [(NOW + index * QUARTER, limit) for index, limit in enumerate(limits_kw)]


def limits_of(schedule: ChargingLimitSchedule) -> list[tuple[int, float]]:
    return [(period.start_offset_s, period.limit) for period in schedule.periods]


def test_an_ampere_gun_gets_amperes_per_phase_floored_to_a_tenth() -> None:
    schedule = profile_for_gun(steps(11, 22, 0), AC3, ROOMY, transaction_id=42)
    assert schedule.rate_unit is RateUnit.A
    assert limits_of(schedule) == [(0, 15.9), (900, 31.8), (1800, 0.0)]  # 11000 / 690 = 15.94
    assert {period.number_phases for period in schedule.periods} == {3}
    assert schedule.transaction_id == "42"
    assert schedule.kind is ScheduleKind.ABSOLUTE
    assert schedule.start == NOW
    assert schedule.purpose is ProfilePurpose.TX


def test_a_watt_only_station_gets_watts() -> None:
    watt_only = ROOMY.without_rate_unit(RateUnit.A)
    schedule = profile_for_gun(steps(11.04), AC3, watt_only)
    assert schedule.rate_unit is RateUnit.W
    assert limits_of(schedule) == [(0, 11040.0)]
    dc = profile_for_gun(steps(40), DC, ROOMY)
    assert (dc.rate_unit, limits_of(dc), dc.periods[0].number_phases) == (RateUnit.W, [(0, 40000.0)], None)


def test_a_car_on_one_phase_gets_the_current_of_one_phase() -> None:
    schedule = profile_for_gun(steps(3.68), AC3, ROOMY, ev_phases=1)
    assert limits_of(schedule) == [(0, 16.0)]
    assert schedule.periods[0].number_phases == 1
    single = profile_for_gun(steps(7.36), AC1, ROOMY)
    assert limits_of(single) == [(0, 32.0)]


def test_a_limit_is_never_between_zero_and_the_minimum() -> None:
    minimum_kw = 6 * 230 * 3 / 1000
    schedule = profile_for_gun(steps(minimum_kw, minimum_kw - 0.01, 3.0, 0.5), AC3, ROOMY)
    assert limits_of(schedule) == [(0, 6.0), (900, 0.0)]
    dc = profile_for_gun(steps(5, 4.9), DC, ROOMY)
    assert limits_of(dc) == [(0, 5000.0), (900, 0.0)]


def test_nan_and_negative_limits_become_zero() -> None:
    assert limits_of(profile_for_gun(steps(float("nan"), -3, 11), AC3, ROOMY)) == [(0, 0.0), (1800, 15.9)]


def test_too_many_steps_merge_the_tail_at_its_smallest_limit() -> None:
    three = ROOMY.model_copy(update={"max_periods_per_schedule": 3})
    schedule = profile_for_gun(steps(11, 11, 7, 9, 4.2, 11), AC3, three)
    assert limits_of(schedule) == [(0, 15.9), (1800, 10.1), (2700, 6.0)]
    one = ROOMY.model_copy(update={"max_periods_per_schedule": 1})
    assert limits_of(profile_for_gun(steps(11, 7, 9), AC3, one)) == [(0, 10.1)]


@settings(max_examples=80, deadline=None)
@given(
    gun=guns("S"),
    limits=st.lists(st.floats(0, 60, allow_nan=False), min_size=1, max_size=12),
    max_periods=st.integers(1, 6),
    ev_phases=st.sampled_from([None, 1, 3]),
    watt_only=st.booleans(),
)
def test_a_profile_never_allows_more_than_the_plan_nor_less_than_the_minimum(
    gun: Gun, limits: list[float], max_periods: int, ev_phases: int | None, watt_only: bool
) -> None:
    capabilities = ROOMY.model_copy(update={"max_periods_per_schedule": max_periods})
    if watt_only:
        capabilities = capabilities.without_rate_unit(RateUnit.A)
    schedule = profile_for_gun(steps(*limits), gun, capabilities, ev_phases=ev_phases)
    assert len(schedule.periods) <= max_periods
    phases = gun.phases_used(ev_phases)
    minimum = to_rate(gun.min_kw(ev_phases), schedule.rate_unit, gun.voltage_v, phases)
    for index, limit_kw in enumerate(limits):
        offset = index * 900
        sent = [period for period in schedule.periods if period.start_offset_s <= offset][-1].limit
        assert sent <= to_rate(limit_kw, schedule.rate_unit, gun.voltage_v, phases) + 1e-9
        assert sent == 0 or sent >= minimum - 1e-9


def test_profiles_refuse_what_the_station_cannot_hold() -> None:
    with pytest.raises(ValueError, match="stack level"):
        profile_for_gun(steps(11), AC3, ROOMY, stack_level=9)
    with pytest.raises(ValueError, match="no limits"):
        profile_for_gun([], AC3, ROOMY)
    with pytest.raises(ValueError, match="increase"):
        profile_for_gun([(NOW, 11), (NOW, 7)], AC3, ROOMY)
    with pytest.raises(ValueError, match="DC gun"):
        profile_for_gun(steps(40), DC, ROOMY.without_rate_unit(RateUnit.W))
    with pytest.raises(ValueError, match="station cap"):
        profile_for_gun(steps(11), AC3, ROOMY, purpose=ProfilePurpose.STATION_MAX)


def test_v16_payloads_validate_against_the_ocpp_schemas() -> None:
    tx = profile_for_gun(
        steps(11, 7.4, 16.1), AC3, ROOMY, transaction_id=42, stack_level=2, end=NOW + timedelta(hours=1)
    )
    payload = to_v16_set_charging_profile(tx, 1)
    assert ocpp_valid("SetChargingProfile", payload, "1.6")
    assert payload == {
        "connectorId": 1,
        "csChargingProfiles": {
            "chargingProfileId": 3001,
            "stackLevel": 2,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "transactionId": 42,
            "chargingSchedule": {
                "duration": 3600,
                "startSchedule": STAMP,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 15.9, "numberPhases": 3},
                    {"startPeriod": 900, "limit": 10.7, "numberPhases": 3},
                    {"startPeriod": 1800, "limit": 23.3, "numberPhases": 3},
                ],
            },
        },
    }
    fallback = fallback_profile(4.2, AC3, ROOMY, NOW)
    assert ocpp_valid("SetChargingProfile", to_v16_set_charging_profile(fallback, 0), "1.6")
    cap = station_cap_profile(43.7, ROOMY, NOW, stack_level=1)
    cap_payload = to_v16_set_charging_profile(cap, 0)
    assert ocpp_valid("SetChargingProfile", cap_payload, "1.6")
    assert cap_payload["csChargingProfiles"]["chargingProfilePurpose"] == "ChargePointMaxProfile"
    assert cap_payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 43700.0


def test_v201_payloads_validate_against_the_ocpp_schemas() -> None:
    v201 = ROOMY.model_copy(update={"ocpp_version": "2.0.1"})
    tx = profile_for_gun(steps(11, 7.4), AC3, v201, transaction_id="5f1c-tx")
    payload = to_v201_set_charging_profile(tx, 1)
    assert ocpp_valid("SetChargingProfile", payload, "2.0.1")
    profile = payload["chargingProfile"]
    assert (profile["id"], profile["chargingProfilePurpose"], profile["transactionId"]) == (
        3001,
        "TxProfile",
        "5f1c-tx",
    )
    assert profile["chargingSchedule"][0]["chargingSchedulePeriod"][1] == {
        "startPeriod": 900,
        "limit": 10.7,
        "numberPhases": 3,
    }
    cap = to_v201_set_charging_profile(station_cap_profile(40, v201.without_rate_unit(RateUnit.W), NOW), 0)
    assert ocpp_valid("SetChargingProfile", cap, "2.0.1")
    assert cap["chargingProfile"]["chargingProfilePurpose"] == "ChargingStationMaxProfile"
    assert cap["chargingProfile"]["chargingSchedule"][0]["chargingRateUnit"] == "A"
    assert cap["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 57.9
    fallback = to_v201_set_charging_profile(fallback_profile(4.2, AC3, v201, NOW), 0)
    assert ocpp_valid("SetChargingProfile", fallback, "2.0.1")


def test_recurring_windowed_profiles_validate_in_both_versions() -> None:
    recurring = ChargingLimitSchedule(
        profile_id=7,
        purpose=ProfilePurpose.TX_DEFAULT,
        stack_level=1,
        kind=ScheduleKind.RECURRING,
        recurrency=Recurrency.DAILY,
        start=datetime(2024, 1, 1, 0, 0, 0, 123456, tzinfo=UTC),
        duration_s=86_400,
        rate_unit=RateUnit.W,
        periods=[
            ChargingLimitPeriod(start_offset_s=0, limit=3680.04),
            ChargingLimitPeriod(start_offset_s=3600, limit=0),
        ],
        valid_from=NOW,
        valid_to=NOW + timedelta(days=30),
    )
    v16_payload = to_v16_set_charging_profile(recurring, 2)
    assert ocpp_valid("SetChargingProfile", v16_payload, "1.6")
    profile = v16_payload["csChargingProfiles"]
    assert (profile["recurrencyKind"], profile["validFrom"]) == ("Daily", STAMP)
    assert profile["chargingSchedule"]["startSchedule"] == "2024-01-01T00:00:00Z"
    assert profile["chargingSchedule"]["chargingSchedulePeriod"][0] == {"startPeriod": 0, "limit": 3680.0}
    assert ocpp_valid("SetChargingProfile", to_v201_set_charging_profile(recurring, 2), "2.0.1")


def test_a_profile_goes_only_where_it_belongs() -> None:
    tx = profile_for_gun(steps(11), AC3, ROOMY, transaction_id="42")
    with pytest.raises(ValueError, match="connector/EVSE"):
        to_v16_set_charging_profile(tx, 0)
    with pytest.raises(ValueError, match="EVSE 0"):
        to_v16_set_charging_profile(station_cap_profile(40, ROOMY, NOW), 1)
    with pytest.raises(ValueError, match="integers"):
        to_v16_set_charging_profile(profile_for_gun(steps(11), AC3, ROOMY, transaction_id="abc"), 1)
    with pytest.raises(ValueError, match="transaction id"):
        to_v201_set_charging_profile(profile_for_gun(steps(11), AC3, ROOMY), 1)


def test_read_and_clear_requests_validate() -> None:
    assert ocpp_valid("GetCompositeSchedule", get_composite_schedule_v16(1, 3600, RateUnit.W), "1.6")
    assert ocpp_valid("GetCompositeSchedule", get_composite_schedule_v201(1, 3600), "2.0.1")
    assert ocpp_valid("ClearChargingProfile", clear_charging_profile_v16(), "1.6")
    request = clear_charging_profile_v16(connector_id=1, purpose=ProfilePurpose.TX, stack_level=0)
    assert ocpp_valid("ClearChargingProfile", request, "1.6")
    assert request == {"connectorId": 1, "chargingProfilePurpose": "TxProfile", "stackLevel": 0}
    assert ocpp_valid("ClearChargingProfile", clear_charging_profile_v16(profile_id=3001), "1.6")
    request = clear_charging_profile_v201(evse_id=0, purpose=ProfilePurpose.STATION_MAX)
    assert ocpp_valid("ClearChargingProfile", request, "2.0.1")
    assert request == {"chargingProfileCriteria": {"evseId": 0, "chargingProfilePurpose": "ChargingStationMaxProfile"}}
    assert ocpp_valid("ClearChargingProfile", clear_charging_profile_v201(profile_id=3001), "2.0.1")

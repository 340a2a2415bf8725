"""The simulated station reads back what we send, and its composite answers are valid OCPP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from connectors.ocpp.capabilities import (
    capabilities_from_v16_configuration,
    capabilities_from_v201_variables,
    get_configuration_v16,
    get_variables_v201,
)
from connectors.ocpp.profiles import profile_for_gun, to_v16_set_charging_profile, to_v201_set_charging_profile
from connectors.simulator.profiles import CompositeSchedule
from connectors.simulator.requests import (
    composite_answer_v16,
    composite_answer_v201,
    configuration_answer_v16,
    schedule_from_v16,
    schedule_from_v201,
    variables_answer_v201,
)
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
from tests.connectors.payloads import NOW, ROOMY, ocpp_valid

RECURRING = ChargingLimitSchedule(
    profile_id=7,
    purpose=ProfilePurpose.TX_DEFAULT,
    stack_level=1,
    kind=ScheduleKind.RECURRING,
    recurrency=Recurrency.DAILY,
    start=datetime(2024, 1, 1, tzinfo=UTC),
    duration_s=86_400,
    rate_unit=RateUnit.W,
    periods=[ChargingLimitPeriod(start_offset_s=0, limit=3680), ChargingLimitPeriod(start_offset_s=3600, limit=0)],
    valid_from=NOW,
    valid_to=NOW + timedelta(days=30),
)


def test_what_we_send_is_what_the_station_holds_in_both_versions() -> None:
    steps = [(NOW, 11.0), (NOW + timedelta(minutes=15), 7.0)]
    tx_v16 = profile_for_gun(steps, Gun(station_id="CP1", max_power_kw=22), ROOMY, transaction_id="42")
    assert schedule_from_v16(to_v16_set_charging_profile(tx_v16, 1)["csChargingProfiles"], NOW) == tx_v16
    tx_v201 = tx_v16.model_copy(update={"transaction_id": "tx-42"})
    assert schedule_from_v201(to_v201_set_charging_profile(tx_v201, 1)["chargingProfile"], NOW) == tx_v201
    assert schedule_from_v16(to_v16_set_charging_profile(RECURRING, 1)["csChargingProfiles"], NOW) == RECURRING
    assert schedule_from_v201(to_v201_set_charging_profile(RECURRING, 1)["chargingProfile"], NOW) == RECURRING


def test_decimal_limits_as_the_library_hands_them_over_are_read() -> None:
    profile = to_v16_set_charging_profile(RECURRING, 1)["csChargingProfiles"]
    profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] = Decimal("3680.0")
    assert schedule_from_v16(profile, NOW).periods[0].limit == 3680


@pytest.mark.parametrize(
    "profile",
    [
        {},
        {"chargingProfilePurpose": "TxProfile", "chargingSchedule": {"chargingRateUnit": "W"}},
        {"chargingProfilePurpose": "Sometimes", "chargingSchedule": {"chargingSchedulePeriod": []}},
        {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": {"chargingRateUnit": "kW", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}]},
        },
    ],
)
def test_an_unreadable_profile_is_a_value_error(profile: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"."):
        schedule_from_v16(profile, NOW)


def test_composite_answers_are_valid_ocpp_and_rejected_without_any_limit() -> None:
    composite = CompositeSchedule(NOW, 3600, RateUnit.A, [(0, 16.0), (1800, None)])
    answer = composite_answer_v16(composite, 1)
    assert ocpp_valid("GetCompositeSchedule", answer, "1.6", response=True)
    assert answer["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 16.0},
        {"startPeriod": 1800, "limit": -1.0},
    ]
    assert ocpp_valid("GetCompositeSchedule", composite_answer_v201(composite, 1), "2.0.1", response=True)
    nothing = CompositeSchedule(NOW, 3600, RateUnit.W, [(0, None)])
    assert composite_answer_v16(nothing, 1) == composite_answer_v201(nothing, 1) == {"status": "Rejected"}


@pytest.mark.parametrize(
    "capabilities",
    [
        StationCapabilities(ocpp_version="1.6", max_periods_per_schedule=24, max_stack_level=8),
        StationCapabilities(
            ocpp_version="2.0.1", rate_units=frozenset({RateUnit.W}), meter_sample_interval_s=15, smart_charging=False
        ),
    ],
    ids=["roomy", "watt-only-no-smart-charging"],
)
def test_the_station_tells_its_capabilities_as_we_read_them(capabilities: StationCapabilities) -> None:
    v16 = configuration_answer_v16(
        capabilities.model_copy(update={"ocpp_version": "1.6"}), get_configuration_v16()["key"]
    )
    assert ocpp_valid("GetConfiguration", v16, "1.6", response=True)
    read, warnings = capabilities_from_v16_configuration(v16["configurationKey"])
    assert (read, warnings) == (capabilities.model_copy(update={"ocpp_version": "1.6"}), [])
    v201_capabilities = capabilities.model_copy(update={"ocpp_version": "2.0.1"})
    v201 = variables_answer_v201(v201_capabilities, get_variables_v201()["getVariableData"])
    assert ocpp_valid("GetVariables", v201, "2.0.1", response=True)
    assert capabilities_from_v201_variables(v201["getVariableResult"]) == (v201_capabilities, [])
    unknown = configuration_answer_v16(capabilities, ["NoSuchKey"])
    assert unknown == {"configurationKey": [], "unknownKey": ["NoSuchKey"]}

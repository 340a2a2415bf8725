"""OCPP payloads <-> domain types: meter values (tidy and untidy), profiles per station, composites.

Every outbound payload is checked against the JSON schemas shipped in the `ocpp` package, through
the package's own validator (the one its server runs on each message).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ocpp.messages import Call, CallResult, validate_payload

from connectors.ocpp.translate import (
    capabilities_from_v16_configuration,
    capabilities_from_v201_variables,
    clear_charging_profile_v16,
    clear_charging_profile_v201,
    composite_from_v16,
    composite_from_v201,
    fallback_profile,
    get_composite_schedule_v16,
    get_composite_schedule_v201,
    gun_status_from_v16,
    gun_status_from_v201,
    profile_for_gun,
    read_meter_values,
    samples_from_v16,
    samples_from_v201,
    station_cap_profile,
    to_rate,
    to_v16_set_charging_profile,
    to_v201_set_charging_profile,
)
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    Gun,
    GunKind,
    GunStatus,
    ProfilePurpose,
    RateUnit,
    Recurrency,
    ScheduleKind,
    StationCapabilities,
)
from tests.strategies import guns

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
STAMP = "2024-01-15T12:00:00Z"
LATER = "2024-01-15T12:01:00Z"
QUARTER = timedelta(minutes=15)
AC3 = Gun(station_id="AC01", evse_id=1, max_power_kw=22, phases=3)
AC1 = Gun(station_id="AC02", evse_id=2, max_power_kw=7.4, phases=1)
DC = Gun(station_id="DC01", kind=GunKind.DC, max_power_kw=50, min_power_kw=5)
ROOMY = StationCapabilities(ocpp_version="1.6", max_periods_per_schedule=24, max_stack_level=8)


def ocpp_valid(action: str, payload: dict[str, Any], version: str, *, response: bool = False) -> bool:
    """Validate as the ocpp package does on the wire; raises its own error when invalid."""
    message = CallResult("1", payload, action) if response else Call("1", action, payload)
    asyncio.run(validate_payload(message, version))
    return True


def v16(*sampled: dict[str, Any], timestamp: str = STAMP, connector_id: int = 1) -> dict[str, Any]:
    return {
        "connectorId": connector_id,
        "transactionId": 42,
        "meterValue": [{"timestamp": timestamp, "sampledValue": list(sampled)}],
    }


def v201_value(value: float, measurand: str, unit: str, multiplier: int = 0, **extra: Any) -> dict[str, Any]:
    return {"value": value, "measurand": measurand, "unitOfMeasure": {"unit": unit, "multiplier": multiplier}, **extra}


# ---------------------------------------------------------------------------------------------
# Meter values
# ---------------------------------------------------------------------------------------------


def test_a_tidy_v16_meter_value_becomes_one_sample() -> None:
    payload = v16(
        {"value": "11040", "measurand": "Power.Active.Import", "unit": "W", "context": "Sample.Periodic"},
        {"value": "16.0", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "16.1", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
        {"value": "15.9", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
        {"value": "16", "measurand": "Current.Offered", "unit": "A"},
        {"value": "12345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        {"value": "57", "measurand": "SoC", "unit": "Percent", "location": "EV"},
        {"value": "21.5", "measurand": "Temperature", "unit": "Celsius"},
    )
    assert ocpp_valid("MeterValues", payload, "1.6")
    samples, warnings = samples_from_v16(payload, "AC01")
    assert warnings == []
    (sample,) = samples
    assert sample.gun_id == "AC01/1"
    assert sample.timestamp == NOW
    assert sample.transaction_id == "42"
    assert sample.power_kw == pytest.approx(11.04)
    assert not sample.power_inferred
    assert sample.current_a == {"L1": 16.0, "L2": 16.1, "L3": 15.9}
    assert sample.offered_current_a == 16
    assert sample.energy_kwh == pytest.approx(12.345)
    assert sample.soc_percent == 57


def test_a_bare_v16_value_is_an_energy_register_in_wh() -> None:
    samples, warnings = samples_from_v16(v16({"value": "2500"}), "AC01")
    assert warnings == []
    assert samples[0].energy_kwh == pytest.approx(2.5)
    assert samples[0].power_kw is None


@pytest.mark.parametrize(
    ("sampled", "field", "expected"),
    [
        ({"value": "7.4", "measurand": "Power.Active.Import", "unit": "kW"}, "power_kw", 7.4),
        ({"value": "7400", "measurand": "Power.Active.Import", "unit": "W"}, "power_kw", 7.4),
        ({"value": "12.345", "measurand": "Energy.Active.Import.Register", "unit": "kWh"}, "energy_kwh", 12.345),
        ({"value": "12.345", "measurand": "Energy.Active.Import.Register", "unit": "Wh"}, "energy_kwh", 0.012345),
        ({"value": "7400", "measurand": "Power.Active.Import", "unit": "w"}, "power_kw", 7.4),  # sloppy case
    ],
)
def test_units_are_read_as_they_say_no_guessing(sampled: dict[str, Any], field: str, expected: float) -> None:
    samples, warnings = samples_from_v16(v16(sampled), "AC01")
    assert warnings == []
    assert getattr(samples[0], field) == pytest.approx(expected)


def test_v201_values_are_numbers_with_a_unit_of_measure_and_a_multiplier() -> None:
    payload = {
        "evseId": 2,
        "meterValue": [
            {
                "timestamp": STAMP,
                "sampledValue": [
                    v201_value(7.36, "Power.Active.Import", "W", 3),
                    v201_value(32, "Current.Import", "A", phase="L1-N"),
                    v201_value(45.5, "Energy.Active.Import.Register", "kWh"),
                    v201_value(80, "SoC", "Percent", location="EV"),
                ],
            }
        ],
    }
    assert ocpp_valid("MeterValues", payload, "2.0.1")
    (sample,), warnings = samples_from_v201(payload, "AC02")
    assert warnings == []
    assert sample.gun_id == "AC02/2"
    assert sample.power_kw == pytest.approx(7.36)
    assert sample.current_a == {"L1": 32}
    assert sample.energy_kwh == pytest.approx(45.5)
    assert sample.soc_percent == 80


def test_a_v201_transaction_event_names_its_evse_and_transaction() -> None:
    event = {
        "eventType": "Updated",
        "timestamp": STAMP,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 0,
        "transactionInfo": {"transactionId": "tx-9", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [{"timestamp": STAMP, "sampledValue": [{"value": 1000.0}]}],
    }
    assert ocpp_valid("TransactionEvent", event, "2.0.1")
    (sample,), _ = samples_from_v201(event, "AC01")
    assert (sample.gun_id, sample.transaction_id, sample.energy_kwh) == ("AC01/1", "tx-9", 1.0)
    later = {key: value for key, value in event.items() if key != "evse"}  # seqNo stuck at 0, no evse
    (sample,), _ = samples_from_v201(later, "AC01", evse_id=1)
    assert sample.gun_id == "AC01/1"
    assert samples_from_v201(later, "AC01").samples == []  # no EVSE known: nothing, no crash


def test_power_is_inferred_from_phase_currents_and_voltages() -> None:
    payload = v16(
        {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L2"},
        {"value": "10", "measurand": "Current.Import", "unit": "A", "phase": "L3"},
        {"value": "240", "measurand": "Voltage", "unit": "V", "phase": "L1-N"},
        {"value": "230", "measurand": "Voltage", "unit": "V"},
    )
    (sample,), _ = samples_from_v16(payload, "AC01")
    assert sample.power_inferred
    assert sample.power_kw == pytest.approx((16 * 240 + 16 * 230 + 10 * 230) / 1000)


def test_power_inferred_with_line_to_line_or_nominal_voltage() -> None:
    line_to_line = v16(
        {"value": "10", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
        {"value": "400", "measurand": "Voltage", "unit": "V", "phase": "L1-L2"},
    )
    (sample,), _ = samples_from_v16(line_to_line, "AC01")
    assert sample.power_kw == pytest.approx(10 * 400 / math.sqrt(3) / 1000)
    nominal = v16({"value": "10", "measurand": "Current.Import", "unit": "A", "phase": "L2"})
    (sample,), _ = samples_from_v16(nominal, "AC01", nominal_voltage_v=220)
    assert sample.power_kw == pytest.approx(2.2)


def test_a_current_without_a_phase_is_read_by_the_guns_phases() -> None:
    payload = v16({"value": "16", "measurand": "Current.Import", "unit": "A"})
    (three,), warnings = samples_from_v16(payload, "AC01", phases=3)
    assert three.current_a == {"L1": 16, "L2": 16, "L3": 16}
    assert three.power_kw == pytest.approx(16 * 230 * 3 / 1000)
    assert any("each of 3 phases" in warning for warning in warnings)
    (single,), warnings = samples_from_v16(payload, "AC01", phases=1)
    assert single.current_a == {"L1": 16}
    assert warnings == []


def test_a_measured_power_is_never_replaced_by_an_inferred_one() -> None:
    payload = v16(
        {"value": "1000", "measurand": "Power.Active.Import", "unit": "W"},
        {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1"},
    )
    (sample,), _ = samples_from_v16(payload, "AC01")
    assert (sample.power_kw, sample.power_inferred) == (1.0, False)


def test_per_phase_power_and_registers_add_up_when_no_total_is_given() -> None:
    payload = v16(
        *(
            {"value": "1000", "measurand": "Power.Active.Import", "unit": "W", "phase": phase}
            for phase in ("L1", "L2", "L3")
        ),
        *(
            {"value": "2", "measurand": "Energy.Active.Import.Register", "unit": "kWh", "phase": p}
            for p in ("L1", "L2")
        ),
    )
    (sample,), _ = samples_from_v16(payload, "AC01")
    assert sample.power_kw == pytest.approx(3.0)
    assert sample.energy_kwh == pytest.approx(4.0)


def test_outlet_readings_win_over_inlet_ones() -> None:
    payload = v16(
        {"value": "9000", "measurand": "Power.Active.Import", "unit": "W", "location": "Inlet"},
        {"value": "7000", "measurand": "Power.Active.Import", "unit": "W", "location": "Outlet"},
    )
    (sample,), _ = samples_from_v16(payload, "AC01")
    assert sample.power_kw == pytest.approx(7.0)


def test_a_register_going_backwards_in_one_message_keeps_the_largest() -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": STAMP, "sampledValue": [{"value": "5000"}]},
            {"timestamp": LATER, "sampledValue": [{"value": "4000"}]},
            {"timestamp": "2024-01-15T12:02:00Z", "sampledValue": [{"value": "5100"}]},
        ],
    }
    samples, warnings = samples_from_v16(payload, "AC01")
    assert [sample.energy_kwh for sample in samples] == [5.0, 5.0, 5.1]
    assert len(warnings) == 1
    assert "went back" in warnings[0]
    same_instant = v16({"value": "5000"}, {"value": "4900", "context": "Sample.Clock"})
    (sample,), warnings = samples_from_v16(same_instant, "AC01")
    assert sample.energy_kwh == 5.0
    assert "kept the largest" in warnings[0]


def test_entries_are_sorted_and_merged_by_time() -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [
            {"timestamp": LATER, "sampledValue": [{"value": "2000"}]},
            {"timestamp": STAMP, "sampledValue": [{"value": "1000"}]},
            {"timestamp": LATER, "sampledValue": [{"value": "3000", "measurand": "Power.Active.Import", "unit": "W"}]},
        ],
    }
    samples, warnings = samples_from_v16(payload, "AC01")
    assert warnings == []
    assert [(s.timestamp.minute, s.energy_kwh, s.power_kw) for s in samples] == [(0, 1.0, None), (1, 2.0, 3.0)]


def test_a_naive_timestamp_is_taken_as_utc_and_said() -> None:
    (sample,), warnings = samples_from_v16(v16({"value": "1"}, timestamp="2024-01-15T12:00:00"), "AC01")
    assert sample.timestamp == NOW
    assert "no time zone" in warnings[0]


def test_an_unreadable_timestamp_falls_back_to_the_receipt_time_when_given() -> None:
    payload = v16({"value": "1"}, timestamp="yesterday")
    assert samples_from_v16(payload, "AC01").samples == []
    (sample,), _ = samples_from_v16(payload, "AC01", received_at=NOW)
    assert sample.timestamp == NOW


JUNK_SAMPLED_VALUES: list[Any] = [
    {"value": "abc"},
    {"value": "NaN", "measurand": "Power.Active.Import"},
    {"value": "inf"},
    {"value": None},
    {"value": True},
    {"value": "-5", "measurand": "Power.Active.Import", "unit": "W"},
    {"value": "150", "measurand": "SoC", "unit": "Percent"},
    {"value": "16", "measurand": "Power.Active.Import", "unit": "A"},  # unit of another quantity
    {"value": "16", "measurand": "Current.Import", "unit": "furlongs"},
    {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L4"},
    {"value": "16", "measurand": "Current.Import", "unit": "A", "phase": "L1-L2"},
    {"value": 5, "unitOfMeasure": "Wh"},
    "not an object",
    17,
]


@pytest.mark.parametrize("junk", JUNK_SAMPLED_VALUES, ids=repr)
def test_junk_sampled_values_are_skipped_and_said_never_raised(junk: Any) -> None:
    payload = v16(junk, {"value": "1000", "measurand": "Power.Active.Import", "unit": "W"})
    (sample,), warnings = samples_from_v16(payload, "AC01")
    assert sample.power_kw == pytest.approx(1.0)
    assert sample.energy_kwh is None or sample.energy_kwh == pytest.approx(0.005)  # a bare 5 is a Wh register
    assert warnings or junk == {"value": 5, "unitOfMeasure": "Wh"}


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"connectorId": "1", "meterValue": []},
        {"connectorId": -1, "meterValue": []},
        {"connectorId": 1},
        {"connectorId": 1, "meterValue": "lots"},
        {"connectorId": 1, "meterValue": [None, 3, {"timestamp": STAMP}, {"timestamp": 5, "sampledValue": []}]},
        {"connectorId": 1, "meterValue": [{"timestamp": STAMP, "sampledValue": {"value": "1"}}]},
        [],
    ],
    ids=repr,
)
def test_junk_payloads_give_warnings_not_exceptions(payload: Any) -> None:
    samples, warnings = samples_from_v16(payload, "AC01")
    assert samples == []
    assert warnings


def test_a_sample_our_model_refuses_is_dropped_with_a_warning() -> None:
    samples, warnings = read_meter_values([{"timestamp": STAMP, "sampledValue": [{"value": "1"}]}], "bad id")
    assert samples == []
    assert "dropped" in warnings[0]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
SAMPLED = st.fixed_dictionaries(
    {},
    optional={
        "value": st.one_of(st.floats(), st.text(max_size=6), st.integers(-10, 10**6), st.none()),
        "measurand": st.sampled_from(
            ["Power.Active.Import", "Current.Import", "Energy.Active.Import.Register", "SoC", "x"]
        ),
        "unit": st.sampled_from(["W", "kW", "Wh", "kWh", "A", "V", "Percent", "?"]),
        "phase": st.sampled_from(["L1", "L2", "L3", "N", "L1-N", "L1-L2", "L9", ""]),
        "unitOfMeasure": JSON
        | st.fixed_dictionaries({"unit": st.sampled_from(["W", "kWh", "A", "x"]), "multiplier": st.integers(-20, 400)}),
        "location": st.sampled_from(["Outlet", "Inlet", "EV"]),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    entries=st.lists(
        st.fixed_dictionaries(
            {},
            optional={
                "timestamp": st.sampled_from([STAMP, LATER, "2024-01-15T12:00:00", "soon", 3]),
                "sampledValue": st.lists(SAMPLED | JSON, max_size=6),
            },
        )
        | JSON,
        max_size=4,
    ),
    phases=st.sampled_from([None, 1, 3]),
)
def test_no_meter_values_ever_raise(entries: list[Any], phases: int | None) -> None:
    samples, warnings = read_meter_values(entries, "AC01/1", phases=phases)
    registers = [sample.energy_kwh for sample in samples if sample.energy_kwh is not None]
    assert registers == sorted(registers)
    assert all(isinstance(warning, str) for warning in warnings)


# ---------------------------------------------------------------------------------------------
# Statuses and capabilities
# ---------------------------------------------------------------------------------------------


def test_statuses_of_both_versions() -> None:
    assert gun_status_from_v16("SuspendedEVSE") is GunStatus.SUSPENDED_EVSE
    assert gun_status_from_v16("Finishing") is GunStatus.FINISHING
    assert gun_status_from_v16("Sleeping") is None
    assert gun_status_from_v16(None) is None
    assert gun_status_from_v201("Occupied") is GunStatus.OCCUPIED
    assert gun_status_from_v201("Occupied", "SuspendedEV") is GunStatus.SUSPENDED_EV
    assert gun_status_from_v201("Occupied", "Idle") is GunStatus.OCCUPIED
    assert gun_status_from_v201(3) is None


def test_capabilities_from_a_v16_configuration() -> None:
    keys = [
        {"key": "ChargingScheduleAllowedChargingRateUnit", "readonly": True, "value": "Power"},
        {"key": "ChargingScheduleMaxPeriods", "readonly": True, "value": "24"},
        {"key": "ChargeProfileMaxStackLevel", "readonly": True, "value": "3"},
        {"key": "MeterValueSampleInterval", "readonly": False, "value": "60"},
        {"key": "SupportedFeatureProfiles", "readonly": True, "value": "Core,SmartCharging"},
        {"key": "HeartbeatInterval", "readonly": False},
    ]
    assert ocpp_valid("GetConfiguration", {"configurationKey": keys}, "1.6", response=True)
    capabilities, warnings = capabilities_from_v16_configuration(keys)
    assert warnings == []
    assert capabilities == StationCapabilities(
        ocpp_version="1.6",
        rate_units=frozenset({RateUnit.W}),
        max_periods_per_schedule=24,
        max_stack_level=3,
        meter_sample_interval_s=60,
        smart_charging=True,
    )
    junk = [
        {"key": "ChargingScheduleMaxPeriods", "value": "many"},
        {"key": "ChargeProfileMaxStackLevel", "value": "-1"},
        {"key": "ChargingScheduleAllowedChargingRateUnit", "value": "Volts"},
        {"key": "SupportedFeatureProfiles", "value": "Core"},
    ]
    capabilities, warnings = capabilities_from_v16_configuration(junk)
    assert len(warnings) == 3
    assert capabilities.max_periods_per_schedule == 1
    assert capabilities.rate_units == {RateUnit.A, RateUnit.W}
    assert not capabilities.smart_charging
    assert capabilities_from_v16_configuration(None)[0] == StationCapabilities(ocpp_version="1.6")


def test_capabilities_from_v201_variables() -> None:
    def result(component: str, variable: str, value: str, status: str = "Accepted") -> dict[str, Any]:
        return {
            "attributeStatus": status,
            "component": {"name": component},
            "variable": {"name": variable},
            "attributeValue": value,
        }

    results = [
        result("SmartChargingCtrlr", "RateUnit", "A"),
        result("SmartChargingCtrlr", "PeriodsPerSchedule", "10"),
        result("SmartChargingCtrlr", "ProfileStackLevel", "4"),
        result("SmartChargingCtrlr", "Enabled", "true"),
        result("SampledDataCtrlr", "TxUpdatedInterval", "30"),
        result("SmartChargingCtrlr", "ExternalControlSignalsEnabled", "x", status="UnknownVariable"),
    ]
    assert ocpp_valid("GetVariables", {"getVariableResult": results}, "2.0.1", response=True)
    capabilities, warnings = capabilities_from_v201_variables(results)
    assert warnings == []
    assert capabilities.ocpp_version == "2.0.1"
    assert capabilities.rate_units == {RateUnit.A}
    assert (capabilities.max_periods_per_schedule, capabilities.max_stack_level) == (10, 4)
    assert capabilities.meter_sample_interval_s == 30
    assert capabilities_from_v201_variables("nonsense")[0] == StationCapabilities(ocpp_version="2.0.1")


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Composite schedules
# ---------------------------------------------------------------------------------------------


def v16_composite(periods: list[dict[str, Any]], unit: str = "A", **schedule: Any) -> dict[str, Any]:
    return {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": STAMP,
        "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": periods, **schedule},
    }


def test_a_v16_composite_in_amperes_becomes_kw_steps() -> None:
    payload = v16_composite(
        [
            {"startPeriod": 0, "limit": 16.0},
            {"startPeriod": 600, "limit": 16.0, "numberPhases": 1},
            {"startPeriod": 1200, "limit": 0},
        ],
        duration=3600,
    )
    assert ocpp_valid("GetCompositeSchedule", payload, "1.6", response=True)
    assert composite_from_v16(payload, NOW) == [
        (NOW, pytest.approx(11.04)),
        (NOW + timedelta(minutes=10), pytest.approx(3.68)),
        (NOW + timedelta(minutes=20), 0.0),
    ]


def test_untidy_composites_are_read_without_wrong_numbers() -> None:
    empty = v16_composite([])
    assert composite_from_v16(empty, NOW) == [(NOW, None)]
    no_limit = v16_composite([{"startPeriod": 0, "limit": -1}, {"startPeriod": 60, "limit": 7400}], unit="W")
    assert composite_from_v16(no_limit, NOW) == [(NOW, None), (NOW + timedelta(minutes=1), 7.4)]
    huge = v16_composite(
        [{"startPeriod": 0, "limit": 10}, {"startPeriod": 9_000_000_000_000, "limit": 6}], duration=10**13
    )
    assert composite_from_v16(huge, NOW) == [(NOW, pytest.approx(6.9))]
    assert composite_from_v16({"status": "Rejected"}, NOW) == []
    assert composite_from_v16({"status": "Accepted"}, NOW) == []
    no_start = {
        "status": "Accepted",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "3000"}]},
    }
    assert composite_from_v16(no_start, NOW) == [(NOW, 3.0)]
    junk = v16_composite(
        [{"startPeriod": 0, "limit": 8000}, {"startPeriod": "soon"}, None, {"startPeriod": 0, "limit": 6000}], unit="W"
    )
    assert composite_from_v16(junk, NOW) == [(NOW, 6.0)]  # two periods at one instant: the smaller
    assert composite_from_v16(v16_composite([{"startPeriod": 0, "limit": 1}], unit="kW"), NOW) == []
    assert composite_from_v16("Accepted", NOW) == []  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    payload=JSON,
    schedule=st.dictionaries(
        st.sampled_from(["chargingRateUnit", "chargingSchedulePeriod", "scheduleStart", "startSchedule"]), JSON
    ),
)
def test_no_composite_ever_raises(payload: Any, schedule: dict[str, Any]) -> None:
    for candidate in (payload, {"status": "Accepted", "chargingSchedule": schedule, "schedule": schedule}):
        for steps in (composite_from_v16(candidate, NOW), composite_from_v201(candidate, NOW)):
            assert all(limit is None or limit >= 0 for _, limit in steps)


def test_a_v201_composite() -> None:
    payload = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 86_400,
            "scheduleStart": "2024-01-15T13:00:00+01:00",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}, {"startPeriod": 3600, "limit": -1}],
        },
    }
    assert ocpp_valid("GetCompositeSchedule", payload, "2.0.1", response=True)
    assert composite_from_v201(payload, NOW - timedelta(hours=5)) == [(NOW, 11.0), (NOW + timedelta(hours=1), None)]
    assert composite_from_v201({"status": "Rejected", "statusInfo": {"reasonCode": "NoProfile"}}, NOW) == []

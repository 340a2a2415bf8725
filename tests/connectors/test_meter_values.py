"""OCPP meter values (1.6 and 2.0.1) -> `MeterSample`s, tidy and untidy: junk is said, never raised."""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ocpp.meter_values import read_meter_values, samples_from_v16, samples_from_v201
from tests.connectors.payloads import JSON, LATER, NOW, STAMP, ocpp_valid


def v16(*sampled: dict[str, Any], timestamp: str = STAMP, connector_id: int = 1) -> dict[str, Any]:
    return {
        "connectorId": connector_id,
        "transactionId": 42,
        "meterValue": [{"timestamp": timestamp, "sampledValue": list(sampled)}],
    }


def v201_value(value: float, measurand: str, unit: str, multiplier: int = 0, **extra: Any) -> dict[str, Any]:
    return {"value": value, "measurand": measurand, "unitOfMeasure": {"unit": unit, "multiplier": multiplier}, **extra}


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

"""GetConfiguration (1.6) and GetVariables (2.0.1) answers -> `StationCapabilities`."""

from __future__ import annotations

from typing import Any

from connectors.ocpp.capabilities import (
    capabilities_from_v16_configuration,
    capabilities_from_v201_variables,
    get_configuration_v16,
    get_variables_v201,
)
from models import RateUnit, StationCapabilities
from tests.connectors.payloads import ocpp_valid


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


def test_the_capability_requests_ask_for_what_the_readers_use() -> None:
    assert ocpp_valid("GetConfiguration", get_configuration_v16(), "1.6")
    assert ocpp_valid("GetVariables", get_variables_v201(), "2.0.1")
    assert len(get_variables_v201()["getVariableData"]) == 5

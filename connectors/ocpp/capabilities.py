"""What a station can hold, read at boot: 1.6 GetConfiguration / 2.0.1 GetVariables -> `StationCapabilities`.

The requests ask for exactly what the readers use. What is absent or unreadable keeps the model's
default (the least any station offers), with a warning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectors.ocpp.parsing import OcppVersion
from models import RateUnit, StationCapabilities

V16_CONFIGURATION_KEYS = (
    "ChargingScheduleAllowedChargingRateUnit",
    "ChargingScheduleMaxPeriods",
    "ChargeProfileMaxStackLevel",
    "MeterValueSampleInterval",
    "SupportedFeatureProfiles",
    "NumberOfConnectors",
)
V201_VARIABLES = (
    ("SmartChargingCtrlr", "RateUnit"),
    ("SmartChargingCtrlr", "PeriodsPerSchedule"),
    ("SmartChargingCtrlr", "ProfileStackLevel"),
    ("SmartChargingCtrlr", "Enabled"),
    ("SampledDataCtrlr", "TxUpdatedInterval"),
)
"""(component, variable) pairs read by `capabilities_from_v201_variables`."""


def get_configuration_v16() -> dict[str, Any]:
    """The 1.6 GetConfiguration request for the keys `capabilities_from_v16_configuration` reads."""
    return {"key": list(V16_CONFIGURATION_KEYS)}


def get_variables_v201() -> dict[str, Any]:
    """The 2.0.1 GetVariables request for the variables `capabilities_from_v201_variables` reads."""
    return {
        "getVariableData": [
            {"component": {"name": component}, "variable": {"name": variable}} for component, variable in V201_VARIABLES
        ]
    }


def capabilities_from_v16_configuration(configuration_key: object) -> tuple[StationCapabilities, list[str]]:
    """Capabilities from a 1.6 GetConfiguration answer's `configurationKey` list."""
    values: dict[str, str] = {}
    if isinstance(configuration_key, list):
        for item in configuration_key:
            if isinstance(item, Mapping) and isinstance(item.get("key"), str) and isinstance(item.get("value"), str):
                values[item["key"]] = item["value"]
    warnings: list[str] = []
    fields: dict[str, Any] = {}
    units = {"current": RateUnit.A, "power": RateUnit.W}
    if "ChargingScheduleAllowedChargingRateUnit" in values:
        named = {part.strip().lower() for part in values["ChargingScheduleAllowedChargingRateUnit"].split(",")}
        fields["rate_units"] = frozenset(units[name] for name in named if name in units)
    _int_field(values, "ChargingScheduleMaxPeriods", "max_periods_per_schedule", fields, warnings, minimum=1)
    _int_field(values, "ChargeProfileMaxStackLevel", "max_stack_level", fields, warnings, minimum=0)
    _int_field(values, "MeterValueSampleInterval", "meter_sample_interval_s", fields, warnings, minimum=0)
    _int_field(values, "NumberOfConnectors", "evse_count", fields, warnings, minimum=1)
    if "SupportedFeatureProfiles" in values:
        profiles = {part.strip().lower() for part in values["SupportedFeatureProfiles"].split(",")}
        fields["smart_charging"] = "smartcharging" in profiles
    return _capabilities("1.6", fields, warnings)


def capabilities_from_v201_variables(get_variable_result: object) -> tuple[StationCapabilities, list[str]]:
    """Capabilities from a 2.0.1 GetVariables answer's `getVariableResult` list.

    Reads SmartChargingCtrlr.{RateUnit, PeriodsPerSchedule, ProfileStackLevel, Enabled} and
    SampledDataCtrlr.TxUpdatedInterval; what is absent or not Accepted keeps its default.
    """
    values: dict[str, str] = {}
    if isinstance(get_variable_result, list):
        for item in get_variable_result:
            if not isinstance(item, Mapping) or item.get("attributeStatus") != "Accepted":
                continue
            component, variable = item.get("component"), item.get("variable")
            value = item.get("attributeValue")
            if isinstance(component, Mapping) and isinstance(variable, Mapping) and isinstance(value, str):
                values[f"{component.get('name')}.{variable.get('name')}"] = value
    warnings: list[str] = []
    fields: dict[str, Any] = {}
    if "SmartChargingCtrlr.RateUnit" in values:
        named = {part.strip().upper() for part in values["SmartChargingCtrlr.RateUnit"].split(",")}
        fields["rate_units"] = frozenset(RateUnit(name) for name in named if name in {"A", "W"})
    _int_field(values, "SmartChargingCtrlr.PeriodsPerSchedule", "max_periods_per_schedule", fields, warnings, 1)
    _int_field(values, "SmartChargingCtrlr.ProfileStackLevel", "max_stack_level", fields, warnings, 0)
    _int_field(values, "SampledDataCtrlr.TxUpdatedInterval", "meter_sample_interval_s", fields, warnings, 0)
    if "SmartChargingCtrlr.Enabled" in values:
        fields["smart_charging"] = values["SmartChargingCtrlr.Enabled"].strip().lower() == "true"
    return _capabilities("2.0.1", fields, warnings)


def _int_field(
    values: Mapping[str, str], key: str, field: str, fields: dict[str, Any], warnings: list[str], minimum: int
) -> None:
    if key not in values:
        return
    try:
        number = int(values[key].strip())
    except ValueError:
        warnings.append(f"{key} = {values[key]!r} is not a whole number; default kept")
        return
    if number < minimum:
        warnings.append(f"{key} = {number} is below {minimum}; default kept")
        return
    fields[field] = number


def _capabilities(
    version: OcppVersion, fields: dict[str, Any], warnings: list[str]
) -> tuple[StationCapabilities, list[str]]:
    if fields.get("rate_units") == frozenset():
        warnings.append("no rate unit named; both assumed until a profile is rejected")
        del fields["rate_units"]
    return StationCapabilities(ocpp_version=version, **fields), warnings

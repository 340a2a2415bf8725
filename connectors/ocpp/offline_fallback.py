"""A station's own offline-fallback setting: find it, and write the station's fallback into it (pure).

Some stations have a vendor-specific setting of what they draw once they lose their backend (a
"failsafe current"); OCPP names none. The settings to look for are configured
(`OfflineFallbackSetting`: a 1.6 key, or a 2.0.1 `Component.Variable`, and its unit). After its
capabilities, a station is asked for those of its version (1.6 GetConfiguration, 2.0.1
GetVariables); the first one it reports (and, in 1.6, may write) gets the station's fallback
(ChangeConfiguration / SetVariables), again whenever the fallback moves. Values are whole
amperes or watts, rounded down: never above the fallback, and readable by any station.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from connectors.ocpp.parsing import OcppVersion
from models import RateUnit
from models.station import OfflineFallbackSetting, SettingStatus
from models.units import WATTS_PER_KW

V16_STATUSES = {
    "Accepted": SettingStatus.ACCEPTED,
    "RebootRequired": SettingStatus.REBOOT_REQUIRED,
    "Rejected": SettingStatus.REJECTED,
    "NotSupported": SettingStatus.NOT_SUPPORTED,
}
V201_STATUSES = {
    "Accepted": SettingStatus.ACCEPTED,
    "RebootRequired": SettingStatus.REBOOT_REQUIRED,
    "Rejected": SettingStatus.REJECTED,
    "UnknownComponent": SettingStatus.NOT_SUPPORTED,
    "UnknownVariable": SettingStatus.NOT_SUPPORTED,
    "NotSupportedAttributeType": SettingStatus.NOT_SUPPORTED,
}


@dataclass(frozen=True)
class FoundSetting:
    """A configured setting the station reported, with the value it holds (None: not told)."""

    setting: OfflineFallbackSetting
    value: str | None


def of_version(version: OcppVersion, settings: Sequence[OfflineFallbackSetting]) -> list[OfflineFallbackSetting]:
    """The settings a station of `version` may have: 2.0.1 `Component.Variable` names, or 1.6 keys."""
    return [setting for setting in settings if (setting.component_variable is not None) == (version == "2.0.1")]


def read_request(version: OcppVersion, settings: Sequence[OfflineFallbackSetting]) -> tuple[str, dict[str, Any]] | None:
    """The GetConfiguration / GetVariables asking for the settings of `version`; None when there are none."""
    wanted = of_version(version, settings)
    if not wanted:
        return None
    if version == "1.6":
        return "GetConfiguration", {"key": [setting.name for setting in wanted]}
    return "GetVariables", {"getVariableData": [_component_variable(setting) for setting in wanted]}


def found_setting(
    version: OcppVersion, settings: Sequence[OfflineFallbackSetting], response: Mapping[str, Any]
) -> FoundSetting | None:
    """The first setting of `settings` (in their order) that the station's answer reports writable."""
    reported: dict[str, str | None] = {}
    if version == "1.6":
        for item in _items(response.get("configurationKey")):
            if isinstance(item.get("key"), str) and item.get("readonly") is not True:
                value = item.get("value")
                reported[item["key"]] = value if isinstance(value, str) else None
    else:
        for item in _items(response.get("getVariableResult")):
            if item.get("attributeStatus") == "Accepted":
                value = item.get("attributeValue")
                reported[_name(item)] = value if isinstance(value, str) else None
    for setting in of_version(version, settings):
        if setting.name in reported:
            return FoundSetting(setting, reported[setting.name])
    return None


def setting_value(setting: OfflineFallbackSetting, limit_kw: float, limit_a: float) -> str:
    """The station's fallback as the setting counts it: whole A per phase or W, rounded down."""
    if setting.unit is RateUnit.W:
        return str(math.floor(limit_kw * WATTS_PER_KW + 1e-6))
    return str(math.floor(limit_a + 1e-6))


def write_request(version: OcppVersion, setting: OfflineFallbackSetting, value: str) -> tuple[str, dict[str, Any]]:
    """The ChangeConfiguration / SetVariables writing `value` into `setting`."""
    if version == "1.6":
        return "ChangeConfiguration", {"key": setting.name, "value": value}
    return "SetVariables", {"setVariableData": [{"attributeValue": value, **_component_variable(setting)}]}


def write_status(version: OcppVersion, response: Mapping[str, Any]) -> tuple[SettingStatus, str]:
    """How the station took the write, and the reason it gave (or the status it named, if unknown)."""
    if version == "1.6":
        status, reason = response.get("status"), None
    else:
        results = _items(response.get("setVariableResult"))
        status = results[0].get("attributeStatus") if results else None
        info = results[0].get("attributeStatusInfo") if results else None
        reason = info.get("reasonCode") if isinstance(info, Mapping) else None
    statuses = V16_STATUSES if version == "1.6" else V201_STATUSES
    if not isinstance(status, str) or status not in statuses:
        return SettingStatus.FAILED, f"unreadable answer: {dict(response)!r:.200}"
    return statuses[status], str(reason or "")


def _component_variable(setting: OfflineFallbackSetting) -> dict[str, Any]:
    names = setting.component_variable
    assert names is not None  # `of_version` keeps only 2.0.1 names for 2.0.1 stations
    return {"component": {"name": names[0]}, "variable": {"name": names[1]}}


def _items(value: object) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _name(item: Mapping[str, Any]) -> str:
    component, variable = item.get("component"), item.get("variable")
    if not isinstance(component, Mapping) or not isinstance(variable, Mapping):
        return ""
    return f"{component.get('name')}.{variable.get('name')}"

"""The charge point's reading of smart-charging requests, and what it answers.

Pure: SetChargingProfile payloads (camelCase, either version) -> `ChargingLimitSchedule`; a
`CompositeSchedule` -> the GetCompositeSchedule answer of each version; `StationCapabilities` ->
the GetConfiguration (1.6) / GetVariables (2.0.1) answers. A profile that cannot be read raises
`ValueError`, which the simulated station answers with Rejected.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from connectors.ocpp.parsing import to_iso
from connectors.simulator.profiles import CompositeSchedule
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    ProfilePurpose,
    RateUnit,
    Recurrency,
    ScheduleKind,
    StationCapabilities,
)

PURPOSES = {
    "TxProfile": ProfilePurpose.TX,
    "TxDefaultProfile": ProfilePurpose.TX_DEFAULT,
    "ChargePointMaxProfile": ProfilePurpose.STATION_MAX,
    "ChargingStationMaxProfile": ProfilePurpose.STATION_MAX,
}
NO_LIMIT = -1.0
"""Written for a composite period without a limit (read back as none by `composite`)."""


def schedule_from_v16(profile: Mapping[str, Any], now: datetime) -> ChargingLimitSchedule:
    """A 1.6 `csChargingProfiles` as a schedule; an absolute one without a start starts `now`."""
    return _schedule(
        profile, profile.get("chargingProfileId"), profile.get("chargingSchedule"), profile.get("transactionId"), now
    )


def schedule_from_v201(profile: Mapping[str, Any], now: datetime) -> ChargingLimitSchedule:
    """A 2.0.1 `chargingProfile` as a schedule (its first charging schedule)."""
    schedules = profile.get("chargingSchedule")
    first = schedules[0] if isinstance(schedules, list) and schedules else None
    return _schedule(profile, profile.get("id"), first, profile.get("transactionId"), now)


def _schedule(
    profile: Mapping[str, Any], profile_id: object, body: object, transaction_id: object, now: datetime
) -> ChargingLimitSchedule:
    if not isinstance(body, Mapping):
        raise ValueError("no charging schedule")
    purpose = PURPOSES.get(str(profile.get("chargingProfilePurpose")))
    if purpose is None:
        raise ValueError(f"unknown purpose {profile.get('chargingProfilePurpose')!r}")
    kind = ScheduleKind(str(profile.get("chargingProfileKind", "Absolute")).lower())
    recurrency = profile.get("recurrencyKind")
    start = _time(body.get("startSchedule"))
    if kind is ScheduleKind.RELATIVE:
        start = None
    elif start is None:
        start = now
    periods = body.get("chargingSchedulePeriod")
    if not isinstance(periods, list):
        raise ValueError("no schedule periods")
    try:
        return ChargingLimitSchedule(
            profile_id=profile_id,
            purpose=purpose,
            stack_level=profile.get("stackLevel"),
            kind=kind,
            recurrency=Recurrency(str(recurrency).lower()) if recurrency else None,
            start=start,
            duration_s=body.get("duration"),
            rate_unit=RateUnit(str(body.get("chargingRateUnit"))),
            periods=[
                ChargingLimitPeriod(
                    start_offset_s=period.get("startPeriod"),
                    limit=period.get("limit"),
                    number_phases=period.get("numberPhases"),
                )
                for period in periods
            ],
            valid_from=_time(profile.get("validFrom")),
            valid_to=_time(profile.get("validTo")),
            transaction_id=None if transaction_id is None else str(transaction_id),
        )
    except (ValidationError, AttributeError, TypeError) as error:
        raise ValueError(f"unreadable profile: {error}") from error


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _periods(composite: CompositeSchedule) -> list[dict[str, Any]]:
    return [
        {"startPeriod": offset, "limit": NO_LIMIT if limit is None else round(limit, 1)}
        for offset, limit in composite.periods
    ]


def composite_answer_v16(composite: CompositeSchedule, connector_id: int) -> dict[str, Any]:
    """The 1.6 GetCompositeSchedule answer; Rejected when no profile limits the connector at all."""
    if all(limit is None for _, limit in composite.periods):
        return {"status": "Rejected"}
    return {
        "status": "Accepted",
        "connectorId": connector_id,
        "scheduleStart": to_iso(composite.start),
        "chargingSchedule": {
            "duration": composite.duration_s,
            "chargingRateUnit": composite.rate_unit.value,
            "chargingSchedulePeriod": _periods(composite),
        },
    }


def composite_answer_v201(composite: CompositeSchedule, evse_id: int) -> dict[str, Any]:
    """The 2.0.1 GetCompositeSchedule answer (as `composite_answer_v16`)."""
    if all(limit is None for _, limit in composite.periods):
        return {"status": "Rejected"}
    return {
        "status": "Accepted",
        "schedule": {
            "evseId": evse_id,
            "duration": composite.duration_s,
            "scheduleStart": to_iso(composite.start),
            "chargingRateUnit": composite.rate_unit.value,
            "chargingSchedulePeriod": _periods(composite),
        },
    }


def configuration_answer_v16(
    capabilities: StationCapabilities, keys: object, writable: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The 1.6 GetConfiguration answer for `keys` (None or empty: every key the station knows);
    `writable`: keys of the station's own beside the capabilities (name -> value)."""
    names = {RateUnit.A: "Current", RateUnit.W: "Power"}
    known = {
        "ChargingScheduleAllowedChargingRateUnit": ",".join(sorted(names[unit] for unit in capabilities.rate_units)),
        "ChargingScheduleMaxPeriods": str(capabilities.max_periods_per_schedule),
        "ChargeProfileMaxStackLevel": str(capabilities.max_stack_level),
        "SupportedFeatureProfiles": "Core,SmartCharging" if capabilities.smart_charging else "Core",
    }
    if capabilities.meter_sample_interval_s is not None:
        known["MeterValueSampleInterval"] = str(capabilities.meter_sample_interval_s)
    if capabilities.evse_count is not None:
        known["NumberOfConnectors"] = str(capabilities.evse_count)
    own = dict(writable or {})
    asked = [str(key) for key in keys] if isinstance(keys, list) and keys else [*known, *own]
    answer: dict[str, Any] = {
        "configurationKey": [
            {"key": key, "readonly": key not in own, "value": own.get(key, known.get(key))}
            for key in asked
            if key in known or key in own
        ]
    }
    unknown = [key for key in asked if key not in known and key not in own]
    if unknown:
        answer["unknownKey"] = unknown
    return answer


def variables_answer_v201(
    capabilities: StationCapabilities, requested: object, writable: Mapping[tuple[str, str], str] | None = None
) -> dict[str, Any]:
    """The 2.0.1 GetVariables answer: each variable asked for, Accepted with its value or UnknownVariable;
    `writable`: variables of the station's own beside the capabilities ((component, variable) -> value)."""
    known = {
        ("SmartChargingCtrlr", "RateUnit"): ",".join(sorted(unit.value for unit in capabilities.rate_units)),
        ("SmartChargingCtrlr", "PeriodsPerSchedule"): str(capabilities.max_periods_per_schedule),
        ("SmartChargingCtrlr", "ProfileStackLevel"): str(capabilities.max_stack_level),
        ("SmartChargingCtrlr", "Enabled"): str(capabilities.smart_charging).lower(),
    }
    if capabilities.meter_sample_interval_s is not None:
        known[("SampledDataCtrlr", "TxUpdatedInterval")] = str(capabilities.meter_sample_interval_s)
    known.update(writable or {})
    results = []
    for item in requested if isinstance(requested, list) else []:
        component = item.get("component") if isinstance(item, Mapping) else None
        variable = item.get("variable") if isinstance(item, Mapping) else None
        if not isinstance(component, Mapping) or not isinstance(variable, Mapping):
            continue
        value = known.get((str(component.get("name")), str(variable.get("name"))))
        result: dict[str, Any] = {
            "attributeStatus": "UnknownVariable" if value is None else "Accepted",
            "component": dict(component),
            "variable": dict(variable),
        }
        if value is not None:
            result["attributeValue"] = value
        results.append(result)
    return {"getVariableResult": results}

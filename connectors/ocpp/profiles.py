"""Allocation -> `ChargingLimitSchedule` compiled for a station -> SetChargingProfile / ClearChargingProfile.

These raise `ValueError` on a programming error (a tx profile on connector 0, a stack level the
station cannot hold): a wrong profile must not reach a station.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V, to_iso
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    Gun,
    GunKind,
    ProfilePurpose,
    RateUnit,
    StationCapabilities,
)
from models.units import WATTS_PER_KW, current_to_power_kw, power_to_current_a

_V16_PURPOSES = {
    ProfilePurpose.TX: "TxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.STATION_MAX: "ChargePointMaxProfile",
}
_V201_PURPOSES = {
    ProfilePurpose.TX: "TxProfile",
    ProfilePurpose.TX_DEFAULT: "TxDefaultProfile",
    ProfilePurpose.STATION_MAX: "ChargingStationMaxProfile",
}
_PROFILE_ID_BASE = {ProfilePurpose.STATION_MAX: 1000, ProfilePurpose.TX_DEFAULT: 2000, ProfilePurpose.TX: 3000}


def default_profile_id(purpose: ProfilePurpose, evse_id: int) -> int:
    """A stable id per purpose and EVSE, so that each new profile replaces the one before it."""
    return _PROFILE_ID_BASE[purpose] + evse_id


def rate_unit_for(gun: Gun, capabilities: StationCapabilities) -> RateUnit:
    """The gun's own rate unit where the station accepts it, else the one the station does (DC: W)."""
    preferred = RateUnit.W if gun.kind is GunKind.DC else gun.charging_rate_unit
    return preferred if preferred in capabilities.rate_units else min(capabilities.rate_units)


def to_rate(limit_kw: float, unit: RateUnit, voltage_v: float, phases: int) -> float:
    """kW as a schedule limit: W in total or A per phase, floored to the 0.1 OCPP carries.

    Floored, not rounded, so that a station is never allowed more than planned; NaN and negative
    limits become 0.
    """
    if not math.isfinite(limit_kw) or limit_kw <= 0:
        return 0.0
    value = limit_kw * WATTS_PER_KW if unit is RateUnit.W else power_to_current_a(limit_kw, voltage_v, phases)
    return math.floor(value * 10 + 1e-6) / 10


def from_rate(limit: float, unit: RateUnit, voltage_v: float, phases: int) -> float:
    """A schedule limit (W in total or A per phase) in kW."""
    return limit / WATTS_PER_KW if unit is RateUnit.W else current_to_power_kw(limit, voltage_v, phases)


def profile_for_gun(
    limits_kw: Sequence[tuple[datetime, float]],
    gun: Gun,
    capabilities: StationCapabilities,
    *,
    purpose: ProfilePurpose = ProfilePurpose.TX,
    stack_level: int = 0,
    transaction_id: str | int | None = None,
    ev_phases: int | None = None,
    profile_id: int | None = None,
    end: datetime | None = None,
) -> ChargingLimitSchedule:
    """An absolute schedule carrying a gun's planned limits, in what its station accepts.

    `limits_kw` are (start, kW) steps, as a column of `Allocation.power_kw`. Each limit is
    converted to the station's rate unit with the gun's voltage and the phases used, floored to
    0.1, and set to 0 where it would fall between 0 and the gun's minimum. Equal neighbours are
    merged; beyond the station's period count the tail is merged into the last period, which takes
    the smallest limit it covers: the station is never allowed more than the plan. Without `end`
    the last period holds until the next profile (or the transaction's end).
    """
    if purpose is ProfilePurpose.STATION_MAX:
        raise ValueError("a station cap is not a gun's profile: use station_cap_profile")
    if not limits_kw:
        raise ValueError(f"gun {gun.id}: no limits to send")
    if stack_level > capabilities.max_stack_level:
        raise ValueError(f"gun {gun.id}: stack level {stack_level} above the station's {capabilities.max_stack_level}")
    unit = rate_unit_for(gun, capabilities)
    if gun.kind is GunKind.DC and unit is RateUnit.A:
        raise ValueError(f"DC gun {gun.id}: its station takes amperes only, which say nothing of DC power")
    phases = gun.phases_used(ev_phases)
    minimum = to_rate(gun.min_kw(ev_phases), unit, gun.voltage_v, phases)
    first = limits_kw[0][0]
    steps: list[tuple[int, float]] = []
    for start, limit_kw in limits_kw:
        offset = math.floor((start - first).total_seconds())
        if steps and offset <= steps[-1][0]:
            raise ValueError(f"gun {gun.id}: step starts must increase by at least a second ({start})")
        limit = to_rate(limit_kw, unit, gun.voltage_v, phases)
        steps.append((offset, limit if limit >= minimum else 0.0))
    number_phases = None if gun.kind is GunKind.DC else phases
    periods = [
        ChargingLimitPeriod(start_offset_s=offset, limit=limit, number_phases=number_phases)
        for offset, limit in _fit_periods(steps, capabilities.max_periods_per_schedule)
    ]
    return ChargingLimitSchedule(
        profile_id=profile_id or default_profile_id(purpose, gun.evse_id),
        purpose=purpose,
        stack_level=stack_level,
        start=first,
        duration_s=None if end is None else max(1, math.ceil((end - first).total_seconds())),
        rate_unit=unit,
        periods=periods,
        transaction_id=None if transaction_id is None or purpose is not ProfilePurpose.TX else str(transaction_id),
    )


def fallback_profile(
    limit_kw: float, gun: Gun, capabilities: StationCapabilities, start: datetime, *, stack_level: int = 0
) -> ChargingLimitSchedule:
    """The tx default profile sent at boot: what a gun may draw while nobody steers it."""
    steps = [(start, limit_kw)]
    return profile_for_gun(steps, gun, capabilities, purpose=ProfilePurpose.TX_DEFAULT, stack_level=stack_level)


def station_cap_profile(
    limit_kw: float,
    capabilities: StationCapabilities,
    start: datetime,
    *,
    voltage_v: float = NOMINAL_VOLTAGE_V,
    phases: int = 3,
    stack_level: int = 0,
) -> ChargingLimitSchedule:
    """A cap on the whole station: watts where accepted, else amperes per phase of its supply."""
    if stack_level > capabilities.max_stack_level:
        raise ValueError(f"stack level {stack_level} above the station's {capabilities.max_stack_level}")
    unit = RateUnit.W if RateUnit.W in capabilities.rate_units else RateUnit.A
    return ChargingLimitSchedule(
        profile_id=default_profile_id(ProfilePurpose.STATION_MAX, 0),
        purpose=ProfilePurpose.STATION_MAX,
        stack_level=stack_level,
        start=start,
        rate_unit=unit,
        periods=[
            ChargingLimitPeriod(
                start_offset_s=0,
                limit=to_rate(limit_kw, unit, voltage_v, phases),
                number_phases=phases,
            )
        ],
    )


def _fit_periods(steps: list[tuple[int, float]], max_periods: int) -> list[tuple[int, float]]:
    """Merge equal neighbours, then merge the tail into the last period allowed at its minimum."""
    merged: list[tuple[int, float]] = []
    for offset, limit in steps:
        if not merged or merged[-1][1] != limit:
            merged.append((offset, limit))
    if len(merged) <= max_periods:
        return merged
    kept, tail = merged[: max_periods - 1], merged[max_periods - 1 :]
    return [*kept, (tail[0][0], min(limit for _, limit in tail))]


def to_v16_set_charging_profile(schedule: ChargingLimitSchedule, connector_id: int) -> dict[str, Any]:
    """The 1.6 SetChargingProfile request: a station cap on connector 0, tx profiles on a gun."""
    _check_target(schedule, connector_id)
    profile: dict[str, Any] = {
        "chargingProfileId": schedule.profile_id,
        "stackLevel": schedule.stack_level,
        "chargingProfilePurpose": _V16_PURPOSES[schedule.purpose],
        "chargingProfileKind": schedule.kind.value.capitalize(),
    }
    if schedule.transaction_id is not None:
        if not schedule.transaction_id.lstrip("-").isdigit():
            raise ValueError(f"OCPP 1.6 transaction ids are integers, not {schedule.transaction_id!r}")
        profile["transactionId"] = int(schedule.transaction_id)
    profile.update(_common_profile_fields(schedule))
    profile["chargingSchedule"] = _schedule_body(schedule)
    return {"connectorId": connector_id, "csChargingProfiles": profile}


def to_v201_set_charging_profile(schedule: ChargingLimitSchedule, evse_id: int) -> dict[str, Any]:
    """The 2.0.1 SetChargingProfile request: a station cap on EVSE 0, tx profiles on an EVSE."""
    _check_target(schedule, evse_id)
    profile: dict[str, Any] = {
        "id": schedule.profile_id,
        "stackLevel": schedule.stack_level,
        "chargingProfilePurpose": _V201_PURPOSES[schedule.purpose],
        "chargingProfileKind": schedule.kind.value.capitalize(),
    }
    profile.update(_common_profile_fields(schedule))
    profile["chargingSchedule"] = [{"id": schedule.profile_id, **_schedule_body(schedule)}]
    if schedule.purpose is ProfilePurpose.TX:
        if schedule.transaction_id is None or len(schedule.transaction_id) > 36:
            raise ValueError(f"a 2.0.1 tx profile needs a transaction id of 1-36 chars: {schedule.transaction_id!r}")
        profile["transactionId"] = schedule.transaction_id
    return {"evseId": evse_id, "chargingProfile": profile}


def _check_target(schedule: ChargingLimitSchedule, evse_id: int) -> None:
    if schedule.purpose is ProfilePurpose.STATION_MAX and evse_id != 0:
        raise ValueError(f"a station max profile goes to connector/EVSE 0, not {evse_id}")
    if schedule.purpose is ProfilePurpose.TX and evse_id < 1:
        raise ValueError(f"a tx profile goes to a gun's connector/EVSE (>= 1), not {evse_id}")
    if evse_id < 0:
        raise ValueError(f"no connector/EVSE {evse_id}")


def _common_profile_fields(schedule: ChargingLimitSchedule) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if schedule.recurrency is not None:
        fields["recurrencyKind"] = schedule.recurrency.value.capitalize()
    if schedule.valid_from is not None:
        fields["validFrom"] = to_iso(schedule.valid_from)
    if schedule.valid_to is not None:
        fields["validTo"] = to_iso(schedule.valid_to)
    return fields


def _schedule_body(schedule: ChargingLimitSchedule) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if schedule.duration_s is not None:
        body["duration"] = schedule.duration_s
    if schedule.start is not None:
        body["startSchedule"] = to_iso(schedule.start)
    body["chargingRateUnit"] = schedule.rate_unit.value
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_offset_s, "limit": round(period.limit, 1)}
        if period.number_phases is not None:
            item["numberPhases"] = period.number_phases
        periods.append(item)
    body["chargingSchedulePeriod"] = periods
    return body


def clear_charging_profile_v16(
    *,
    profile_id: int | None = None,
    connector_id: int | None = None,
    purpose: ProfilePurpose | None = None,
    stack_level: int | None = None,
) -> dict[str, Any]:
    """The 1.6 ClearChargingProfile request; no criteria clears every profile."""
    request: dict[str, Any] = {}
    if profile_id is not None:
        request["id"] = profile_id
    if connector_id is not None:
        request["connectorId"] = connector_id
    if purpose is not None:
        request["chargingProfilePurpose"] = _V16_PURPOSES[purpose]
    if stack_level is not None:
        request["stackLevel"] = stack_level
    return request


def clear_charging_profile_v201(
    *,
    profile_id: int | None = None,
    evse_id: int | None = None,
    purpose: ProfilePurpose | None = None,
    stack_level: int | None = None,
) -> dict[str, Any]:
    """The 2.0.1 ClearChargingProfile request; no criteria clears every profile."""
    request: dict[str, Any] = {}
    if profile_id is not None:
        request["chargingProfileId"] = profile_id
    criteria: dict[str, Any] = {}
    if evse_id is not None:
        criteria["evseId"] = evse_id
    if purpose is not None:
        criteria["chargingProfilePurpose"] = _V201_PURPOSES[purpose]
    if stack_level is not None:
        criteria["stackLevel"] = stack_level
    if criteria:
        request["chargingProfileCriteria"] = criteria
    return request

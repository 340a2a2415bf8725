"""Pure translation between OCPP-J payloads (1.6 and 2.0.1) and our domain types.

Inbound (station -> us): meter values -> `MeterSample`s, statuses -> `GunStatus`, composite
schedules -> (start, kW) steps, configuration -> `StationCapabilities`. These never raise on what a
station sends: junk is skipped and named in the returned warnings. Meter values, not composite
schedules, are the ground truth of what a gun draws.

Outbound (us -> station): an allocation's steps for one gun -> `ChargingLimitSchedule` compiled for
the station's capabilities -> the SetChargingProfile payload of its OCPP version. These raise
`ValueError` on a programming error (a tx profile on connector 0, a stack level the station
cannot hold): a wrong profile must not reach a station.

Field names spelled as the spec spells them stay in this module and the version handlers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple, TypeGuard

from pydantic import ValidationError

from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    Gun,
    GunKind,
    GunStatus,
    MeterSample,
    Phase,
    ProfilePurpose,
    RateUnit,
    StationCapabilities,
)
from models.site import gun_id as make_gun_id
from models.units import WATTS_PER_KW, current_to_power_kw, power_to_current_a

OcppVersion = Literal["1.6", "2.0.1"]
LimitSteps = list[tuple[datetime, float | None]]
"""(start, limit in kW) steps; None: no limit from then on."""

NOMINAL_VOLTAGE_V = 230.0
_PHASES: tuple[Phase, ...] = ("L1", "L2", "L3")
_PHASE_BY_NAME: dict[str, Phase] = {phase: phase for phase in _PHASES}

# ---------------------------------------------------------------------------------------------
# Meter values
# ---------------------------------------------------------------------------------------------

# measurand -> (what we keep it as, the quantity its unit must measure)
_MEASURANDS: dict[str, tuple[str, str]] = {
    "Power.Active.Import": ("power", "power"),
    "Current.Import": ("current", "current"),
    "Current.Offered": ("offered", "current"),
    "Energy.Active.Import.Register": ("energy", "energy"),
    "SoC": ("soc", "percent"),
    "Voltage": ("voltage", "voltage"),
}
# unit (lower case) -> (quantity, power of ten to our unit: kW, A, kWh, V, %)
_UNITS: dict[str, tuple[str, int]] = {
    "w": ("power", -3),
    "kw": ("power", 0),
    "a": ("current", 0),
    "wh": ("energy", -3),
    "kwh": ("energy", 0),
    "v": ("voltage", 0),
    "percent": ("percent", 0),
    "%": ("percent", 0),
}
_DEFAULT_UNITS = {"power": "w", "current": "a", "energy": "wh", "voltage": "v", "percent": "percent"}
_DEFAULT_MEASURAND = "Energy.Active.Import.Register"
_PHASE_NAMES = {"L1", "L2", "L3", "L1-N", "L2-N", "L3-N", "L1-L2", "L2-L3", "L3-L1"}
_MAX_MULTIPLIER = 12  # 2.0.1 unitOfMeasure.multiplier: a power of ten; real ones are -3 ... 3


class MeterReadings(NamedTuple):
    """The samples read from one message, oldest first, and what was skipped or assumed."""

    samples: list[MeterSample]
    warnings: list[str]


class _Reading(NamedTuple):
    key: str  # power, current, offered, energy, soc, voltage
    phase: Phase | None
    value: float  # in kW, A, kWh, V or %
    at_outlet: bool
    line_to_line: bool


def samples_from_v16(
    payload: Mapping[str, Any],
    station_id: str,
    *,
    phases: int | None = None,
    nominal_voltage_v: float = NOMINAL_VOLTAGE_V,
    received_at: datetime | None = None,
) -> MeterReadings:
    """The samples of a 1.6 MeterValues request (its `connectorId` and `transactionId`)."""
    connector_id = payload.get("connectorId") if isinstance(payload, Mapping) else None
    if not _is_int(connector_id) or connector_id < 0:
        return MeterReadings([], [f"meter values without a valid connectorId: {connector_id!r}"])
    transaction_id = payload.get("transactionId")
    return read_meter_values(
        payload.get("meterValue"),
        make_gun_id(station_id, connector_id),
        transaction_id=None if transaction_id is None else str(transaction_id),
        phases=phases,
        nominal_voltage_v=nominal_voltage_v,
        received_at=received_at,
    )


def samples_from_v201(
    payload: Mapping[str, Any],
    station_id: str,
    *,
    evse_id: int | None = None,
    transaction_id: str | None = None,
    phases: int | None = None,
    nominal_voltage_v: float = NOMINAL_VOLTAGE_V,
    received_at: datetime | None = None,
) -> MeterReadings:
    """The samples of a 2.0.1 MeterValues request or TransactionEvent.

    A TransactionEvent names its EVSE (`evse.id`) in its first message only: pass `evse_id` (and
    `transaction_id`) known from the transaction when the event leaves them out.
    """
    if not isinstance(payload, Mapping):
        return MeterReadings([], [f"meter values payload is not an object: {payload!r}"])
    evse = payload.get("evse")
    found = payload.get("evseId", evse.get("id") if isinstance(evse, Mapping) else None)
    evse_id = found if _is_int(found) else evse_id
    if evse_id is None or evse_id < 0:
        return MeterReadings([], [f"meter values without a valid EVSE id: {found!r}"])
    info = payload.get("transactionInfo")
    if isinstance(info, Mapping) and isinstance(info.get("transactionId"), str):
        transaction_id = info["transactionId"]
    return read_meter_values(
        payload.get("meterValue", []),
        make_gun_id(station_id, evse_id),
        transaction_id=transaction_id,
        phases=phases,
        nominal_voltage_v=nominal_voltage_v,
        received_at=received_at,
    )


def read_meter_values(
    meter_values: object,
    gun_id: str,
    *,
    transaction_id: str | None = None,
    phases: int | None = None,
    nominal_voltage_v: float = NOMINAL_VOLTAGE_V,
    received_at: datetime | None = None,
) -> MeterReadings:
    """A list of OCPP `MeterValue`s of either version (also 1.6 `transactionData`) as samples of one gun.

    Entries with the same timestamp are merged; samples come out oldest first. `phases` is how
    many AC phases the gun uses (None for DC or unknown): it says how to read a current reported
    without a phase. Power missing from a sample is inferred from the phase currents and the
    voltage (measured, else `nominal_voltage_v`). An energy register below one read earlier in the
    same message is replaced by the largest seen, with a warning.
    """
    warnings: list[str] = []
    if not isinstance(meter_values, list):
        return MeterReadings([], [f"{gun_id}: meterValue is not a list: {meter_values!r}"])
    by_time: dict[datetime, list[_Reading]] = {}
    for entry in meter_values:
        if not isinstance(entry, Mapping):
            warnings.append(f"{gun_id}: meter value is not an object: {entry!r}")
            continue
        timestamp = _parse_time(entry.get("timestamp"), warnings, gun_id) or received_at
        if timestamp is None:
            warnings.append(f"{gun_id}: meter value without a readable timestamp skipped")
            continue
        sampled = entry.get("sampledValue")
        if not isinstance(sampled, list):
            warnings.append(f"{gun_id}: sampledValue at {timestamp} is not a list")
            continue
        readings = by_time.setdefault(timestamp, [])
        for raw in sampled:
            reading = _read_sampled_value(raw, warnings, gun_id)
            if reading is not None:
                readings.append(reading)
    samples: list[MeterSample] = []
    largest_register: float | None = None
    for timestamp in sorted(by_time):
        fields = _sample_fields(by_time[timestamp], phases, nominal_voltage_v, warnings, gun_id, timestamp)
        energy = fields.get("energy_kwh")
        if isinstance(energy, float) and largest_register is not None and energy < largest_register:
            warnings.append(
                f"{gun_id}: energy register went back from {largest_register} to {energy} kWh at {timestamp};"
                " kept the largest"
            )
            fields["energy_kwh"] = largest_register
        elif isinstance(energy, float):
            largest_register = energy
        if not fields:
            continue
        try:
            samples.append(MeterSample(gun_id=gun_id, timestamp=timestamp, transaction_id=transaction_id, **fields))
        except ValidationError as error:
            warnings.append(f"{gun_id}: sample at {timestamp} dropped: {error.errors()[0]['msg']}")
    return MeterReadings(samples, warnings)


def _read_sampled_value(raw: object, warnings: list[str], gun_id: str) -> _Reading | None:
    """One sampled value in our units, or None (unused measurand, or junk: then a warning)."""
    if not isinstance(raw, Mapping):
        warnings.append(f"{gun_id}: sampled value is not an object: {raw!r}")
        return None
    measurand = raw.get("measurand") or _DEFAULT_MEASURAND
    if not isinstance(measurand, str) or measurand not in _MEASURANDS:
        return None  # temperature, frequency, reactive power ...: not ours to read
    key, quantity = _MEASURANDS[measurand]
    value = _number(raw.get("value"))
    if value is None:
        warnings.append(f"{gun_id}: {measurand} value {raw.get('value')!r} is not a number")
        return None
    unit, multiplier = _unit_of(raw)
    unit = (unit or _DEFAULT_UNITS[quantity]).lower()
    if unit not in _UNITS or _UNITS[unit][0] != quantity:
        warnings.append(f"{gun_id}: {measurand} in unit {unit!r} skipped")
        return None
    if abs(multiplier) > _MAX_MULTIPLIER:
        warnings.append(f"{gun_id}: {measurand} with multiplier 10^{multiplier} skipped")
        return None
    exponent = _UNITS[unit][1] + multiplier  # divide rather than multiply by 0.001: 5100 Wh is 5.1 kWh
    value = value * 10.0**exponent if exponent >= 0 else value / 10.0**-exponent
    if not math.isfinite(value) or value < 0 or (key == "soc" and value > 100):
        warnings.append(f"{gun_id}: {measurand} value {value:g} out of range, skipped")
        return None
    phase_text = raw.get("phase")
    phase: Phase | None = None
    line_to_line = False
    if isinstance(phase_text, str) and phase_text:
        if phase_text == "N":
            return None  # neutral current: says nothing about the load on a phase
        phase = _PHASE_BY_NAME.get(phase_text[:2])
        if phase is None or phase_text not in _PHASE_NAMES:
            warnings.append(f"{gun_id}: {measurand} on unknown phase {phase_text!r} skipped")
            return None
        line_to_line = phase_text in {"L1-L2", "L2-L3", "L3-L1"}
        if line_to_line and key != "voltage":
            warnings.append(f"{gun_id}: {measurand} between two phases ({phase_text}) skipped")
            return None
    location = raw.get("location")
    at_outlet = location is None or location == "Outlet"
    return _Reading(key, phase, value, at_outlet, line_to_line)


def _unit_of(raw: Mapping[str, Any]) -> tuple[str | None, int]:
    """The unit and power-of-ten multiplier: 1.6 `unit`, 2.0.1 `unitOfMeasure` (either in either).

    1.6 values are strings and 2.0.1 values numbers; both are read from both, as stations mix them.
    """
    measure = raw.get("unitOfMeasure")
    if isinstance(measure, Mapping):
        unit = measure.get("unit")
        multiplier = measure.get("multiplier", 0)
        return (unit if isinstance(unit, str) else None), (multiplier if _is_int(multiplier) else 0)
    unit = raw.get("unit")
    return (unit if isinstance(unit, str) else None), 0


def _sample_fields(
    readings: list[_Reading],
    phases: int | None,
    nominal_voltage_v: float,
    warnings: list[str],
    gun_id: str,
    timestamp: datetime,
) -> dict[str, Any]:
    """MeterSample fields from the readings of one instant (outlet readings preferred)."""

    def pick(key: str, phase: Phase | None, line_to_line: bool = False) -> float | None:
        matching = [r for r in readings if r.key == key and r.phase == phase and r.line_to_line == line_to_line]
        preferred = [r for r in matching if r.at_outlet] or matching
        if not preferred:
            return None
        if key == "energy":
            values = {r.value for r in preferred}
            if len(values) > 1:
                warnings.append(f"{gun_id}: {len(values)} different energy registers at {timestamp}; kept the largest")
            return max(values)
        return preferred[0].value

    fields: dict[str, Any] = {}
    currents = {phase: pick("current", phase) for phase in _PHASES}
    unphased_current = pick("current", None)
    if unphased_current is not None and all(value is None for value in currents.values()):
        if phases == 3:
            currents = dict.fromkeys(_PHASES, unphased_current)
            warnings.append(f"{gun_id}: current without a phase at {timestamp} taken as each of 3 phases")
        else:
            currents["L1"] = unphased_current
    for phase, value in currents.items():
        if value is not None:
            fields[f"current_{phase.lower()}_a"] = value

    power = pick("power", None)
    phase_powers = [value for value in (pick("power", phase) for phase in _PHASES) if value is not None]
    if power is None and phase_powers:
        power = sum(phase_powers)
    if power is None and any(value is not None for value in currents.values()):
        unphased_voltage = pick("voltage", None)
        power = 0.0
        for phase, current in currents.items():
            if current is None:
                continue
            between = pick("voltage", phase, line_to_line=True)
            voltage = pick("voltage", phase) or (between / math.sqrt(3) if between else None)
            power += current_to_power_kw(current, voltage or unphased_voltage or nominal_voltage_v, 1)
        fields["power_inferred"] = True
    if power is not None:
        fields["power_kw"] = power

    energy = pick("energy", None)
    phase_registers = [value for value in (pick("energy", phase) for phase in _PHASES) if value is not None]
    if energy is None and phase_registers:
        energy = sum(phase_registers)
    if energy is not None:
        fields["energy_kwh"] = float(energy)
    offered = pick("offered", None)
    if offered is None:
        offered_by_phase = [value for value in (pick("offered", phase) for phase in _PHASES) if value is not None]
        offered = max(offered_by_phase) if offered_by_phase else None
    if offered is not None:
        fields["offered_current_a"] = offered
    soc = pick("soc", None)
    if soc is not None:
        fields["soc_percent"] = soc
    return fields


# ---------------------------------------------------------------------------------------------
# Statuses and capabilities
# ---------------------------------------------------------------------------------------------

_V16_STATUSES = {
    "available": GunStatus.AVAILABLE,
    "preparing": GunStatus.PREPARING,
    "charging": GunStatus.CHARGING,
    "suspendedev": GunStatus.SUSPENDED_EV,
    "suspendedevse": GunStatus.SUSPENDED_EVSE,
    "finishing": GunStatus.FINISHING,
    "reserved": GunStatus.RESERVED,
    "unavailable": GunStatus.UNAVAILABLE,
    "faulted": GunStatus.FAULTED,
}
_V201_CONNECTOR_STATUSES = {
    "available": GunStatus.AVAILABLE,
    "occupied": GunStatus.OCCUPIED,
    "reserved": GunStatus.RESERVED,
    "unavailable": GunStatus.UNAVAILABLE,
    "faulted": GunStatus.FAULTED,
}
# 2.0.1 TransactionEvent chargingState; "Idle" says nothing a StatusNotification does not.
_V201_CHARGING_STATES = {
    "charging": GunStatus.CHARGING,
    "suspendedev": GunStatus.SUSPENDED_EV,
    "suspendedevse": GunStatus.SUSPENDED_EVSE,
    "evconnected": GunStatus.OCCUPIED,
}


def gun_status_from_v16(status: object) -> GunStatus | None:
    """A 1.6 StatusNotification `status` (None when it is not one)."""
    return _V16_STATUSES.get(status.lower()) if isinstance(status, str) else None


def gun_status_from_v201(connector_status: object = None, charging_state: object = None) -> GunStatus | None:
    """A 2.0.1 `connectorStatus` refined by a TransactionEvent's `chargingState` where that says more."""
    if isinstance(charging_state, str) and charging_state.lower() in _V201_CHARGING_STATES:
        return _V201_CHARGING_STATES[charging_state.lower()]
    return _V201_CONNECTOR_STATUSES.get(connector_status.lower()) if isinstance(connector_status, str) else None


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


# ---------------------------------------------------------------------------------------------
# Profiles: allocation -> schedule -> SetChargingProfile
# ---------------------------------------------------------------------------------------------

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
        fields["validFrom"] = _iso(schedule.valid_from)
    if schedule.valid_to is not None:
        fields["validTo"] = _iso(schedule.valid_to)
    return fields


def _schedule_body(schedule: ChargingLimitSchedule) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if schedule.duration_s is not None:
        body["duration"] = schedule.duration_s
    if schedule.start is not None:
        body["startSchedule"] = _iso(schedule.start)
    body["chargingRateUnit"] = schedule.rate_unit.value
    periods = []
    for period in schedule.periods:
        item: dict[str, Any] = {"startPeriod": period.start_offset_s, "limit": round(period.limit, 1)}
        if period.number_phases is not None:
            item["numberPhases"] = period.number_phases
        periods.append(item)
    body["chargingSchedulePeriod"] = periods
    return body


def get_composite_schedule_v16(connector_id: int, duration_s: int, unit: RateUnit | None = None) -> dict[str, Any]:
    """The 1.6 GetCompositeSchedule request."""
    request: dict[str, Any] = {"connectorId": connector_id, "duration": duration_s}
    if unit is not None:
        request["chargingRateUnit"] = unit.value
    return request


def get_composite_schedule_v201(evse_id: int, duration_s: int, unit: RateUnit | None = None) -> dict[str, Any]:
    """The 2.0.1 GetCompositeSchedule request."""
    request: dict[str, Any] = {"evseId": evse_id, "duration": duration_s}
    if unit is not None:
        request["chargingRateUnit"] = unit.value
    return request


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


# ---------------------------------------------------------------------------------------------
# Composite schedules (station -> us): what the station says it will apply
# ---------------------------------------------------------------------------------------------


def composite_from_v16(
    payload: Mapping[str, Any],
    requested_at: datetime,
    *,
    voltage_v: float = NOMINAL_VOLTAGE_V,
    phases: int = 3,
) -> LimitSteps:
    """(start, kW or None) steps of a 1.6 GetCompositeSchedule answer.

    [] when the station rejected the request (many answer Rejected when no profile is set: the
    composite then tells nothing); [(start, None)] for an empty period list. `phases` converts
    ampere limits whose period does not say its phases.
    """
    if not isinstance(payload, Mapping) or payload.get("status") != "Accepted":
        return []
    schedule = payload.get("chargingSchedule")
    if not isinstance(schedule, Mapping):
        return []
    start = _parse_time(payload.get("scheduleStart"), [], "") or _parse_time(schedule.get("startSchedule"), [], "")
    return _composite_steps(schedule, start or requested_at, voltage_v, phases)


def composite_from_v201(
    payload: Mapping[str, Any],
    requested_at: datetime,
    *,
    voltage_v: float = NOMINAL_VOLTAGE_V,
    phases: int = 3,
) -> LimitSteps:
    """(start, kW or None) steps of a 2.0.1 GetCompositeSchedule answer (as `composite_from_v16`)."""
    if not isinstance(payload, Mapping) or payload.get("status") != "Accepted":
        return []
    schedule = payload.get("schedule")
    if not isinstance(schedule, Mapping):
        return []
    start = _parse_time(schedule.get("scheduleStart"), [], "")
    return _composite_steps(schedule, start or requested_at, voltage_v, phases)


def _composite_steps(schedule: Mapping[str, Any], start: datetime, voltage_v: float, phases: int) -> LimitSteps:
    """Periods as absolute steps; limit -1 (or any negative) means none; junk periods are skipped.

    The schedule's `duration` is not used: stations report anything up to trillions of seconds.
    """
    unit_text = schedule.get("chargingRateUnit")
    if not isinstance(unit_text, str) or unit_text not in {"A", "W"}:
        return []
    unit = RateUnit(unit_text)
    periods = schedule.get("chargingSchedulePeriod")
    if not isinstance(periods, list) or not periods:
        return [(start, None)]
    by_start: dict[datetime, float | None] = {}
    for period in periods:
        if not isinstance(period, Mapping):
            continue
        offset, limit = _number(period.get("startPeriod")), _number(period.get("limit"))
        if offset is None or limit is None or offset < 0:
            continue
        try:
            at = start + timedelta(seconds=offset)
        except OverflowError:
            continue  # starts beyond the calendar: never reached
        period_phases = period.get("numberPhases")
        used = period_phases if _is_int(period_phases) and 1 <= period_phases <= 3 else phases
        limit_kw = None if limit < 0 else from_rate(limit, unit, voltage_v, used)
        by_start[at] = _smaller(by_start[at], limit_kw) if at in by_start else limit_kw  # two at once: the smaller
    steps: LimitSteps = []
    for at in sorted(by_start):
        if not steps or steps[-1][1] != by_start[at]:
            steps.append((at, by_start[at]))
    return steps or [(start, None)]


# ---------------------------------------------------------------------------------------------
# Small tolerant parsers
# ---------------------------------------------------------------------------------------------


def _smaller(first: float | None, second: float | None) -> float | None:
    """The smaller of two limits, None being no limit."""
    if first is None or second is None:
        return second if first is None else first
    return min(first, second)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value: object) -> float | None:
    """A finite number from a JSON number or a numeric string (1.6 sends strings), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _parse_time(value: object, warnings: list[str], gun_id: str) -> datetime | None:
    """An ISO 8601 timestamp; one without a zone is taken as UTC (with a warning)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        warnings.append(f"{gun_id}: timestamp {value!r} is not ISO 8601")
        return None
    if parsed.tzinfo is None:
        warnings.append(f"{gun_id}: timestamp {value!r} has no time zone; taken as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _iso(instant: datetime) -> str:
    """UTC, whole seconds, `Z`: the form every station parses."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")

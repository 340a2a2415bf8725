"""Meter values (1.6 and 2.0.1) -> `MeterSample`s: the ground truth of what a gun draws.

These never raise on what a station sends: junk is skipped and named in the returned warnings.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

from pydantic import ValidationError

from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V, is_int, parse_time, read_number
from models import MeterSample, Phase
from models.site import gun_id as make_gun_id
from models.units import current_to_power_kw

_PHASES: tuple[Phase, ...] = ("L1", "L2", "L3")
_PHASE_BY_NAME: dict[str, Phase] = {phase: phase for phase in _PHASES}

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
    if not is_int(connector_id) or connector_id < 0:
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
    evse_id = found if is_int(found) else evse_id
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
        timestamp = parse_time(entry.get("timestamp"), warnings, gun_id) or received_at
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
    value = read_number(raw.get("value"))
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
        return (unit if isinstance(unit, str) else None), (multiplier if is_int(multiplier) else 0)
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

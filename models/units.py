"""kW / A / kWh conversions with phases and voltage, in one place.

Convention: positive power is drawn from the grid. A per-phase current is the RMS current on each
phase a load uses; a balanced three-phase load of `power_kw` draws `power_kw / (3 * voltage_v)` kA
on each phase, where `voltage_v` is the phase-to-neutral voltage (230 V in Europe).
"""

from datetime import timedelta

WATTS_PER_KW = 1000.0


def current_to_power_kw(current_a: float, voltage_v: float, phases: int) -> float:
    """Power of `phases` phases each carrying `current_a` at phase voltage `voltage_v`."""
    return current_a * voltage_v * phases / WATTS_PER_KW


def power_to_current_a(power_kw: float, voltage_v: float, phases: int) -> float:
    """Per-phase current of a balanced load of `power_kw` spread over `phases` phases."""
    return power_kw * WATTS_PER_KW / (voltage_v * phases)


def hours(duration: timedelta) -> float:
    """A duration in hours, the unit energy (kWh) is reckoned in."""
    return duration.total_seconds() / 3600.0

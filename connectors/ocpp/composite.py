"""Composite schedules: the GetCompositeSchedule request, and the answer read tolerantly as kW steps.

What the station says it will apply; meter values, not this, show whether it obeys.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V, is_int, parse_time, read_number
from connectors.ocpp.profiles import from_rate
from models import RateUnit

LimitSteps = list[tuple[datetime, float | None]]
"""(start, limit in kW) steps; None: no limit from then on."""


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
    start = parse_time(payload.get("scheduleStart"), [], "") or parse_time(schedule.get("startSchedule"), [], "")
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
    start = parse_time(schedule.get("scheduleStart"), [], "")
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
        offset, limit = read_number(period.get("startPeriod")), read_number(period.get("limit"))
        if offset is None or limit is None or offset < 0:
            continue
        try:
            at = start + timedelta(seconds=offset)
        except OverflowError:
            continue  # starts beyond the calendar: never reached
        period_phases = period.get("numberPhases")
        used = period_phases if is_int(period_phases) and 1 <= period_phases <= 3 else phases
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

"""Whether a station obeys its profiles: the limit each gun was given against what its meter says.

Some stations answer Accepted and go on letting the car draw what it wants (DESIGN.md, "Stations
as they are"). Their word is not enough: a gun is judged by its meter. After a limit has held
for `grace_s` (a station and a car take a few seconds to follow a new limit), every sample above
the limit plus a tolerance counts, every sample within it resets the count; `samples_over_limit`
in a row and the gun is uncontrolled. The grace runs on our clock, from when the station accepted
(stations stamp samples to the second, on clocks of their own); a sample stamped before the limit
began (a replayed one) is not judged. A SetChargingProfile answered Rejected, or a CALLERROR
NotImplemented / NotSupported, makes it uncontrolled at once (`refusal_reason`).

An uncontrolled gun stays so (the optimizer reserves it at what it may draw) until someone
`restore`s it. Pure: no clock, no sockets; the connection feeds it.

The limit is the one the accepted profiles set, resolved as the station would (a tx profile over
the tx default; the EVSE's own tx default over the station's one on EVSE 0; the station cap over
both), kW from amperes at the nominal voltage on the phases the period names (3 when it does
not). Relative schedules are judged by their largest limit: when they started is the station's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V
from connectors.ocpp.profiles import from_rate
from models import ChargingLimitSchedule, MeterSample, ProfilePurpose, Recurrency, ScheduleKind
from models.site import gun_id as make_gun_id

_RECURRENCE_S = {Recurrency.DAILY: 86_400, Recurrency.WEEKLY: 7 * 86_400}
_STAMP_RESOLUTION = timedelta(seconds=1)
"""Stations stamp samples to the second: one stamped in the second a limit began may follow it."""
REFUSING_ERROR_CODES = frozenset({"NotImplemented", "NotSupported"})
"""CALLERROR codes that say a station does not do smart charging at all (unlike a timeout)."""


@dataclass(frozen=True)
class ObedienceSettings:
    """How a gun is judged: how many samples in a row above its limit, by how much, after how long."""

    samples_over_limit: int = 3
    tolerance_kw: float = 0.5
    """Above the limit by this much (plus `tolerance_fraction` of it) counts: meters and voltages vary."""
    tolerance_fraction: float = 0.1
    grace_s: float = 10.0
    """How long after a limit begins its gun is not judged: IEC 61851 gives the car 5 s to follow."""
    voltage_v: float = NOMINAL_VOLTAGE_V


def refusal_reason(status: str | None, error_code: str | None, detail: str) -> str | None:
    """Why a SetChargingProfile outcome shows the station cannot be steered; None when it does not.

    Rejected and a CALLERROR NotImplemented / NotSupported do; a timeout or another error does not.
    """
    if status == "Rejected":
        return f"SetChargingProfile answered {detail}"
    if error_code in REFUSING_ERROR_CODES:
        return f"SetChargingProfile answered {detail}"
    return None


@dataclass(frozen=True)
class _Held:
    schedule: ChargingLimitSchedule
    accepted_at: datetime


class ObedienceTracker:
    """The accepted limits and recent samples of one station's guns (see the module docstring).

    `uncontrolled` (gun id -> reason) may be passed in, to keep the verdicts across connections.
    """

    def __init__(
        self,
        station_id: str,
        settings: ObedienceSettings | None = None,
        uncontrolled: dict[str, str] | None = None,
    ) -> None:
        self.station_id = station_id
        self.settings = settings or ObedienceSettings()
        self.uncontrolled = uncontrolled if uncontrolled is not None else {}
        self._held: dict[tuple[int, ProfilePurpose], _Held] = {}
        self._over: dict[str, int] = {}

    # -- what the station was given ----------------------------------------------------------

    def accepted(self, evse_id: int, schedule: ChargingLimitSchedule, at: datetime) -> None:
        """The station accepted `schedule` on `evse_id` (0: the station) at `at`."""
        self._held[(evse_id, schedule.purpose)] = _Held(schedule, at)
        for gun in list(self._over):
            if evse_id == 0 or gun == make_gun_id(self.station_id, evse_id):
                self._over[gun] = 0  # a new limit: count afresh

    def transaction_ended(self, evse_id: int) -> None:
        """A transaction's end takes its tx profile with it."""
        self._held.pop((evse_id, ProfilePurpose.TX), None)

    def refused(self, gun_id: str, reason: str) -> str | None:
        """Mark `gun_id` uncontrolled (`.../0`: the whole station); `reason` when newly marked, else None."""
        if gun_id in self.uncontrolled:
            return None
        self.uncontrolled[gun_id] = reason
        return reason

    def restore(self, gun_id: str) -> None:
        """Judge `gun_id` afresh (an operator fixed the station)."""
        self.uncontrolled.pop(gun_id, None)
        self._over.pop(gun_id, None)

    def is_uncontrolled(self, gun_id: str) -> bool:
        return gun_id in self.uncontrolled or make_gun_id(self.station_id, 0) in self.uncontrolled

    # -- what it draws -----------------------------------------------------------------------

    def observe(self, sample: MeterSample, received_at: datetime | None = None) -> str | None:
        """Count one sample received at `received_at` (default: its own stamp); the reason when it
        makes its gun uncontrolled, else None."""
        gun = sample.gun_id
        if sample.power_kw is None or gun.endswith("/0") or self.is_uncontrolled(gun):
            return None
        evse_id = int(gun.rsplit("/", 1)[1])
        found = self.limit_kw(evse_id, sample.timestamp)
        if found is None:
            return None
        limit_kw, since = found
        received_at = received_at or sample.timestamp
        if received_at - since < timedelta(seconds=self.settings.grace_s):
            return None
        if sample.timestamp < since - _STAMP_RESOLUTION:
            return None  # measured before this limit
        allowed_kw = limit_kw * (1 + self.settings.tolerance_fraction) + self.settings.tolerance_kw
        if sample.power_kw <= allowed_kw:
            self._over[gun] = 0
            return None
        self._over[gun] = self._over.get(gun, 0) + 1
        if self._over[gun] < self.settings.samples_over_limit:
            return None
        reason = (
            f"accepted a limit of {limit_kw:.1f} kW but drew up to {sample.power_kw:.1f} kW "
            f"in {self._over[gun]} samples in a row"
        )
        return self.refused(gun, reason)

    def limit_kw(self, evse_id: int, instant: datetime) -> tuple[float, datetime] | None:
        """The limit in force on a gun at `instant` and since when it holds; None: no limit."""
        own = self._in_force(evse_id, ProfilePurpose.TX, instant)
        if own is None:
            own = self._in_force(evse_id, ProfilePurpose.TX_DEFAULT, instant)
        if own is None:
            own = self._in_force(0, ProfilePurpose.TX_DEFAULT, instant)
        cap = self._in_force(0, ProfilePurpose.STATION_MAX, instant)
        found = [limit for limit in (own, cap) if limit is not None]
        if not found:
            return None
        return min(limit for limit, _ in found), max(since for _, since in found)

    def _in_force(self, evse_id: int, purpose: ProfilePurpose, instant: datetime) -> tuple[float, datetime] | None:
        held = self._held.get((evse_id, purpose))
        if held is None or not held.schedule.valid_at(instant):
            return None
        schedule = held.schedule

        def kw(limit: float, phases: int | None) -> float:
            return from_rate(limit, schedule.rate_unit, self.settings.voltage_v, phases or 3)

        if schedule.kind is ScheduleKind.RELATIVE or schedule.start is None:
            return max(kw(period.limit, period.number_phases) for period in schedule.periods), held.accepted_at
        offset_s = (instant - schedule.start).total_seconds()
        if offset_s < 0:
            return None
        cycle_start = schedule.start
        if schedule.recurrency is not None:
            every = _RECURRENCE_S[schedule.recurrency]
            cycle_start += timedelta(seconds=offset_s // every * every)
            offset_s %= every
        if schedule.duration_s is not None and offset_s >= schedule.duration_s:
            return None
        period = [period for period in schedule.periods if period.start_offset_s <= offset_s][-1]
        period_start = cycle_start + timedelta(seconds=period.start_offset_s)
        return kw(period.limit, period.number_phases), max(held.accepted_at, period_start)

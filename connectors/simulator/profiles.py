"""The charge point's side of smart charging: the profiles it holds and the limit they make.

The rules, as OCPP 1.6 (section 3.13) and 2.0.1 (functional block K) state them:

- A station max profile is installed on EVSE 0 and caps every EVSE of the station (here each
  EVSE on its own; sharing it when several charge at once is the simulated charge point's part).
- A tx profile belongs to the transaction running on its EVSE: it cannot be installed without one
  (nor for another transaction) and it goes when the transaction ends. While one is in force it
  overrides every tx default profile.
- A tx default profile on EVSE 0 applies to every EVSE, one on an EVSE to that EVSE only; at the
  same stack level the EVSE's own wins.
- Within a purpose, the profile with the highest stack level that is in force at the instant wins;
  where its schedule has not begun or has ended, or it is outside [valid_from, valid_to), the next
  one down applies. No profile in force: no limit (None).
- Absolute schedules start at their `start`, recurring ones every day or week from it (not
  before), relative ones when charging started (the transaction's start; with no transaction, the
  instant asked about, or the start of the composite schedule).
- Limits in A are per phase: they compare with W limits as A x phases x voltage, the phases being
  the period's (3 when it does not say), never more than the EVSE has.

A station rejects what it cannot hold, as a real one does: more periods than it has room for, a
stack level above its maximum, a rate unit it does not take. Pure: no sockets, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from models import ChargingLimitSchedule, ProfilePurpose, RateUnit, Recurrency, ScheduleKind, StationCapabilities
from models.units import WATTS_PER_KW, current_to_power_kw, power_to_current_a

RECURRENCE_S = {Recurrency.DAILY: 86_400, Recurrency.WEEKLY: 7 * 86_400}
MAX_COMPOSITE_S = 31 * 86_400
"""The longest composite schedule the simulated station computes (real ones cap it too)."""


@dataclass(frozen=True)
class Verdict:
    """The station's answer to a profile: accepted, or rejected and why."""

    accepted: bool
    reason: str = ""


@dataclass(frozen=True)
class InstalledProfile:
    evse_id: int
    schedule: ChargingLimitSchedule


@dataclass(frozen=True)
class Transaction:
    transaction_id: str
    started_at: datetime


@dataclass(frozen=True)
class CompositeSchedule:
    """The limit the station will apply from `start` for `duration_s`, period by period.

    `periods`: (offset in s from `start`, limit in `rate_unit` or None for no limit).
    """

    start: datetime
    duration_s: int
    rate_unit: RateUnit
    periods: list[tuple[int, float | None]]


class ProfileStore:
    """The charging profiles of one station, and the limit they set on each EVSE at any instant.

    `evse_phases` maps each EVSE id (from 1) to the phases it has; `supply_phases` are those of
    the station's own supply (EVSE 0); `voltage_v` is the phase-to-neutral voltage.
    """

    def __init__(
        self,
        capabilities: StationCapabilities,
        evse_phases: Mapping[int, int] | None = None,
        *,
        supply_phases: int = 3,
        voltage_v: float = 230.0,
    ) -> None:
        self.capabilities = capabilities
        self.evse_phases = dict(evse_phases or {1: 3})
        self.supply_phases = supply_phases
        self.voltage_v = voltage_v
        self._profiles: list[InstalledProfile] = []
        self._transactions: dict[int, Transaction] = {}

    # -- what the station holds --------------------------------------------------------------

    def profiles(self, evse_id: int | None = None) -> list[InstalledProfile]:
        return [item for item in self._profiles if evse_id is None or item.evse_id == evse_id]

    def transaction(self, evse_id: int) -> Transaction | None:
        return self._transactions.get(evse_id)

    def start_transaction(self, evse_id: int, transaction_id: str, at: datetime) -> None:
        self._check_evse(evse_id)
        self._transactions[evse_id] = Transaction(transaction_id, at)

    def end_transaction(self, evse_id: int) -> None:
        """The transaction on `evse_id` ends, and its tx profiles with it."""
        self._transactions.pop(evse_id, None)
        ended = [item for item in self.profiles(evse_id) if item.schedule.purpose is ProfilePurpose.TX]
        self._profiles = [item for item in self._profiles if item not in ended]

    def install(self, evse_id: int, schedule: ChargingLimitSchedule) -> Verdict:
        """SetChargingProfile: install `schedule` on `evse_id` (0: the station), or say why not.

        A profile replaces any with the same id, and any on the same EVSE with the same purpose
        and stack level.
        """
        reason = self._rejection(evse_id, schedule)
        if reason:
            return Verdict(False, reason)
        self._profiles = [
            item
            for item in self._profiles
            if item.schedule.profile_id != schedule.profile_id
            and not (
                item.evse_id == evse_id
                and item.schedule.purpose is schedule.purpose
                and item.schedule.stack_level == schedule.stack_level
            )
        ]
        self._profiles.append(InstalledProfile(evse_id, schedule))
        return Verdict(True)

    def clear(
        self,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> int:
        """ClearChargingProfile: remove by id, or else every profile matching all criteria given."""

        def matches(item: InstalledProfile) -> bool:
            if profile_id is not None:
                return item.schedule.profile_id == profile_id
            return (
                (evse_id is None or item.evse_id == evse_id)
                and (purpose is None or item.schedule.purpose is purpose)
                and (stack_level is None or item.schedule.stack_level == stack_level)
            )

        kept = [item for item in self._profiles if not matches(item)]
        removed = len(self._profiles) - len(kept)
        self._profiles = kept
        return removed

    def _check_evse(self, evse_id: int) -> None:
        if evse_id not in self.evse_phases:
            raise ValueError(f"the station has no EVSE {evse_id}")

    def _rejection(self, evse_id: int, schedule: ChargingLimitSchedule) -> str:
        capabilities = self.capabilities
        purpose = schedule.purpose
        if not capabilities.smart_charging:
            return "this station takes no charging profiles"
        if evse_id != 0 and evse_id not in self.evse_phases:
            return f"no EVSE {evse_id}"
        if schedule.stack_level > capabilities.max_stack_level:
            return f"stack level {schedule.stack_level} above {capabilities.max_stack_level}"
        if len(schedule.periods) > capabilities.max_periods_per_schedule:
            return f"{len(schedule.periods)} periods, room for {capabilities.max_periods_per_schedule}"
        if schedule.rate_unit not in capabilities.rate_units:
            return f"rate unit {schedule.rate_unit} not supported"
        if purpose is ProfilePurpose.STATION_MAX and evse_id != 0:
            return "a station max profile belongs on EVSE 0"
        if purpose is ProfilePurpose.STATION_MAX and schedule.kind is ScheduleKind.RELATIVE:
            return "a station max profile cannot be relative"
        if purpose is ProfilePurpose.TX:
            running = self._transactions.get(evse_id)
            if running is None:
                return f"no transaction on EVSE {evse_id}"
            if schedule.transaction_id is not None and schedule.transaction_id != running.transaction_id:
                return f"transaction {schedule.transaction_id} is not the one on EVSE {evse_id}"
        return ""

    # -- the limit they make -----------------------------------------------------------------

    def limit_at(self, evse_id: int, instant: datetime, anchor: datetime | None = None) -> float | None:
        """The limit in W in force on `evse_id` (0: the whole station) at `instant`; None: none.

        `anchor` is where relative schedules start when no transaction runs (default `instant`).
        """
        if evse_id != 0:
            self._check_evse(evse_id)
        cap = self._winner(self._candidates(evse_id, ProfilePurpose.STATION_MAX), evse_id, instant, anchor)
        if evse_id == 0:
            return cap
        own = self._winner(self._candidates(evse_id, ProfilePurpose.TX), evse_id, instant, anchor)
        if own is None:
            own = self._winner(self._candidates(evse_id, ProfilePurpose.TX_DEFAULT), evse_id, instant, anchor)
        if own is None or cap is None:
            return cap if own is None else own
        return min(own, cap)

    def composite(
        self, evse_id: int, start: datetime, duration_s: int, rate_unit: RateUnit = RateUnit.W
    ) -> CompositeSchedule:
        """GetCompositeSchedule: the limits in force on `evse_id` from `start` for `duration_s`.

        Periods begin where any profile's period, schedule, recurrence or validity begins or ends;
        neighbours with the same limit are merged. Relative schedules without a transaction start
        at `start`. Ampere limits are per phase of the EVSE (of the supply for EVSE 0).
        """
        duration_s = max(1, min(duration_s, MAX_COMPOSITE_S))
        end = start + timedelta(seconds=duration_s)
        instants = {start}
        for item in self._relevant(evse_id):
            instants.update(at for at in self._boundaries(item.schedule, evse_id, start, end) if start < at < end)
        phases = self.supply_phases if evse_id == 0 else self.evse_phases[evse_id]
        by_offset: dict[int, float | None] = {}
        for instant in sorted(instants):  # within one second, the later instant holds
            limit_w = self.limit_at(evse_id, instant, anchor=start)
            offset = math.floor((instant - start).total_seconds())
            by_offset[offset] = None if limit_w is None else self._from_watts(limit_w, rate_unit, phases)
        periods: list[tuple[int, float | None]] = []
        for offset, limit in by_offset.items():
            if not periods or periods[-1][1] != limit:
                periods.append((offset, limit))
        return CompositeSchedule(start, duration_s, rate_unit, periods)

    def _candidates(self, evse_id: int, purpose: ProfilePurpose) -> list[InstalledProfile]:
        """Profiles of `purpose` that may apply to `evse_id`, strongest first."""
        if purpose is ProfilePurpose.STATION_MAX:
            found = [item for item in self._profiles if item.schedule.purpose is purpose]
        elif purpose is ProfilePurpose.TX:
            running = self._transactions.get(evse_id)
            if running is None:
                return []
            found = [
                item
                for item in self._profiles
                if item.evse_id == evse_id
                and item.schedule.purpose is purpose
                and item.schedule.transaction_id in {None, running.transaction_id}
            ]
        else:
            found = [item for item in [*self.profiles(0), *self.profiles(evse_id)] if item.schedule.purpose is purpose]
        return sorted(found, key=lambda item: (item.schedule.stack_level, item.evse_id != 0), reverse=True)

    def _relevant(self, evse_id: int) -> list[InstalledProfile]:
        if evse_id == 0:
            return self._candidates(0, ProfilePurpose.STATION_MAX)
        return [
            *self._candidates(evse_id, ProfilePurpose.STATION_MAX),
            *self._candidates(evse_id, ProfilePurpose.TX),
            *self._candidates(evse_id, ProfilePurpose.TX_DEFAULT),
        ]

    def _winner(
        self, candidates: list[InstalledProfile], evse_id: int, instant: datetime, anchor: datetime | None
    ) -> float | None:
        """The limit in W of the strongest candidate in force at `instant`."""
        phases = self.supply_phases if evse_id == 0 else self.evse_phases[evse_id]
        for item in candidates:
            schedule = item.schedule
            if not schedule.valid_at(instant):
                continue
            offset = self._offset_s(schedule, evse_id, instant, anchor or instant)
            if offset is None:
                continue
            period = [period for period in schedule.periods if period.start_offset_s <= offset][-1]
            used = min(period.number_phases or 3, phases)
            return self._to_watts(period.limit, schedule.rate_unit, used)
        return None

    def _start_of(self, schedule: ChargingLimitSchedule, evse_id: int, anchor: datetime) -> datetime:
        if schedule.kind is ScheduleKind.RELATIVE:
            running = self._transactions.get(evse_id)
            return running.started_at if running is not None else anchor
        assert schedule.start is not None  # the model requires it for absolute and recurring
        return schedule.start

    def _offset_s(
        self, schedule: ChargingLimitSchedule, evse_id: int, instant: datetime, anchor: datetime
    ) -> float | None:
        """Seconds into the schedule at `instant`, None where it is not running."""
        offset = (instant - self._start_of(schedule, evse_id, anchor)).total_seconds()
        if offset < 0:
            return None
        if schedule.recurrency is not None:
            offset %= RECURRENCE_S[schedule.recurrency]
        if schedule.duration_s is not None and offset >= schedule.duration_s:
            return None
        return offset

    def _boundaries(
        self, schedule: ChargingLimitSchedule, evse_id: int, start: datetime, end: datetime
    ) -> Iterator[datetime]:
        """Every instant in [start, end] where the schedule may change what it says."""
        yield from (at for at in (schedule.valid_from, schedule.valid_to) if at is not None)
        first = self._start_of(schedule, evse_id, start)
        offsets = [period.start_offset_s for period in schedule.periods]
        if schedule.duration_s is not None:
            offsets.append(schedule.duration_s)
        if schedule.recurrency is None:
            origins = [first]
        else:
            every = RECURRENCE_S[schedule.recurrency]
            since = max(0, math.floor((start - first).total_seconds() / every))
            until = math.ceil((end - first).total_seconds() / every)
            origins = [first + timedelta(seconds=repeat * every) for repeat in range(since, until + 1)]
        for origin in origins:
            for offset in offsets:
                if (start - origin).total_seconds() <= offset <= (end - origin).total_seconds():
                    yield origin + timedelta(seconds=offset)  # within the window: no overflow

    def _to_watts(self, limit: float, unit: RateUnit, phases: int) -> float:
        if unit is RateUnit.W:
            return limit
        return current_to_power_kw(limit, self.voltage_v, phases) * WATTS_PER_KW

    def _from_watts(self, limit_w: float, unit: RateUnit, phases: int) -> float:
        if unit is RateUnit.W:
            return limit_w
        return power_to_current_a(limit_w / WATTS_PER_KW, self.voltage_v, phases)

"""From an allocation to the profiles that change something, sent and acknowledged.

A gun gets a new tx profile when it holds none for its session, when the one it holds is about to
end (each runs for `hold` only, so that a station nobody steers any more falls back to its
fallback limit), when it would cross between 0 and charging, or when its limit changes:

- a rise only beyond the deadband (1 A for ampere-steered guns, 0.5 kW for the others), so that
  small wiggles of the plan do not keep stations busy;
- a fall by more than `LOWER_TOLERANCE_*` (OCPP's 0.1 A resolution), now or at any later instant:
  the profile held and the new one are compared at every step start of either (a held step may
  begin between two of the new plan's), and past the new one's end if the held one lasts longer.
  A fall left within the deadband on many guns would add up to more than a node's limit, so none
  is left out.

The profile carries the plan's next steps until its end, compiled for the station's capabilities.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd

from connectors.ocpp.commands import CommandOutcome, StationCommander
from connectors.ocpp.profiles import profile_for_gun
from connectors.state import HeldLimit, LiveState
from models import Allocation, ChargingLimitSchedule, Gun, GunLimit, ProfilePurpose, StationCapabilities

LOGGER = logging.getLogger(__name__)
LOWER_TOLERANCE_A = 0.1
LOWER_TOLERANCE_KW = 0.05


@dataclass(frozen=True)
class Deadband:
    a: float
    kw: float


@dataclass(frozen=True)
class Push:
    """One gun's new profile, and the limit it carries now."""

    gun: Gun
    transaction_id: str
    limit: GunLimit
    later_kw: list[tuple[datetime, float]]
    schedule: ChargingLimitSchedule
    until: datetime


@dataclass(frozen=True)
class PushResult:
    push: Push
    outcome: CommandOutcome | None
    """None: no answer within the run's acknowledgement timeout."""
    latency_s: float | None


def needs_push(
    held: HeldLimit | None,
    new: GunLimit,
    now: datetime,
    deadband: Deadband,
    renew: timedelta,
    later_kw: Sequence[tuple[datetime, float]] = (),
    until: datetime | None = None,
) -> bool:
    """Whether a gun holding `held` must be sent `new` now and `later_kw` after, until `until`
    (None: no end), as the module docstring says."""
    if held is None:
        return True
    if held.until is not None and held.until - now <= renew:
        return True
    if _falls_later(held, new.limit_kw, now, later_kw, until):
        return True
    held_kw = held.kw_at(now)
    if (held_kw > 0) != (new.limit_kw > 0):
        return True
    first_step_holds = not any(start <= now for start, _ in held.later_kw)  # `limit_a` is the first step's
    if new.limit_a is not None and held.limit_a is not None and first_step_holds:
        change, band, tolerance = new.limit_a - held.limit_a, deadband.a, LOWER_TOLERANCE_A
    else:
        change, band, tolerance = new.limit_kw - held_kw, deadband.kw, LOWER_TOLERANCE_KW
    return change >= band if change > 0 else -change > tolerance


def _falls_later(
    held: HeldLimit, new_kw: float, now: datetime, later_kw: Sequence[tuple[datetime, float]], until: datetime | None
) -> bool:
    """Whether the held profile allows more than the new one at some instant after `now`.

    Both are step functions, so they are compared at every step start of either, within the window
    the new profile covers, and past its end, where the held one would go on were it not replaced,
    with the new one's last limit.
    """
    new = HeldLimit(new_kw, None, now, until, 0, tuple(later_kw))
    starts = {start for start, _ in later_kw} | {start for start, _ in held.later_kw if start > now}
    for start in sorted(starts):
        if held.until is not None and start >= held.until:
            break
        if held.kw_at(start) - new.kw_at(start) > LOWER_TOLERANCE_KW:
            return True
    return False


def plan_pushes(
    allocation: Allocation,
    guns: Mapping[str, Gun],
    state: LiveState,
    capabilities_of: Callable[[str], StationCapabilities | None],
    now: datetime,
    deadband: Deadband,
    hold: timedelta,
    renew: timedelta,
) -> list[Push]:
    """The profiles to send: for steered guns with a session whose station is connected."""
    pushes = []
    until = now + hold
    for gun_id, limit in allocation.limits_now.items():
        gun_state = state.guns.get(gun_id)
        gun = guns.get(gun_id)
        if gun is None or gun_state is None or gun_state.session is None:
            continue
        capabilities = capabilities_of(gun.station_id)
        later_kw = _later_steps(allocation.power_kw, gun_id, now, until)
        if capabilities is None or not needs_push(gun_state.held, limit, now, deadband, renew, later_kw, until):
            continue
        steps = [(now, limit.limit_kw), *later_kw]
        transaction_id = gun_state.session.transaction_id
        try:
            schedule = profile_for_gun(
                steps, gun, capabilities, purpose=ProfilePurpose.TX, transaction_id=transaction_id, end=until
            )
        except ValueError as error:
            LOGGER.warning("no profile for %s: %s", gun_id, error)
            continue
        pushes.append(Push(gun, transaction_id, limit, later_kw, schedule, until))
    return pushes


def _later_steps(power_kw: pd.DataFrame, gun_id: str, now: datetime, until: datetime) -> list[tuple[datetime, float]]:
    if gun_id not in power_kw.columns:
        return []
    steps = []
    starts = pd.DatetimeIndex(power_kw.index).floor("us").to_pydatetime()  # whole microseconds are enough
    for start, value in zip(starts, power_kw[gun_id].to_numpy(), strict=True):
        if now + timedelta(seconds=1) <= start < until:
            steps.append((start, float(value)))
    return steps


async def send_pushes(
    pushes: list[Push],
    commanders: Mapping[str, StationCommander],
    state: LiveState,
    clock: Callable[[], datetime],
    timeout_s: float,
    current_kw: Callable[[str], float],
    follow_s: float,
    defaults: DefaultSteps | None = None,
) -> tuple[list[PushResult], bool]:
    """Send the pushes and wait for the answers: first every fall, then every rise.

    A gun's rise may use power that another gun's fall frees, so the rises wait until the falls
    are acknowledged and the cars had `follow_s` (real seconds) to follow them; if a fall was not
    accepted, the rises wait for the next run. `current_kw` is what a gun may draw now (its held
    limit, else its tx default). `defaults` lowers the idle guns' tx defaults before the falls
    (they count as falls); their rises are the caller's, once the falls are in force. Within a
    stage every station's queue keeps its own order. An accepted profile becomes what its gun
    holds, if its session is still the one it was for. Returns the results, and whether every fall
    was accepted (the rises were sent).
    """
    falls = [push for push in pushes if push.limit.limit_kw < current_kw(push.gun.id)]
    rises = [push for push in pushes if push.limit.limit_kw >= current_kw(push.gun.id)]
    lowered, defaults_ok = (0, True) if defaults is None else await defaults.lower()
    results = await _send_stage(falls, commanders, state, clock, timeout_s)
    if defaults_ok and all(result.outcome is not None and result.outcome.ok for result in results):
        if (results or lowered) and (rises or (defaults is not None and defaults.rises_pending())):
            await asyncio.sleep(follow_s)
        results += await _send_stage(rises, commanders, state, clock, timeout_s)
        return results, True
    if rises:
        falls_sent = len(results) + lowered
        LOGGER.info("%d rises wait for the next run: %d falls were not all accepted", len(rises), falls_sent)
    return results, False


class DefaultSteps(Protocol):
    """The tx defaults' part of a run: lowered before the plans' falls (raised after their rises)."""

    async def lower(self) -> tuple[int, bool]:
        """Send the falls and wait for their answers: (how many, all accepted)."""
        ...

    def rises_pending(self) -> bool:
        """Whether tx defaults wait to rise (then the cars are given time to follow the falls)."""
        ...


async def _send_stage(
    pushes: list[Push],
    commanders: Mapping[str, StationCommander],
    state: LiveState,
    clock: Callable[[], datetime],
    timeout_s: float,
) -> list[PushResult]:
    sent: list[tuple[Push, asyncio.Task[tuple[CommandOutcome, float]]]] = []
    for push in pushes:
        commander = commanders.get(push.gun.station_id)
        if commander is not None:
            answer = commander.set_profile(push.gun.evse_id, push.schedule)
            sent.append((push, asyncio.ensure_future(_timed(answer))))
    if sent:
        # not cancelled past the timeout: a late answer still becomes an event, and is held next run
        await asyncio.wait([task for _, task in sent], timeout=timeout_s)
    results = []
    for push, task in sent:
        outcome, latency_s = task.result() if task.done() else (None, None)
        if outcome is not None and outcome.ok:
            _hold(state, push, clock())
        results.append(PushResult(push, outcome, latency_s))
    return results


async def _timed(answer: Awaitable[CommandOutcome]) -> tuple[CommandOutcome, float]:
    began = time.perf_counter()
    outcome = await answer
    return outcome, time.perf_counter() - began


def _hold(state: LiveState, push: Push, at: datetime) -> None:
    gun_state = state.guns.get(push.gun.id)
    if gun_state is None or gun_state.session is None or gun_state.session.transaction_id != push.transaction_id:
        return
    gun_state.held = HeldLimit(
        push.limit.limit_kw, push.limit.limit_a, at, push.until, push.schedule.profile_id, tuple(push.later_kw)
    )

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

`send_pushes` keeps the site within its limits while the guns move from the old plan to the new:
the falls first, with only the rises that fit while the falls are still drawn (`TransitionRoom`),
and the other rises once the falls are accepted and the cars had time to follow them.
"""

from __future__ import annotations

import asyncio
import logging
import math
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
ROUNDING_KW = 1e-6
"""Room a rise may overrun by: the rounding of float sums over a thousand guns (picowatts), far below
anything a station can carry (0.1 W, 0.1 A); without it the last of many rises that exactly fill the
room waits for the next stage."""
ROUNDING_A = 1e-6


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
    later = _LaterSteps(allocation.power_kw, now, until)
    for gun_id, limit in allocation.limits_now.items():
        gun_state = state.guns.get(gun_id)
        gun = guns.get(gun_id)
        if gun is None or gun_state is None or gun_state.session is None:
            continue
        capabilities = capabilities_of(gun.station_id)
        later_kw = later.of(gun_id)
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


class _LaterSteps:
    """The plan's steps that start from a second after `now` until `until`, per gun: (start, kW).

    The step starts are converted once per plan, not once per gun (0.35 s a run at 1,000 guns).
    """

    def __init__(self, power_kw: pd.DataFrame, now: datetime, until: datetime) -> None:
        starts = pd.DatetimeIndex(power_kw.index).floor("us").to_pydatetime()  # whole microseconds are enough
        rows = [row for row, start in enumerate(starts) if now + timedelta(seconds=1) <= start < until]
        self._starts: list[datetime] = [starts[row] for row in rows]
        self._column = {gun_id: column for column, gun_id in enumerate(power_kw.columns)}
        self._values_kw = power_kw.to_numpy(dtype=float)[rows]

    def of(self, gun_id: str) -> list[tuple[datetime, float]]:
        column = self._column.get(gun_id)
        if column is None:
            return []
        return list(zip(self._starts, self._values_kw[:, column].tolist(), strict=True))


async def send_pushes(
    pushes: list[Push],
    commanders: Mapping[str, StationCommander],
    state: LiveState,
    clock: Callable[[], datetime],
    timeout_s: float,
    current_kw: Callable[[str], float],
    follow_s: float,
    defaults: DefaultSteps | None = None,
    room: TransitionRoom | None = None,
) -> tuple[list[PushResult], bool]:
    """Send the pushes and wait for the answers: every fall, and the rises that fit meanwhile, then the other rises.

    A gun's rise may use power that another gun's fall frees, so such a rise waits until the falls
    are acknowledged and the cars had `follow_s` (real seconds) to follow them; if a fall was not
    accepted, it waits for the next run. A rise that fits the limits while every fall is still
    drawn at its old limit (`room`, see `TransitionRoom`) goes with the falls. `current_kw` is
    what a gun may draw now (its held limit, else its tx default). `defaults` lowers the guns' tx
    defaults (they count as falls) and queues the stations' fallbacks that moved; their rises are
    the caller's, once the falls are in force. Within a stage every station's queue keeps its own
    order. An accepted profile becomes what its gun holds, if its session is still the one it was
    for. Returns the results, and whether every fall was accepted (every rise was sent).

    The live limits go first: the plans' profiles, and the idle guns' tx defaults queued behind them
    (a car plugging into an idle gun draws its tx default; those falls were sent already when the
    limit changed, `GunDefaults.lower_now`). Once they are answered, the tx defaults of the guns
    with a session fall, and the fallbacks that moved (EVSE 0's tx default, the offline-fallback
    setting) follow. That order brings the site within a lowered limit soonest, and sooner than
    any other: a gun with a session draws what its tx profile allows, whatever its tx default or
    EVSE 0's says, so the new tx profile is what keeps the site within the new limit now, and
    sending anything else first, or alongside (each command costs both sides CPU), delays it. A
    gun's tx default and its station's fallbacks take over only once its tx profile ends (it runs
    for `hold`, minutes), a new session starts on the gun before the next run, or the station stops
    hearing from us, and they are sent within the same run, seconds later. The fallbacks fit every
    node once they are in place, as before. Should the service die in between, the stations hold
    their new tx profiles and their old tx defaults (too high only once those profiles end, unless
    the service is back by then), where the other order would have left them their old tx profiles:
    the site over its new limit at once, for as long as those ran.
    """
    falls = [push for push in pushes if push.limit.limit_kw < current_kw(push.gun.id)]
    rises = [push for push in pushes if push.limit.limit_kw >= current_kw(push.gun.id)]
    early = room.fitting_rises(falls, rises) if room is not None else []
    sent_early = {id(push) for push in early}
    late = [push for push in rises if id(push) not in sent_early]
    # the live limits first (the plans' profiles queued before the idle guns' tx defaults), the rest after
    stage = asyncio.ensure_future(_send_stage(falls + early, commanders, state, clock, timeout_s))
    live = asyncio.ensure_future(defaults.lower_live() if defaults is not None else _nothing_lowered())
    results, (lowered, defaults_ok) = await asyncio.gather(stage, live)
    if defaults is not None:
        lowered_rest, rest_ok = await defaults.lower_rest()
        lowered, defaults_ok = lowered + lowered_rest, defaults_ok and rest_ok
    falls_ok = all(
        result.outcome is not None and result.outcome.ok for result in results if id(result.push) not in sent_early
    )
    if defaults_ok and falls_ok:
        if (falls or lowered) and (late or (defaults is not None and defaults.rises_pending())):
            await asyncio.sleep(follow_s)
        results += await _send_stage(late, commanders, state, clock, timeout_s)
        return results, True
    if late:
        LOGGER.info("%d rises wait for the next run: %d falls were not all accepted", len(late), len(falls) + lowered)
    return results, False


async def _nothing_lowered() -> tuple[int, bool]:
    return 0, True


@dataclass(frozen=True)
class TransitionRoom:
    """What a site's limit tree leaves for rises while its guns move from what they hold to a new plan.

    Until the falls are in force, a gun whose limit falls may still draw its old limit, and one
    whose rise is not sent yet its old one too (less than the plan's). Over the steps the
    transition may last (`until`), the plan leaves `headroom_kw` / `headroom_a` at each node, and
    each gun may draw `may_draw_kw[gun] - planned_kw[gun]` more than the plan gives it (less, for a
    rise not yet sent; an idle gun's tx default is all extra: the plan gives it nothing). A rise
    fits when, with it at its new limit and everything else as it may draw, every node above its
    gun keeps a headroom of at least 0: at every node, the sum over its guns of the larger of the
    limit still possibly drawn and the new one, with the reserved load of uncontrolled guns (in the
    plan), is within the node's limit. On per-phase limits an excess counts on the phase it loads
    most (`a_per_kw`), and a gun drawing less than its plan frees nothing there.
    """

    headroom_kw: Mapping[str, float]
    """Per node with a kW limit: the plan's least headroom over the transition."""
    headroom_a: Mapping[str, float]
    """Per node with an A limit: the plan's least headroom on its most loaded phase over the transition."""
    ancestors: Mapping[str, Sequence[str]]
    planned_kw: Mapping[str, float]
    """Per gun the plan steers: the least it gives the gun over the transition."""
    may_draw_kw: Mapping[str, float]
    """Per gun we steer, with a session or idle: the most it may draw over the transition."""
    a_per_kw: Mapping[str, float]
    until: datetime

    def fitting_rises(self, falls: Sequence[Push], rises: Sequence[Push]) -> list[Push]:
        """The rises that fit at once, in the order given, each counted with those before it."""
        bound_kw = dict(self.may_draw_kw)
        for push in falls:
            bound_kw[push.gun.id] = max(bound_kw.get(push.gun.id, math.inf), self._new_kw(push))
        slack_kw = dict(self.headroom_kw)
        slack_a = dict(self.headroom_a)
        for gun_id, drawn_kw in bound_kw.items():
            extra_kw = drawn_kw - self.planned_kw.get(gun_id, 0.0)
            self._take(slack_kw, slack_a, gun_id, extra_kw, self._a_of(gun_id, max(extra_kw, 0.0)))
        fitting = []
        for push in rises:
            gun_id = push.gun.id
            old_kw = bound_kw.get(gun_id, math.inf)
            new_kw = max(old_kw, self._new_kw(push))
            planned_kw = self.planned_kw.get(gun_id, 0.0)
            more_kw = new_kw - old_kw
            more_a = self._a_of(gun_id, max(new_kw - planned_kw, 0.0) - max(old_kw - planned_kw, 0.0))
            nodes = self.ancestors.get(gun_id, ())
            if not nodes or not math.isfinite(more_kw) or not math.isfinite(more_a):
                continue
            if all(
                slack_kw.get(node, math.inf) >= more_kw - ROUNDING_KW
                and slack_a.get(node, math.inf) >= more_a - ROUNDING_A
                for node in nodes
            ):
                self._take(slack_kw, slack_a, gun_id, more_kw, more_a)
                bound_kw[gun_id] = new_kw
                fitting.append(push)
        return fitting

    def _a_of(self, gun_id: str, kw: float) -> float:
        """The most current `kw` through the gun puts on one phase (inf: a gun of unknown wiring)."""
        return kw * self.a_per_kw.get(gun_id, math.inf) if kw > 0 else 0.0

    def _take(self, slack_kw: dict[str, float], slack_a: dict[str, float], gun_id: str, kw: float, a: float) -> None:
        for node_id in self.ancestors.get(gun_id, ()):
            if node_id in slack_kw:
                slack_kw[node_id] -= kw
            if node_id in slack_a:
                slack_a[node_id] -= a

    def _new_kw(self, push: Push) -> float:
        """The most the push's profile allows over the transition."""
        return max([push.limit.limit_kw, *(kw for start, kw in push.later_kw if start < self.until)])


class DefaultSteps(Protocol):
    """The tx defaults' part of a run: lowered with the plans' falls or after them (raised after the rises)."""

    async def lower_live(self) -> tuple[int, bool]:
        """Send the falls that are live limits (the idle guns') and wait for their answers: (how many, all accepted)."""
        ...

    async def lower_rest(self) -> tuple[int, bool]:
        """Send the other falls and the fallbacks that moved, and wait for the falls' answers."""
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

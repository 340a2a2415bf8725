"""Each gun's own tx default on its EVSE: its fallback, or less while it is idle and the plans use the room.

The station's tx default on EVSE 0 (sent at boot, `failsafe`) is the smallest fallback of its
guns; each gun of a station that takes profiles also gets a tx default of its own, which wins over
EVSE 0's. It is the gun's fallback (`Failsafe.gun_kw`), cut for an idle gun to its share of what
the last plan leaves, and for a gun with a session to the least its plan gives it while that plan
may be in force (`idle_defaults`, through `cut_to_plan`): a car that plugs in right after the last
one left draws the tx default until the next run, and may then take no more than the plan held
for that gun.

A lowered tx default is safe at once; a raised one may use room that falls free only when the
plans' falls are in force. So the runs send the falls first and wait for their answers (`lower`),
and the rises only after the plans' rises (`raise_`). An active gun's tx default goes back up to its
fallback only once it holds a plan for its session (a tx profile wins over tx defaults).

`may_hold_kw` is, per gun, the most its tx default may allow: the larger of what was sent and not
yet acknowledged and what was, and the fallback for a gun never sent one (EVSE 0's is no more).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.failsafe import CHANGE_KW, Failsafe
from connectors.idle_defaults import active_gun_limits, idle_gun_limits
from connectors.ocpp.commands import CommandOutcome
from connectors.ocpp.profiles import profile_for_gun
from connectors.ocpp.server import StationRegistry
from connectors.snapshots import uncontrolled_reason
from connectors.state import LiveState
from models import Allocation, ChargingLimitSchedule, Gun, ProfilePurpose, Site, StationCapabilities

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class DefaultChange:
    """One gun's new tx default, for the connection it goes to (its profile is built when it is sent)."""

    gun: Gun
    limit_kw: float
    capabilities: StationCapabilities
    connection: int

    def schedule(self, at: datetime) -> ChargingLimitSchedule:
        """The tx default from `at` on; ValueError when the station's capabilities cannot carry it."""
        return profile_for_gun([(at, self.limit_kw)], self.gun, self.capabilities, purpose=ProfilePurpose.TX_DEFAULT)


class GunDefaults:
    """The per-gun tx defaults of every site: what each gun should hold, what it may hold, and sending them."""

    def __init__(
        self,
        failsafe: Failsafe,
        registry: StationRegistry,
        state: LiveState,
        capabilities_of: Callable[[str], StationCapabilities | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.failsafe = failsafe
        self.registry = registry
        self.state = state
        self.capabilities_of = capabilities_of
        self.clock = clock
        self._idle_kw: dict[str, float] = {}
        """Per idle gun, its share of the last plan's room (absent: no cut)."""
        self._active_kw: dict[str, float] = {}
        """Per gun with a session, the least its last plan gives it while that plan may be in force."""
        self._may_hold_kw: dict[str, float] = {}
        self._background: set[asyncio.Task[list[CommandOutcome | None]]] = set()
        self._acknowledged: dict[str, tuple[int, float]] = {}
        """Per gun, (connection, kW) of the last tx default of its own its station accepted on that connection."""
        self._in_flight: dict[str, tuple[DefaultChange, asyncio.Future[CommandOutcome]]] = {}
        """Per gun, its tx default sent last and not yet answered."""

    def cut_to_plan(self, site: Site, allocation: Allocation, now: datetime, hold: timedelta, step: timedelta) -> None:
        """Cut the tx defaults to `allocation` while its plans may be in force: the idle guns' to the
        room it leaves, the others' to what it gives each of them.

        The plan must hold the idle guns that cannot be steered (`unsteered_idle_kw`) as load.
        """
        guns = site.guns()
        steered_kw = {}
        for gun in guns.values():
            fallback_kw = self.failsafe.gun_kw(gun.id)
            if fallback_kw is not None and self._idle(gun.id) and self._steerable(gun):
                steered_kw[gun.id] = fallback_kw
        idle_kw = idle_gun_limits(site, allocation, steered_kw, (now, now + hold), step)
        for gun_id in guns:
            self._idle_kw.pop(gun_id, None)
            self._active_kw.pop(gun_id, None)
        self._idle_kw.update(idle_kw)
        self._active_kw.update(active_gun_limits(allocation, (now, now + hold), step))

    def unsteered_idle_kw(self, site: Site) -> dict[str, float]:
        """The idle guns that cannot be steered, at what a car plugged in may draw: a station that refuses
        profiles its gun's rating, one that is away the tx default it was last sent (at most its fallback).
        The plans reserve them, as the optimizer does a session it cannot steer."""
        reserved_kw = {}
        for gun in site.guns().values():
            if not self._idle(gun.id) or self._steerable(gun):
                continue
            away = self.registry.get(gun.station_id) is None
            reserved_kw[gun.id] = self.may_hold_kw(gun.id) if away else gun.max_kw(None)
        return reserved_kw

    def _idle(self, gun_id: str) -> bool:
        gun_state = self.state.guns.get(gun_id)
        return gun_state is None or gun_state.session is None

    def _steerable(self, gun: Gun) -> bool:
        return uncontrolled_reason(self.state, gun.id) is None and self.capabilities_of(gun.station_id) is not None

    def forget(self, gun_ids: list[str]) -> None:
        for gun_id in gun_ids:
            self._idle_kw.pop(gun_id, None)
            self._active_kw.pop(gun_id, None)
            self._may_hold_kw.pop(gun_id, None)
            self._acknowledged.pop(gun_id, None)
            self._in_flight.pop(gun_id, None)

    def may_hold_kw(self, gun_id: str) -> float:
        """The most the gun's tx default may allow now (inf: a gun of no known site)."""
        fallback_kw = self.failsafe.gun_kw(gun_id)
        if gun_id in self._may_hold_kw:
            return self._may_hold_kw[gun_id]
        return float("inf") if fallback_kw is None else fallback_kw

    def wanted_kw(self, gun_id: str) -> float | None:
        """The tx default the gun should hold: its fallback, cut while idle; None without a fallback."""
        fallback_kw = self.failsafe.gun_kw(gun_id)
        if fallback_kw is None:
            return None
        gun = self.state.guns.get(gun_id)
        if gun is not None and gun.session is not None:
            return min(fallback_kw, self._active_kw.get(gun_id, fallback_kw))
        return min(fallback_kw, self._idle_kw.get(gun_id, fallback_kw))

    def changes(self, site: Site) -> tuple[list[DefaultChange], list[DefaultChange]]:
        """The tx defaults of `site`'s guns to send: (falls, rises); an active gun rises only once it holds a plan."""
        falls, rises = [], []
        for gun in site.guns().values():
            change = self._change(gun)
            if change is None:
                continue
            if change.limit_kw < self.may_hold_kw(gun.id) - CHANGE_KW:
                falls.append(change)
            else:
                gun_state = self.state.guns.get(gun.id)
                if gun_state is None or gun_state.session is None or gun_state.held is not None:
                    rises.append(change)
        return falls, rises

    async def lower(
        self, site: Site, timeout_s: float, *, idle: bool, then: Callable[[], None] | None = None
    ) -> tuple[int, bool]:
        """Send the falls of the idle guns (`idle`) or of the others, then call `then` (more to queue
        behind them), and wait up to `timeout_s` for the falls' answers: (how many, all accepted)."""
        falls, _ = self.changes(site)
        falls = [change for change in falls if self._idle(change.gun.id) == idle]
        outcomes = await self._send(falls, timeout_s, then)
        return len(falls), all(outcome is not None and outcome.ok for outcome in outcomes)

    def lower_now(self, site: Site, *, idle_only: bool = False) -> None:
        """Send the falls without waiting (a site changed between runs); the rises wait for a run.

        `idle_only`: only the idle guns' (the next run follows at once): for them the tx default is
        the limit a car plugging in draws now, while a gun with a session draws its tx profile, which
        the run lowers first, its tx default right behind.
        """
        falls, _ = self.changes(site)
        if idle_only:
            falls = [change for change in falls if self._idle(change.gun.id)]
        if falls:
            task = asyncio.get_running_loop().create_task(self._send(falls, timeout_s=None))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def raise_(self, site: Site, timeout_s: float) -> None:
        """Send the rises (once the plans' falls are in force) and wait up to `timeout_s` for their answers."""
        _, rises = self.changes(site)
        await self._send(rises, timeout_s)

    def _change(self, gun: Gun) -> DefaultChange | None:
        handler = self.registry.get(gun.station_id)
        capabilities = self.capabilities_of(gun.station_id)
        wanted_kw = self.wanted_kw(gun.id)
        if handler is None or capabilities is None or not capabilities.smart_charging or wanted_kw is None:
            return None
        acknowledged = self._acknowledged.get(gun.id)
        if acknowledged is not None and acknowledged[0] == id(handler) and abs(acknowledged[1] - wanted_kw) < CHANGE_KW:
            return None
        return DefaultChange(gun, wanted_kw, capabilities, id(handler))

    async def _send(
        self, changes: list[DefaultChange], timeout_s: float | None, then: Callable[[], None] | None = None
    ) -> list[CommandOutcome | None]:
        """Send `changes`, call `then`, and wait for the answers; what each may hold is the larger of
        before and after until it is accepted.

        A change already sent and not yet answered (the same tx default, on the same connection) is
        not sent again: its answer is awaited.
        """
        sent = []
        for change in changes:
            handler = self.registry.get(change.gun.station_id)
            if handler is None or id(handler) != change.connection:
                continue
            gun_id = change.gun.id
            in_flight = self._in_flight.get(gun_id)
            if in_flight is not None and _same(in_flight[0], change) and not in_flight[1].done():
                sent.append((change, in_flight[1]))
                continue
            try:
                schedule = change.schedule(self.clock())
            except ValueError as error:
                LOGGER.warning("no tx default for %s: %s", gun_id, error)
                continue
            self._may_hold_kw[gun_id] = max(self.may_hold_kw(gun_id), change.limit_kw)
            answer = asyncio.ensure_future(handler.commands.set_profile(change.gun.evse_id, schedule))
            self._in_flight[gun_id] = (change, answer)
            sent.append((change, answer))
        if then is not None:
            then()
        if not sent:
            return []
        await asyncio.wait({task for _, task in sent}, timeout=timeout_s)
        outcomes: list[CommandOutcome | None] = []
        for change, task in sent:
            outcome = task.result() if task.done() else None
            if outcome is not None and outcome.ok:
                self._may_hold_kw[change.gun.id] = change.limit_kw
                self._acknowledged[change.gun.id] = (change.connection, change.limit_kw)
            if task.done() and self._in_flight.get(change.gun.id, (None, None))[1] is task:
                del self._in_flight[change.gun.id]
            outcomes.append(outcome)
        return outcomes


def _same(sent: DefaultChange, change: DefaultChange) -> bool:
    return sent.connection == change.connection and abs(sent.limit_kw - change.limit_kw) < CHANGE_KW


@dataclass(frozen=True)
class SiteDefaults:
    """One run's `push.DefaultSteps`: the tx defaults of one site, answers to falls awaited up to `timeout_s`;
    `fallbacks` queues the stations' fallbacks that moved, behind the other guns' tx defaults' falls."""

    defaults: GunDefaults
    site: Site
    timeout_s: float
    fallbacks: Callable[[], None] | None = None

    async def lower_live(self) -> tuple[int, bool]:
        return await self.defaults.lower(self.site, self.timeout_s, idle=True)

    async def lower_rest(self) -> tuple[int, bool]:
        return await self.defaults.lower(self.site, self.timeout_s, idle=False, then=self.fallbacks)

    def rises_pending(self) -> bool:
        return bool(self.defaults.changes(self.site)[1])

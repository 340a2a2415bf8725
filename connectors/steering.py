"""The second half of a run: from a site's allocation to its stations, in an order that keeps the limits.

The idle guns' tx defaults are cut to the room the plan leaves (`gun_defaults`), then the profiles
that change something are sent (`push`): the plans' falls, with the plans' rises that fit while
every fall is still drawn at its old limit (`transition_room`), and behind them in each station's
queue the tx defaults' falls and the fallbacks that moved; once the falls are in force the other
rises and the tx defaults' rises. What the stations accepted
is kept in the store, so that a restart knows which transactions its profiles were for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pandas as pd

from connectors.clocks import clock_seconds
from connectors.gun_defaults import GunDefaults, SiteDefaults
from connectors.ocpp.server import StationRegistry
from connectors.push import Deadband, PushResult, TransitionRoom, plan_pushes, send_pushes
from connectors.settings import Settings
from connectors.state import LiveState
from connectors.store.protocol import AcknowledgedProfile, Store
from models import Allocation, Site, StationCapabilities


class Steering:
    """Pushes each run's allocation to the stations (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        state: LiveState,
        registry: StationRegistry,
        gun_defaults: GunDefaults,
        capabilities_of: Callable[[str], StationCapabilities | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.store = store
        self.state = state
        self.registry = registry
        self.gun_defaults = gun_defaults
        self.capabilities_of = capabilities_of
        self.clock = clock

    async def steer(
        self, site: Site, allocation: Allocation, fallbacks: Callable[[], None] | None = None
    ) -> list[PushResult]:
        """Send what changed and wait for the answers (up to the acknowledgement timeout per stage);
        `fallbacks` queues the stations' fallbacks that moved, behind the live limits."""
        options = self.settings.scheduler
        hold = timedelta(seconds=options.profile_hold_s)
        self.gun_defaults.cut_to_plan(site, allocation, self.clock(), hold, self.settings.optimizer.step)
        pushes = plan_pushes(
            allocation,
            site.guns(),
            self.state,
            self.capabilities_of,
            self.clock(),
            Deadband(a=options.deadband_a, kw=options.deadband_kw),
            hold=hold,
            renew=clock_seconds(self.clock, 2 * options.interval_s + options.ack_timeout_s),
        )
        commanders = {station_id: handler.commands for station_id, handler in self.registry.connected.items()}
        transition_s = 2 * options.ack_timeout_s + options.follow_s  # the falls, the cars following, the rises
        room = self.transition_room(site, allocation, self.clock() + clock_seconds(self.clock, transition_s))
        results, settled = await send_pushes(
            pushes,
            commanders,
            self.state,
            self.clock,
            options.ack_timeout_s,
            self.current_kw,
            options.follow_s,
            SiteDefaults(self.gun_defaults, site, options.ack_timeout_s, fallbacks),
            room,
        )
        accepted = [
            AcknowledgedProfile(result.push.gun.id, result.push.schedule, self.clock())
            for result in results
            if result.outcome is not None and result.outcome.ok
        ]
        await self.store.put_acknowledged_profiles(accepted)  # one commit for the run, not one per gun
        if settled:  # the falls are in force: the tx defaults may rise into the room they freed
            await self.gun_defaults.raise_(site, options.ack_timeout_s)
        return results

    def transition_room(self, site: Site, allocation: Allocation, until: datetime) -> TransitionRoom | None:
        """What the plan leaves at each node until `until`, and what each gun we steer may draw meanwhile
        (see `push.TransitionRoom`); None when the plan has no step then."""
        now, step = self.clock(), self.settings.optimizer.step
        starts = pd.DatetimeIndex(allocation.power_kw.index)
        rows = (starts < pd.Timestamp(until)) & (starts + step > pd.Timestamp(now))
        if not rows.any():
            return None
        planned = allocation.power_kw[rows].min()
        steered = [gun_id for gun_id in site.guns() if gun_id in allocation.limits_now or gun_id not in planned.index]
        return TransitionRoom(
            headroom_kw=_least(allocation.headroom_kw[rows]),
            headroom_a=_least(allocation.headroom_a[rows]),
            ancestors=site.ancestors(),
            planned_kw={gun_id: float(planned[gun_id]) for gun_id in allocation.limits_now if gun_id in planned.index},
            may_draw_kw={gun_id: self.most_kw(gun_id, until) for gun_id in steered},
            a_per_kw={gun.id: max(gun.phase_current_a_per_kw(None).values()) for gun in site.guns().values()},
            until=until,
        )

    def most_kw(self, gun_id: str, until: datetime) -> float:
        """The most a gun may draw from now until `until`: its held plan while it runs, else its tx default."""
        now = self.clock()
        gun = self.state.guns.get(gun_id)
        held = gun.held if gun is not None and gun.session is not None else None
        if held is None:
            return self.gun_defaults.may_hold_kw(gun_id)
        held_kw = max([held.kw_at(now), *(kw for start, kw in held.later_kw if now < start < until)])
        if held.until is not None and held.until <= until:  # it may end meanwhile: the tx default takes over
            return max(held_kw, self.gun_defaults.may_hold_kw(gun_id))
        return held_kw

    def current_kw(self, gun_id: str) -> float:
        """What a gun may draw now: the limit it holds for its session, else its tx default (inf: unknown)."""
        gun = self.state.guns.get(gun_id)
        if gun is not None and gun.held is not None:
            return gun.held.kw_at(self.clock())
        return self.gun_defaults.may_hold_kw(gun_id)


def _least(headroom: pd.DataFrame) -> dict[str, float]:
    """Per node with such a limit, its least headroom over the rows."""
    return {str(node_id): float(value) for node_id, value in headroom.min().dropna().items()}

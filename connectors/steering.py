"""The second half of a run: from a site's allocation to its stations, in an order that keeps the limits.

The idle guns' tx defaults are cut to the room the plan leaves (`gun_defaults`), then the profiles
that change something are sent (`push`): the tx defaults' falls, the plans' falls, and once those
are in force the plans' rises and the tx defaults' rises. What the stations accepted is kept in the
store, so that a restart knows which transactions its profiles were for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from connectors.clocks import clock_seconds
from connectors.gun_defaults import GunDefaults, SiteDefaults
from connectors.ocpp.server import StationRegistry
from connectors.push import Deadband, PushResult, plan_pushes, send_pushes
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

    async def steer(self, site: Site, allocation: Allocation) -> list[PushResult]:
        """Send what changed and wait for the answers (up to the acknowledgement timeout per stage)."""
        options = self.settings.scheduler
        hold = timedelta(seconds=options.profile_hold_s)
        self.gun_defaults.plan_idle(site, allocation, self.clock(), hold, self.settings.optimizer.step)
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
        results, settled = await send_pushes(
            pushes,
            commanders,
            self.state,
            self.clock,
            options.ack_timeout_s,
            self.current_kw,
            options.follow_s,
            SiteDefaults(self.gun_defaults, site, options.ack_timeout_s),
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

    def current_kw(self, gun_id: str) -> float:
        """What a gun may draw now: the limit it holds for its session, else its tx default (inf: unknown)."""
        gun = self.state.guns.get(gun_id)
        if gun is not None and gun.held is not None:
            return gun.held.kw_at(self.clock())
        return self.gun_defaults.may_hold_kw(gun_id)

"""Fallback limits: what each station holds for when nobody steers it, within every limit of its site.

`optimizer.fallback_limits` gives each gun of a site a limit such that all of them together fit
every node of the tree for the next `hold`. They reach the stations in two ways:

- at boot, through the OCPP server's `BootLimitsPolicy` (`Failsafe.boot_limits`): a tx default on
  EVSE 0 at the smallest fallback of the station's guns, which every gun then holds;
- each gun's own tx default on its EVSE (it wins over EVSE 0's), sent by the runs (`gun_defaults`):
  its fallback, or less while it is idle and the plans of the others use the room;
- where the station has an offline-fallback setting of its own (vendor-specific, configured in
  `ocpp.offline_fallback_settings`): the sum of its guns' fallbacks, in W or as the current on each
  phase that keeps every phase its guns load within what their fallbacks allow there. Written at
  boot and whenever the fallback moves; it bounds the station once it has lost us, over the
  profiles it holds.

No station cap is sent: a cap at the sum of the fallbacks would also cap the plans, which may give
one gun more while another draws less. Plans themselves run for a bounded time only (see `push`),
so a station left alone returns to its tx defaults.

Every gun of the site counts, connected or not: a station that lost its connection keeps drawing
on the fallback it holds. They are recomputed at every run (a limit series may start) and when a
site changes, and sent again to the stations whose fallback moved.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta

from connectors.ocpp.fallback import BootLimits
from connectors.ocpp.server import StationRegistry
from models import Gun, LimitSeries, Site, SnapshotError, StationCapabilities
from optimizer.fallback_limits import FallbackLimits, fallback_limits

LOGGER = logging.getLogger(__name__)
CHANGE_KW = 0.05
"""A fallback that moved by less is not sent again (OCPP carries 0.1 A / 0.1 W)."""


class Failsafe:
    """The fallback limits of every site, and the stations they concern."""

    def __init__(self, hold: timedelta = timedelta(hours=24)) -> None:
        self.hold = hold
        self._limits: dict[str, FallbackLimits] = {}
        self._station_guns_of: dict[str, tuple[str, list[Gun]]] = {}
        """Per station: its site's id and its guns (one walk of the tree per update, not per station)."""

    def update(self, site: Site, limit_series: dict[str, LimitSeries], now: datetime) -> set[str]:
        """Recompute a site's fallbacks; the ids of the stations whose fallback changed."""
        previous = self._limits.get(site.id)
        try:
            limits = fallback_limits(site, limit_series=limit_series, now=now, hold=self.hold)
        except (SnapshotError, ValueError) as error:  # a series for a node gone: the runs say it too
            LOGGER.warning("site %s: fallback limits kept as they were: %s", site.id, error)
            return set()
        self._limits[site.id] = limits
        guns = site.guns()
        self._forget_stations_of(site.id)
        by_station: dict[str, list[Gun]] = defaultdict(list)
        for gun in guns.values():
            by_station[gun.station_id].append(gun)
        for station_id, station_guns in by_station.items():
            self._station_guns_of[station_id] = (site.id, station_guns)
        return {
            guns[gun_id].station_id
            for gun_id, limit_kw in limits.kw.items()
            if previous is None or abs(previous.kw.get(gun_id, -1.0) - limit_kw) >= CHANGE_KW
        }

    def forget_site(self, site_id: str) -> None:
        self._limits.pop(site_id, None)
        self._forget_stations_of(site_id)

    def _forget_stations_of(self, site_id: str) -> None:
        for station_id in [key for key, (site, _) in self._station_guns_of.items() if site == site_id]:
            del self._station_guns_of[station_id]

    def gun_kw(self, gun_id: str) -> float | None:
        """A gun's fallback limit in kW; None for a gun of no known site."""
        for limits in self._limits.values():
            if gun_id in limits.kw:
                return limits.kw[gun_id]
        return None

    def _station_guns(self, station_id: str) -> tuple[list[Gun], FallbackLimits] | None:
        site_id, station_guns = self._station_guns_of.get(station_id, ("", []))
        limits = self._limits.get(site_id)
        if limits is None:
            return None
        guns = [gun for gun in station_guns if gun.id in limits.kw]
        return (guns, limits) if guns else None

    def boot_limits(self, station_id: str, capabilities: StationCapabilities) -> BootLimits | None:
        """The `BootLimitsPolicy`: the tx default on EVSE 0, every gun's share at the smallest one."""
        found = self._station_guns(station_id)
        if found is None:
            LOGGER.warning("station %s is in no site: no fallback limit sent", station_id)
            return None
        guns, limits = found
        # amperes from kW on 3 phases would let a single-phase gun draw a third: 1 phase only when all are
        phases = 3 if any(gun.phases == 3 for gun in guns) else 1
        return BootLimits(
            gun_limit_kw=min(limits.kw[gun.id] for gun in guns),
            phases=phases,
            voltage_v=max(gun.voltage_v for gun in guns),
            offline_kw=sum(limits.kw[gun.id] for gun in guns),
            offline_a=offline_current_a(guns, limits.kw),
        )


def offline_current_a(guns: list[Gun], fallback_kw: dict[str, float]) -> float:
    """The current on each phase that keeps every phase the guns load within their fallbacks there.

    Each gun's fallback loads the grid phases as the failsafe reckons it (`phase_current_a_per_kw`,
    car unknown); the smallest total over the phases loaded bounds them all. 0 when none is loaded.
    """
    on_phase: dict[str, float] = defaultdict(float)
    for gun in guns:
        for phase, current_a_per_kw in gun.phase_current_a_per_kw(None).items():
            on_phase[phase] += fallback_kw[gun.id] * current_a_per_kw
    return min((current_a for current_a in on_phase.values() if current_a > 0), default=0.0)


class FallbackSender:
    """Sends the fallbacks (the tx default on EVSE 0, the offline-fallback setting) to the connected
    stations again where they moved.

    `update` recomputes them and notes the stations whose fallback moved; `flush` sends to those.
    A run puts the flush after its live limits (see `push.send_pushes`): a fallback bounds a station
    only once it stops hearing from us, so its new tx profile goes first in its queue, the fallback
    right behind it.
    """

    def __init__(self, failsafe: Failsafe, registry: StationRegistry, clock: Callable[[], datetime]) -> None:
        self.failsafe = failsafe
        self.registry = registry
        self.clock = clock
        self._moved: dict[str, set[str]] = {}
        """Per site, the stations whose fallback moved and was not sent yet."""

    def update(self, site: Site, limit_series: dict[str, LimitSeries]) -> None:
        """Recompute the site's fallbacks; note the stations whose fallback moved."""
        self._moved.setdefault(site.id, set()).update(self.failsafe.update(site, limit_series, self.clock()))

    def flush(self, site_id: str) -> None:
        """Send the fallbacks that moved to the stations connected (the others get theirs at boot)."""
        for station_id in sorted(self._moved.pop(site_id, set())):
            handler = self.registry.get(station_id)
            if handler is not None:
                handler.send_boot_limits()  # the policy (`Failsafe.boot_limits`) reads the new ones

    def forget(self, site_id: str) -> None:
        self._moved.pop(site_id, None)

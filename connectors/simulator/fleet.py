"""A simulated fleet: every station of a site on its own WebSocket, cars coming and going.

`Fleet(site, "ws://127.0.0.1:9000/ocpp/")` makes one `SimulatedChargePoint` per station of the
site's guns (one EVSE per gun, its rating and phases), `v201_share` of them speaking 2.0.1 and the
rest 1.6, and drives the day of `arrivals.plan_visits` on a `SimulatedClock` running `speed` times
real time: a car plugs in at its arrival (Preparing, transaction started, Charging), draws what
its station's profiles allow, and leaves when full or at its departure (transaction ended,
Available). Stations that lose their connection reconnect with backoff, their transactions
running on. `state()` is the live view per gun; `on_event` hears each connection and car event.
All of it is deterministic under `seed`, except where the CSMS's answers make it otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Literal, Self

from ocpp.exceptions import OCPPError  # type: ignore[import-untyped]
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.uri import parse_uri

from connectors.ocpp.parsing import OcppVersion
from connectors.simulator.arrivals import DAY_STARTS_AT_H, Visit, plan_visits, v201_stations
from connectors.simulator.charge_point import SimulatedChargePoint
from connectors.simulator.clock import SimulatedClock
from models import Gun, LimitNode, Site, StationCapabilities
from models.units import WATTS_PER_KW

LOGGER = logging.getLogger(__name__)

CALL_FAILURES = (ConnectionClosed, OSError, TimeoutError, OCPPError)
"""What a station's call to the CSMS may end in, short of a bug."""
CONNECT_FAILURES = (*CALL_FAILURES, InvalidHandshake)
SHORTEST_METER_INTERVAL_S = 0.05
"""Real seconds between a station's meter reports, at the least, however high the speed."""
RECONNECT_FIRST_S, RECONNECT_LONGEST_S = 0.5, 15.0
CONNECTING_AT_ONCE = 64
"""Handshakes under way together: a large fleet does not open thousands at the same instant."""

EventKind = Literal["connected", "disconnected", "unreachable", "arrived", "full", "departed", "failed"]


@dataclass(frozen=True)
class FleetEvent:
    """Something that happened in the fleet, at simulated time `at`; `subject` is a gun or station id."""

    at: datetime
    day_time: str
    """`at` as the time of the simulated day (HH:MM, the day starting at 06:00)."""
    subject: str
    kind: EventKind
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.day_time} {self.subject:<14} {self.kind:<12} {self.detail}".rstrip()


@dataclass(frozen=True)
class GunState:
    """One gun as the live view shows it. `limit_kw` None: no profile limits it."""

    gun_id: str
    ocpp_version: str
    connected: bool
    car_present: bool
    power_kw: float
    energy_kwh: float
    """Delivered to the car now plugged in (0 when none)."""
    limit_kw: float | None
    soc: float | None


@dataclass
class FleetTotals:
    """What the fleet did so far."""

    arrivals: int = 0
    departures: int = 0
    full: int = 0
    energy_kwh: float = 0.0
    """Delivered to cars that left."""
    failures: int = 0


def simple_site(stations: int, max_power_kw: float = 22.0, site_id: str = "fleet") -> Site:
    """A site of `stations` one-gun AC stations SIM0001... under one root without a limit."""
    guns = [Gun(station_id=f"SIM{number:04d}", max_power_kw=max_power_kw) for number in range(1, stations + 1)]
    return Site(id=site_id, root=LimitNode(id="grid", guns=guns))


class Fleet:
    """The stations of `site` connected to the CSMS at `url` (its path prefix, e.g. ws://host:9000/ocpp/).

    `meter_interval_s` is simulated time between meter reports (real: divided by `speed`, but no
    shorter than `SHORTEST_METER_INTERVAL_S`); `start` is the simulated instant the day starts
    (its 06:00; default now). A `clock` given (to share it with the CSMS under test) replaces
    `start` and `speed`; `passwords` (station id -> password) are sent as basic auth.
    Use as `async with Fleet(...) as fleet:` or `start()` / `stop()`.
    """

    def __init__(
        self,
        site: Site,
        url: str,
        *,
        seed: int = 0,
        speed: float = 60.0,
        v201_share: float = 0.5,
        meter_interval_s: float = 60.0,
        start: datetime | None = None,
        on_event: Callable[[FleetEvent], None] | None = None,
        clock: SimulatedClock | None = None,
        passwords: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self.clock = clock or SimulatedClock(start or datetime.now(UTC), speed)
        speed = self.clock.speed
        self.on_event = on_event
        self.totals = FleetTotals()
        guns = list(site.guns().values())
        self.visits: list[Visit] = plan_visits(guns, self.clock.start, seed)
        by_station: dict[str, list[Gun]] = {}
        for gun in guns:
            by_station.setdefault(gun.station_id, []).append(gun)
        newer = v201_stations(by_station, v201_share, seed)
        prefix = url if url.endswith("/") else f"{url}/"
        parse_uri(prefix)  # a malformed url fails here, not as stations that never connect
        self.stations: dict[str, SimulatedChargePoint] = {}
        for station_id, station_guns in sorted(by_station.items()):
            version: OcppVersion = "2.0.1" if station_id in newer else "1.6"
            self.stations[station_id] = SimulatedChargePoint(
                station_id,
                f"{prefix}{station_id}",
                version,
                guns=station_guns,
                capabilities=StationCapabilities(
                    ocpp_version=version, max_periods_per_schedule=24, max_stack_level=8, evse_count=len(station_guns)
                ),
                meter_interval_s=max(SHORTEST_METER_INTERVAL_S, meter_interval_s / speed),
                clock=self.clock,
                speed=speed,
                password=(passwords or {}).get(station_id),
            )
        self._guns = {gun.id: gun for gun in guns}
        self._online = {station_id: asyncio.Event() for station_id in self.stations}
        self._connecting = asyncio.Semaphore(CONNECTING_AT_ONCE)
        self._keepers: list[asyncio.Task[None]] = []
        self._drivers: list[asyncio.Task[None]] = []

    @property
    def speed(self) -> float:
        return self.clock.speed

    @property
    def day_over(self) -> bool:
        """Every car of the day has come and gone (true before `start` too)."""
        return all(task.done() for task in self._drivers)

    async def connect(self, timeout_s: float = 60.0) -> None:
        """Connect every station (and keep reconnecting those that drop); TimeoutError when some
        did not connect within `timeout_s`. No car comes before `start`."""
        if not self._keepers:
            self._keepers = [
                asyncio.create_task(self._keep_connected(station), name=f"fleet {station_id} connection")
                for station_id, station in self.stations.items()
            ]
        async with asyncio.timeout(timeout_s):
            for online in self._online.values():
                await online.wait()

    async def start(self, connect_timeout_s: float = 60.0) -> None:
        """Connect every station (see `connect`), then let the cars come; those whose arrival has
        passed plug in at once."""
        await self.connect(connect_timeout_s)
        if self._drivers:
            return
        visits_of: dict[str, list[Visit]] = {}
        for visit in self.visits:
            visits_of.setdefault(visit.gun_id, []).append(visit)
        self._drivers = [
            asyncio.create_task(self._drive(gun_id, visits), name=f"fleet {gun_id} cars")
            for gun_id, visits in visits_of.items()
        ]

    async def stop(self) -> None:
        """Stop the cars, end the transactions still running and disconnect every station."""
        for task in [*self._drivers, *self._keepers]:
            task.cancel()
        await asyncio.gather(*self._drivers, *self._keepers, return_exceptions=True)
        await asyncio.gather(*(station.stop() for station in self.stations.values()), return_exceptions=True)
        self._drivers, self._keepers = [], []

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    async def run_for(self, real_s: float | None = None) -> None:
        """Return after `real_s` real seconds, or when the day is over (None: only then)."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(real_s):
                await asyncio.gather(*self._drivers, return_exceptions=True)

    def state(self) -> list[GunState]:
        """Every gun now, in order of gun id."""
        now = self.clock()
        states = []
        for gun_id, gun in sorted(self._guns.items()):
            station = self.stations[gun.station_id]
            evse = station.evses[gun.evse_id]
            limit_w = station.store.limit_at(gun.evse_id, now)
            car_present = evse.transaction_id is not None
            states.append(
                GunState(
                    gun_id=gun_id,
                    ocpp_version=station.version,
                    connected=station.connected,
                    car_present=car_present,
                    power_kw=evse.power_kw if car_present else 0.0,
                    energy_kwh=evse.ev.energy_kwh if car_present and evse.ev is not None else 0.0,
                    limit_kw=None if limit_w is None else limit_w / WATTS_PER_KW,
                    soc=evse.ev.soc if car_present and evse.ev is not None else None,
                )
            )
        return states

    def day_time(self, instant: datetime | None = None) -> str:
        """`instant` (default now) as the time of the simulated day, which starts at 06:00."""
        elapsed_s = ((instant or self.clock()) - self.clock.start).total_seconds()
        minutes = int(DAY_STARTS_AT_H * 60 + elapsed_s // 60)
        day, minute_of_day = divmod(minutes, 24 * 60)
        return f"{'+' * day}{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"

    def power_kw(self) -> float:
        """What the whole fleet draws now."""
        return sum(station.power_kw for station in self.stations.values())

    # -- the stations' connections -----------------------------------------------------------

    async def _keep_connected(self, station: SimulatedChargePoint) -> None:
        online = self._online[station.station_id]
        pause_s = RECONNECT_FIRST_S
        while True:
            try:
                async with self._connecting:
                    await station.connect()
            except CONNECT_FAILURES as error:
                self._emit(
                    station.station_id, "unreachable", f"{error or type(error).__name__}; again in {pause_s:.1f} s"
                )
                await asyncio.sleep(pause_s)
                pause_s = min(RECONNECT_LONGEST_S, pause_s * 2)
                continue
            pause_s = RECONNECT_FIRST_S
            online.set()
            self._emit(station.station_id, "connected", f"OCPP {station.version}, {len(station.evses)} gun(s)")
            await station.wait_disconnected()
            online.clear()
            self._emit(station.station_id, "disconnected")
            await asyncio.sleep(pause_s)

    # -- the cars ----------------------------------------------------------------------------

    async def _drive(self, gun_id: str, visits: Iterable[Visit]) -> None:
        gun = self._guns[gun_id]
        station = self.stations[gun.station_id]
        for number, visit in enumerate(visits, start=1):
            await asyncio.sleep(self.clock.real_seconds_until(visit.arrival))
            await self._online[gun.station_id].wait()
            ev = visit.ev()
            try:
                await station.start_transaction(f"CAR-{gun_id}-{number}", evse_id=gun.evse_id, ev=ev)
            except CALL_FAILURES as error:
                self.totals.failures += 1
                self._emit(gun_id, "failed", f"plug-in: {error or type(error).__name__}")
                continue
            self.totals.arrivals += 1
            wants = f"wants {visit.energy_wanted_kwh:.1f} kWh by {self.day_time(visit.departure)}"
            self._emit(gun_id, "arrived", f"{wants}, up to {visit.max_power_kw:g} kW")
            while not ev.full and self.clock() < visit.departure:
                await asyncio.sleep(min(station.meter_interval_s, self.clock.real_seconds_until(visit.departure)))
            self.totals.energy_kwh += ev.energy_kwh
            if ev.full:
                self.totals.full += 1
            self.totals.departures += 1
            self._emit(gun_id, "full" if ev.full else "departed", f"got {ev.energy_kwh:.1f} kWh")
            try:
                await station.unplug(gun.evse_id)
            except CALL_FAILURES as error:
                self.totals.failures += 1
                self._emit(gun_id, "failed", f"unplug: {error or type(error).__name__}")

    def _emit(self, subject: str, kind: EventKind, detail: str = "") -> None:
        now = self.clock()
        event = FleetEvent(now, self.day_time(now), subject, kind, detail)
        LOGGER.debug("%s", event)
        if self.on_event is not None:
            self.on_event(event)

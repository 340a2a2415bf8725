"""The running service (`Runtime`): one run of a site is store -> snapshot -> optimizer -> diff -> push.

A run reads the site, its limit series, tariff and session overrides from the store, takes the
live sessions from `LiveState` (`snapshots`; idle guns that cannot be steered are held as load),
solves off the event loop (`solving`), then `steering` cuts the idle guns' tx defaults to the room
the plan leaves (`gun_defaults`) and pushes what changed beyond the deadband (`push`): every fall
before any rise that needs the room it frees. What the stations accepted is kept in the store, and the run recorded
(`run_record`). Each run also recomputes the site's fallback limits and sends them again where they
moved (`failsafe`), behind the plans' profiles in each station's queue.

Clocks: instants (profiles' ends, sample ages, run records) are on `clock`, which the demo runs
faster than real time. The scheduler's settings are real seconds (`interval_s`, `debounce_s`,
`ack_timeout_s` and `follow_s` are slept or waited), converted with `clocks.clock_seconds` where they are
compared with instants; `profile_hold_s` is on `clock` (a plan's length), as the optimizer's steps.

`SiteRuns` (in `scheduler`) keeps a site from running twice at once. A failing run is logged once,
and its recovery once, not at every interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from connectors.clocks import clock_seconds
from connectors.failsafe import Failsafe, FallbackSender
from connectors.gun_defaults import GunDefaults
from connectors.metrics import ServiceMetrics
from connectors.ocpp.server import OcppServer, StationRegistry
from connectors.run_record import RunFacts, record_run
from connectors.runtime import SessionView, SolveReason, StationView
from connectors.scheduler import SiteRuns, SiteScheduler
from connectors.settings import Settings
from connectors.snapshots import SnapshotInputs, build_snapshot, read_inputs, series_in_tree
from connectors.solving import SiteSolver
from connectors.state import LiveState, utc_now
from connectors.steering import Steering
from connectors.store.protocol import SessionOverride, StationRecord, Store
from connectors.views import session_views, station_view
from models import Allocation, Site, StationCapabilities
from optimizer import OptimizerOptions

LOGGER = logging.getLogger(__name__)
SOLVE_OVERRUN_S = 5.0
"""How long past the solver's time limit a solve may take before the greedy rule is used instead."""


class Service:
    """The `Runtime` the REST API sees, and the site runs behind it."""

    def __init__(self, settings: Settings, store: Store, *, clock: Callable[[], datetime] = utc_now) -> None:
        self.settings = settings
        self._store = store
        self.clock = clock
        self.instruments = ServiceMetrics()
        self.failsafe = Failsafe()
        self.state = LiveState(self._station_trigger, clock=clock)
        self.registry = StationRegistry(auto_register=settings.ocpp.auto_register)
        self.fallbacks = FallbackSender(self.failsafe, self.registry, clock)
        self.gun_defaults = GunDefaults(self.failsafe, self.registry, self.state, self._capabilities, clock)
        self.steering = Steering(
            settings, store, self.state, self.registry, self.gun_defaults, self._capabilities, clock
        )
        timing = settings.scheduler
        self.scheduler = SiteScheduler(SiteRuns(self._run), timing.interval_s, timing.debounce_s)
        self.server: OcppServer | None = None
        self._sites: dict[str, Site] = {}
        self._station_site: dict[str, str] = {}
        self._solvers: dict[str, SiteSolver] = {}
        self._allocations: dict[str, Allocation] = {}
        self._overrides: dict[str, SessionOverride] = {}
        self._failing: set[str] = set()
        self._writer: asyncio.Task[None] | None = None
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------

    async def load(self) -> None:
        """Read the sites and stations from the store: who may connect, and their fallbacks."""
        for record in await self._store.list_stations():
            self.registry.known.add(record.station_id)
            self._station_site[record.station_id] = record.site_id
            await self._recall_transactions(record.station_id)
        for site in await self._store.list_sites():
            await self._adopt(site)
            self.failsafe.update(site, await self._store.get_limit_series(site.id), self.clock())

    def start(self, server: OcppServer) -> None:
        """Start the scheduler and the sample writer; `server` is the OCPP endpoint (started)."""
        self.server = server
        self._writer = asyncio.get_running_loop().create_task(self.state.writer.run(self._store), name="samples")
        retention_s = self.settings.meter_retention_s
        self.scheduler.add_chore("prune", self._prune, every_s=min(600.0, retention_s / 10))
        for site_id in self._sites:
            self.scheduler.add_site(site_id)
        self.scheduler.start()
        self._started = True

    async def stop(self) -> None:
        """Stop the runs (a run under way is cancelled); samples are still taken until `close`."""
        self._started = False
        await self.scheduler.stop()

    async def close(self) -> None:
        """Stop the sample writer after writing what it still holds."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
            self._writer = None
        await self.state.writer.flush(self._store)

    # -- Runtime -----------------------------------------------------------------------------

    @property
    def store(self) -> Store:
        return self._store

    def stations(self, site_id: str | None = None) -> list[StationView]:
        views, now = [], self.clock()
        for station_id, station_site in sorted(self._station_site.items()):
            site = self._sites.get(station_site)
            if site_id is not None and station_site != site_id:
                continue
            guns = [gun for gun in site.guns().values() if gun.station_id == station_id] if site else []
            views.append(station_view(station_id, station_site, guns, self.state, self.failsafe.gun_kw, now))
        return views

    def sessions(self, site_id: str) -> list[SessionView]:
        site = self._sites.get(site_id)
        if site is None:
            return []
        return session_views(
            site,
            self.state,
            self._overrides,
            self.clock(),
            self.settings.session_defaults(site_id),
            clock_seconds(self.clock, self.settings.scheduler.follow_s),
            self.settings.optimizer.step,
        )

    def allocation(self, site_id: str) -> Allocation | None:
        return self._allocations.get(site_id)

    def request_solve(self, site_id: str, reason: SolveReason) -> None:
        if site_id in self._sites:
            self.scheduler.trigger(site_id, reason)

    async def site_changed(self, site_id: str) -> None:
        site = await self._store.get_site(site_id)
        if site is None:
            self._forget_site(site_id)
            return
        await self._adopt(site)
        self.fallbacks.update(site, series_in_tree(site, await self._store.get_limit_series(site_id)))
        # a lower limit cuts the idle guns' tx defaults at once; the run that follows lowers the plans
        # first, and sends the other tx defaults and the fallbacks behind them (see `push.send_pushes`)
        self.gun_defaults.lower_now(site, idle_only=self._started)
        if self._started:
            self.scheduler.add_site(site_id)
            self.scheduler.trigger(site_id, "limit")
        else:
            self.fallbacks.flush(site_id)

    async def station_registered(self, station: StationRecord) -> None:
        self.registry.known.add(station.station_id)
        self._station_site[station.station_id] = station.site_id
        if self.server is not None:
            hashes = self.server.auth.password_hashes
            if station.password_hash is not None:
                hashes[station.station_id] = station.password_hash
            else:
                hashes.pop(station.station_id, None)

    async def station_removed(self, station_id: str) -> None:
        self.registry.known.discard(station_id)
        self._station_site.pop(station_id, None)
        if self.server is not None:
            self.server.auth.password_hashes.pop(station_id, None)
        handler = self.registry.get(station_id)
        if handler is not None:
            await handler.disconnect(1000, "station removed")
        self.state.forget_station(station_id)

    def metrics(self) -> bytes:
        self.instruments.connected_stations.set(len(self.registry.connected))
        return self.instruments.exposition()

    def ready(self) -> bool:
        return self._started and self.server is not None and self.scheduler.running

    # -- sites and stations ------------------------------------------------------------------

    async def _adopt(self, site: Site) -> None:
        """Know `site`: its stations may connect, and are registered in the store."""
        self._sites[site.id] = site
        for station_id in {gun.station_id for gun in site.guns().values()}:
            self.registry.known.add(station_id)
            if station_id not in self._station_site:
                self._station_site[station_id] = site.id
                if await self._store.get_station(station_id) is None:
                    await self._store.put_station(StationRecord(station_id, site.id))

    async def _recall_transactions(self, station_id: str) -> None:
        """The transactions our last acknowledged tx profiles were for: a station that charges on
        through our restart names them in its updates (2.0.1 without the EVSE), and is steered again."""
        transactions = self.registry.transactions_of(station_id)
        for profile in await self._store.get_acknowledged_profiles(station_id):
            transaction_id = profile.schedule.transaction_id
            if transaction_id is not None:
                transactions.setdefault(transaction_id, int(profile.gun_id.rsplit("/", 1)[1]))

    def _forget_site(self, site_id: str) -> None:
        site = self._sites.pop(site_id, None)
        if site is not None:
            self.gun_defaults.forget(list(site.guns()))
        self._solvers.pop(site_id, None)
        self._allocations.pop(site_id, None)
        self.failsafe.forget_site(site_id)
        self.fallbacks.forget(site_id)
        self.scheduler.remove_site(site_id)

    def _station_trigger(self, station_id: str, reason: SolveReason) -> None:
        site_id = self._station_site.get(station_id)
        if site_id is not None and self._started:
            self.scheduler.trigger(site_id, reason)

    def _capabilities(self, station_id: str) -> StationCapabilities | None:
        """A connected station's capabilities (the least until it told); None when not connected."""
        handler = self.registry.get(station_id)
        station = self.state.stations.get(station_id)
        if handler is None or station is None or not station.connected:
            return None
        return handler.capabilities

    async def _prune(self) -> None:
        dropped = await self._store.prune(self.clock() - timedelta(seconds=self.settings.meter_retention_s))
        if dropped:
            LOGGER.info("pruned %d meter samples and runs", dropped)

    # -- one run -----------------------------------------------------------------------------

    async def _run(self, site_id: str, reasons: frozenset[SolveReason]) -> None:
        try:
            await self._run_once(site_id, reasons)
        except Exception:  # one failed run must not stop the next (logged with its traceback)
            self.instruments.run_failures.labels(site_id).inc()
            if site_id not in self._failing:
                LOGGER.exception("site %s: run failed", site_id)
            self._failing.add(site_id)
        else:
            if site_id in self._failing:
                LOGGER.info("site %s: runs succeed again", site_id)
            self._failing.discard(site_id)

    async def _run_once(self, site_id: str, reasons: frozenset[SolveReason]) -> None:
        began = time.perf_counter()
        now = self.clock()
        inputs = await self._inputs(site_id)
        if inputs is None:
            return
        self._sites[site_id] = inputs.site
        self.fallbacks.update(inputs.site, inputs.limit_series)
        try:
            options = self.settings.scheduler
            follow = clock_seconds(self.clock, options.follow_s)
            snapshot = build_snapshot(
                inputs,
                self.state,
                now,
                self.settings.optimizer,
                self.settings.session_defaults(site_id),
                follow,
                self.gun_defaults.unsteered_idle_kw(inputs.site),
            )
            snapshot_s = time.perf_counter() - began
            allocation = await self._solver(site_id).allocate(snapshot)
            solve_s = time.perf_counter() - began - snapshot_s
            results = await self.steering.steer(inputs.site, allocation, lambda: self.fallbacks.flush(site_id))
            push_s = time.perf_counter() - began - snapshot_s - solve_s
        finally:  # a run that failed before its pushes still sends the fallbacks that moved
            self.fallbacks.flush(site_id)
        self._allocations[site_id] = allocation
        await record_run(
            self._store,
            self.instruments,
            self.state,
            RunFacts(site_id, inputs, allocation, now, results, (snapshot_s, solve_s, push_s), reasons),
        )

    async def _inputs(self, site_id: str) -> SnapshotInputs | None:
        inputs = await read_inputs(self._store, self.state, site_id)
        if inputs is None:
            self._forget_site(site_id)
        else:
            self._overrides.update(inputs.overrides)
        return inputs

    def _solver(self, site_id: str) -> SiteSolver:
        if site_id not in self._solvers:
            options = OptimizerOptions(time_limit_s=self.settings.optimizer.solver_time_limit_s)
            self._solvers[site_id] = SiteSolver(options, SOLVE_OVERRUN_S)
        return self._solvers[site_id]

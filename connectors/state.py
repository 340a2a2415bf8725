"""The live state of the stations, kept in memory from the OCPP edge's events.

`LiveState` is the service's `EventSink`. `publish` runs inside the stations' receive loops, so it
only updates memory, queues meter samples for the `SampleWriter` task (the store is I/O) and asks
for a re-solve through `on_trigger` (which is debounced; it must return at once too).

What triggers a re-solve: a car plugged in or out, a car that stopped drawing, a gun found
uncontrolled, a station that booted, learned its capabilities or went away, and the charging
needs a 2.0.1 car told.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from connectors.ocpp.events import (
    CapabilitiesLearned,
    CommandFailed,
    EVChargingNeeds,
    GunStatusChanged,
    GunUncontrolled,
    MeterSampleReceived,
    OfflineFallbackWritten,
    ProfileAccepted,
    ProfileRejected,
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
    StationDisconnected,
    StationEvent,
)
from connectors.runtime import SolveReason
from connectors.store.protocol import Store
from models import GunStatus, MeterSample, StationCapabilities
from models.station import OfflineFallbackOutcome

LOGGER = logging.getLogger(__name__)
DRAWING_KW = 1.0
"""A car drawing at least this much that falls below `STOPPED_KW` has stopped drawing: re-solve."""
STOPPED_KW = 0.1
ENDED_KEPT = 1000

Trigger = Callable[[str, SolveReason], None]
"""(station id, why) -> ask for a re-solve of the station's site; returns at once."""


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class HeldLimit:
    """The limit a gun's station accepted for its session, when, and until when that profile runs."""

    limit_kw: float
    limit_a: float | None
    accepted_at: datetime
    until: datetime | None
    profile_id: int
    later_kw: tuple[tuple[datetime, float], ...] = ()
    """The plan's later steps the profile carries: (start, kW)."""

    def kw_at(self, instant: datetime) -> float:
        """The limit the profile sets at `instant` (before its end)."""
        limit_kw = self.limit_kw
        for start, step_kw in self.later_kw:
            if start > instant:
                break
            limit_kw = step_kw
        return limit_kw


@dataclass
class LiveSession:
    """A transaction in progress, with what its station and its car told of it."""

    transaction_id: str
    gun_id: str
    arrival: datetime
    meter_start_kwh: float | None = None
    energy_delivered_kwh: float = 0.0
    departure: datetime | None = None
    energy_requested_kwh: float | None = None
    ev_max_power_kw: float | None = None


@dataclass
class GunState:
    """One gun as its station reported it (EVSE 0: the station itself)."""

    gun_id: str
    status: GunStatus | None = None
    session: LiveSession | None = None
    power_kw: float | None = None
    sample_at: datetime | None = None
    """The station's stamp of the latest sample (stations stamp to the second, on their own clocks)."""
    sample_received_at: datetime | None = None
    """When we received it, on our clock: what a limit's acceptance compares with."""
    last_profile_id: int | None = None
    last_profile_accepted: bool | None = None
    held: HeldLimit | None = None


@dataclass
class StationState:
    """One station's connection, version, capabilities and the guns it cannot be steered on."""

    station_id: str
    connected: bool = False
    ocpp_version: str | None = None
    capabilities: StationCapabilities | None = None
    uncontrolled: dict[str, str] = field(default_factory=dict)
    """gun id (`.../0`: the whole station) -> why it cannot be steered."""
    offline_fallback: OfflineFallbackOutcome | None = None
    """The last write of the station's own offline-fallback setting (kept across its connections)."""

    def uncontrolled_reason(self, gun_id: str) -> str | None:
        return self.uncontrolled.get(gun_id) or self.uncontrolled.get(f"{self.station_id}/0")


class SampleWriter:
    """Meter samples queued by `publish`, written to the store in batches by one task.

    A batch is written `batch_s` after its first sample, not at once: the store commits (and
    syncs) each write on the event loop, and with a sample arriving every few milliseconds
    (1,000 stations reporting every 10 s) writing each as it came made dozens of commits a second,
    8 % of the loop's time while the stations were being re-profiled (bench/reaction.py under
    py-spy). Samples are history: what is queued is written on `flush` when the service closes.
    """

    def __init__(self, batch_s: float = 1.0) -> None:
        self.batch_s = batch_s
        self._pending: list[MeterSample] = []
        self._ready = asyncio.Event()

    def put(self, sample: MeterSample) -> None:
        self._pending.append(sample)
        self._ready.set()

    async def run(self, store: Store) -> None:
        """Write what is queued until cancelled; a failed write is logged once until one succeeds."""
        failing = False
        while True:
            await self._ready.wait()
            await asyncio.sleep(self.batch_s)
            self._ready.clear()
            try:
                await self.flush(store)
            except Exception as error:  # noqa: BLE001 - samples are history; the service goes on
                if not failing:
                    LOGGER.warning("meter samples not stored: %r", error)
                failing = True
            else:
                if failing:
                    LOGGER.info("meter samples stored again")
                failing = False

    async def flush(self, store: Store) -> None:
        batch, self._pending = self._pending, []
        if batch:
            await store.add_meter_samples(batch)


class LiveState:
    """The stations and guns as the OCPP edge reports them (see the module docstring)."""

    def __init__(
        self, on_trigger: Trigger, writer: SampleWriter | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.on_trigger = on_trigger
        self.clock = clock
        self.writer = writer or SampleWriter()
        self.stations: dict[str, StationState] = {}
        self.guns: dict[str, GunState] = {}
        self._ended: deque[str] = deque(maxlen=ENDED_KEPT)
        """Recently ended transactions: a late update of one does not bring it back."""

    def station(self, station_id: str) -> StationState:
        return self.stations.setdefault(station_id, StationState(station_id))

    def gun(self, gun_id: str) -> GunState:
        return self.guns.setdefault(gun_id, GunState(gun_id))

    def forget_station(self, station_id: str) -> None:
        self.stations.pop(station_id, None)
        for gun_id in [gun for gun in self.guns if gun.rsplit("/", 1)[0] == station_id]:
            del self.guns[gun_id]

    def publish(self, event: StationEvent) -> None:
        match event:
            case StationBooted():
                station = self.station(event.station_id)
                station.connected, station.ocpp_version = True, event.ocpp_version
                self.on_trigger(event.station_id, "station")
            case CapabilitiesLearned():
                self.station(event.station_id).capabilities = event.capabilities
                self.on_trigger(event.station_id, "station")
            case StationDisconnected(replaced=False):
                self.station(event.station_id).connected = False
                self.on_trigger(event.station_id, "station")
            case GunStatusChanged():
                self._status(event)
            case SessionStarted():
                gun = self.gun(event.gun_id)
                gun.session = LiveSession(event.transaction_id, event.gun_id, event.at, event.meter_start_kwh)
                gun.held = None
                self.on_trigger(_station_of(event.gun_id), "plug_in")
            case SessionUpdated():
                self._session_updated(event)
            case SessionEnded():
                self._ended.append(event.transaction_id)
                gun = self.gun(event.gun_id)
                if gun.session is not None and gun.session.transaction_id == event.transaction_id:
                    gun.session, gun.held = None, None
                self.on_trigger(_station_of(event.gun_id), "unplug")
            case MeterSampleReceived():
                self._sample(event.sample)
            case EVChargingNeeds():
                self._charging_needs(event)
            case ProfileAccepted():
                gun = self.gun(event.gun_id)
                gun.last_profile_id, gun.last_profile_accepted = event.profile_id, True
            case ProfileRejected():
                gun = self.gun(event.gun_id)
                gun.last_profile_id, gun.last_profile_accepted = event.profile_id, False
            case GunUncontrolled():
                station_id = _station_of(event.gun_id)
                self.station(station_id).uncontrolled[event.gun_id] = event.reason
                self.on_trigger(station_id, "station")
            case OfflineFallbackWritten():
                self.station(event.station_id).offline_fallback = event.outcome
            case CommandFailed() | StationDisconnected():
                pass  # logged where they happen; a replaced connection is followed by its successor

    def _status(self, event: GunStatusChanged) -> None:
        """A gun's state; one available has no car, whatever became of the end of its transaction
        (a transaction taken up after a restart may end unheard of)."""
        gun = self.gun(event.gun_id)
        gun.status = event.status
        if event.status is GunStatus.AVAILABLE and gun.session is not None:
            self._ended.append(gun.session.transaction_id)
            gun.session, gun.held = None, None
            self.on_trigger(_station_of(event.gun_id), "unplug")

    def _session_updated(self, event: SessionUpdated) -> None:
        gun = self.gun(event.gun_id)
        self._adopt_transaction(gun, event.transaction_id, event.at)
        if event.status is not None:
            gun.status = event.status
        if event.status is GunStatus.SUSPENDED_EV and gun.session is not None:
            self.on_trigger(_station_of(event.gun_id), "undrawn")

    def _sample(self, sample: MeterSample) -> None:
        self.writer.put(sample)
        gun = self.gun(sample.gun_id)
        if gun.sample_at is not None and sample.timestamp < gun.sample_at:
            return
        before_kw = gun.power_kw
        gun.sample_at, gun.sample_received_at = sample.timestamp, self.clock()
        if sample.power_kw is not None:
            gun.power_kw = sample.power_kw
        if sample.transaction_id is not None:
            self._adopt_transaction(gun, sample.transaction_id, sample.timestamp)
        session = gun.session
        if session is None:
            return
        if sample.energy_kwh is not None:
            if session.meter_start_kwh is None:
                session.meter_start_kwh = sample.energy_kwh
            session.energy_delivered_kwh = max(0.0, sample.energy_kwh - session.meter_start_kwh)
        stopped = sample.power_kw is not None and sample.power_kw < STOPPED_KW
        if stopped and before_kw is not None and before_kw >= DRAWING_KW:
            self.on_trigger(_station_of(sample.gun_id), "undrawn")

    def _adopt_transaction(self, gun: GunState, transaction_id: str, at: datetime) -> None:
        """A transaction heard of only from its updates (it began before our restart): a session
        from now, its energy counted from the first register seen."""
        if gun.session is not None and gun.session.transaction_id == transaction_id:
            return
        if transaction_id in self._ended:
            return
        LOGGER.info("%s: transaction %s runs on from before; taken up", gun.gun_id, transaction_id)
        gun.session, gun.held = LiveSession(transaction_id, gun.gun_id, at), None
        self.on_trigger(_station_of(gun.gun_id), "plug_in")

    def _charging_needs(self, event: EVChargingNeeds) -> None:
        session = self.gun(event.gun_id).session
        if session is None:
            LOGGER.info("charging needs for %s without a session ignored", event.gun_id)
            return
        if event.departure is not None:
            session.departure = event.departure
        if event.energy_requested_kwh is not None:
            session.energy_requested_kwh = event.energy_requested_kwh
        if event.max_power_kw is not None:
            session.ev_max_power_kw = event.max_power_kw
        self.on_trigger(_station_of(event.gun_id), "session")


def _station_of(gun_id: str) -> str:
    return gun_id.rsplit("/", 1)[0]

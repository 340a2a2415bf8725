"""What the OCPP edge tells the rest of the service, whatever the version a station speaks.

The version handlers (`v16`, `v201`) and the command queue (`commands`) turn protocol messages into
these events and hand them to an `EventSink`. Nothing past this module sees an OCPP field name.

`EventSink.publish` is synchronous and must not block: it is called from inside the handlers of
the receive loop, which must answer the station at once (see STYLE.md). A sink that needs I/O
(the store, Redis) queues the event and does the work in its own task.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, TypeVar

from connectors.ocpp.parsing import OcppVersion
from models import GunStatus, MeterSample, StationCapabilities
from models.station import OfflineFallbackOutcome


@dataclass(frozen=True)
class StationBooted:
    """A station said who it is (BootNotification) and was accepted."""

    station_id: str
    ocpp_version: OcppVersion
    at: datetime
    vendor: str = ""
    model: str = ""
    serial_number: str | None = None
    firmware_version: str | None = None


@dataclass(frozen=True)
class CapabilitiesLearned:
    """What a station said it can hold, read after its boot; `warnings` name what was unreadable."""

    station_id: str
    capabilities: StationCapabilities
    at: datetime
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class StationDisconnected:
    """A station's connection closed (or was replaced by a newer one: `replaced`)."""

    station_id: str
    at: datetime
    replaced: bool = False


@dataclass(frozen=True)
class GunStatusChanged:
    """A gun's state as its station reported it; `gun_id` ends in /0 for the station itself."""

    gun_id: str
    status: GunStatus
    at: datetime


@dataclass(frozen=True)
class SessionStarted:
    """A transaction began on a gun. `meter_start_kwh`: the register then, where told."""

    gun_id: str
    transaction_id: str
    at: datetime
    id_token: str | None = None
    meter_start_kwh: float | None = None


@dataclass(frozen=True)
class SessionUpdated:
    """A running transaction changed (2.0.1 TransactionEvent Updated): its charging state, if told."""

    gun_id: str
    transaction_id: str
    at: datetime
    status: GunStatus | None = None


@dataclass(frozen=True)
class SessionEnded:
    """A transaction ended. `meter_stop_kwh`: the register then, where told; `reason` as the station said."""

    gun_id: str
    transaction_id: str
    at: datetime
    meter_stop_kwh: float | None = None
    reason: str | None = None


@dataclass(frozen=True)
class MeterSampleReceived:
    """One meter reading of a gun: the ground truth of what it draws."""

    sample: MeterSample


@dataclass(frozen=True)
class EVChargingNeeds:
    """What a car says it needs (2.0.1 NotifyEVChargingNeeds); every part may be missing."""

    gun_id: str
    at: datetime
    departure: datetime | None = None
    energy_requested_kwh: float | None = None
    max_power_kw: float | None = None
    max_current_a: float | None = None


@dataclass(frozen=True)
class ProfileAccepted:
    """A station accepted a charging profile (its word; meter values show whether it obeys)."""

    gun_id: str
    profile_id: int
    at: datetime


@dataclass(frozen=True)
class ProfileRejected:
    """A profile did not take: `reason` is Rejected (with the station's reason), a CALLERROR or a timeout."""

    gun_id: str
    profile_id: int
    at: datetime
    reason: str


@dataclass(frozen=True)
class GunUncontrolled:
    """A gun (`.../0`: a whole station) cannot be steered: it refused a profile or draws more than it
    was given. The optimizer reserves it at what it may draw; `reason` says what showed it."""

    gun_id: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class CommandFailed:
    """Another command to a station (clear, read composite schedule) failed: rejected, CALLERROR or timeout."""

    station_id: str
    action: str
    at: datetime
    reason: str


@dataclass(frozen=True)
class OfflineFallbackWritten:
    """A station's own offline-fallback setting was written (see `offline_fallback`): how it ended."""

    station_id: str
    outcome: OfflineFallbackOutcome


StationEvent = (
    StationBooted
    | CapabilitiesLearned
    | StationDisconnected
    | GunStatusChanged
    | SessionStarted
    | SessionUpdated
    | SessionEnded
    | MeterSampleReceived
    | EVChargingNeeds
    | ProfileAccepted
    | ProfileRejected
    | CommandFailed
    | GunUncontrolled
    | OfflineFallbackWritten
)


class EventSink(Protocol):
    """Where the OCPP edge puts what it learns. Must not block (see the module docstring)."""

    def publish(self, event: StationEvent) -> None: ...


EventT = TypeVar("EventT", bound=StationEvent)


@dataclass
class MemorySink:
    """A real sink that keeps every event in order, for tests and the single-process demo.

    `wait_for` lets a test await an event without sleeping: it returns the first event of a type
    (and matching a predicate) published so far or later.
    """

    events: list[StationEvent] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event, repr=False)

    def publish(self, event: StationEvent) -> None:
        self.events.append(event)
        self._changed.set()

    def of_type(self, kind: type[EventT]) -> list[EventT]:
        return [event for event in self.events if isinstance(event, kind)]

    async def wait_for(
        self,
        kind: type[EventT],
        predicate: Callable[[EventT], bool] = lambda _: True,
        *,
        after: int = 0,
        timeout_s: float = 5.0,
    ) -> EventT:
        """The first event of `kind` matching `predicate` at index `after` or later in `events`.

        Raises TimeoutError when none comes in `timeout_s`.
        """
        async with asyncio.timeout(timeout_s):
            while True:
                found = [event for event in self.events[after:] if isinstance(event, kind) and predicate(event)]
                if found:
                    return found[0]
                self._changed.clear()  # no await since the check: nothing published in between is missed
                await self._changed.wait()

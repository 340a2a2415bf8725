"""The seam between the REST API and the running service: what the API may read and ask for.

The service (`connectors/service.py`) implements `Runtime`; the API (`connectors/api/`) depends
only on this protocol and the store, so each can be read (and tested) on its own terms.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

from connectors.store.protocol import StationRecord, Store
from models import Allocation, GunStatus
from models.station import OfflineFallbackOutcome

SolveReason = Literal["interval", "plug_in", "unplug", "limit", "tariff", "undrawn", "station", "session", "manual"]


@dataclass(frozen=True)
class GunView:
    """One gun as the service sees it now."""

    gun_id: str
    status: GunStatus | None
    session_id: str | None
    power_kw: float | None
    limit_kw: float | None
    fallback_limit_kw: float | None
    last_profile_id: int | None
    last_profile_accepted: bool | None
    controllable: bool
    uncontrolled_reason: str | None


@dataclass(frozen=True)
class StationView:
    """One registered (or connected) station: its connection and its guns."""

    station_id: str
    site_id: str
    connected: bool
    ocpp_version: str | None
    guns: list[GunView]
    offline_fallback: OfflineFallbackOutcome | None = None
    """The last write of the station's own offline-fallback setting (None: none written)."""


@dataclass(frozen=True)
class SessionView:
    """A session in progress, with the facts the optimizer uses (overrides applied)."""

    session_id: str
    gun_id: str
    arrival: datetime
    departure: datetime
    energy_requested_kwh: float
    energy_delivered_kwh: float
    power_kw: float | None
    priority: float
    controllable: bool


class Runtime(Protocol):
    """The live service, as the API sees it."""

    @property
    def store(self) -> Store: ...

    def stations(self, site_id: str | None = None) -> list[StationView]: ...

    def sessions(self, site_id: str) -> list[SessionView]: ...

    def allocation(self, site_id: str) -> Allocation | None:
        """The allocation last pushed for the site (None before its first run)."""

    def request_solve(self, site_id: str, reason: SolveReason) -> None:
        """Ask for a re-solve soon (debounced); returns at once."""

    async def site_changed(self, site_id: str) -> None:
        """A site's tree or limits changed: recompute fallbacks and re-solve."""

    async def station_registered(self, station: StationRecord) -> None:
        """A station was registered (or its password changed): admit it from now on."""

    async def station_removed(self, station_id: str) -> None:
        """A station was deregistered: disconnect it and forget its live state."""

    def metrics(self) -> bytes:
        """Prometheus text exposition of the service's metrics."""

    def ready(self) -> bool:
        """Ready to serve: store open, OCPP endpoint listening, scheduler running."""

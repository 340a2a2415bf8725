"""The one interface every state store offers: what the service must not forget, and its recent past.

Durable (kept across restarts, never dropped): sites, static limits (part of the site's tree),
limit series per node, tariffs, session overrides, registered stations, acknowledged profiles,
API keys. Windowed: meter samples and the run history, kept for `retention` and pruned after.

Every method is async so that a networked store (Redis) fits the same shape as the embedded one
(SQLite). A write returns only once what it wrote is durable: the REST API answers 2xx after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from models import ChargingLimitSchedule, LimitSeries, MeterSample, PriceSeries, Site, TimeOfUseTariff

Tariff = PriceSeries | TimeOfUseTariff
Scope = Literal["read", "write"]


@dataclass(frozen=True)
class StationRecord:
    """A station the operator registered: which site it belongs to and its basic-auth password hash."""

    station_id: str
    site_id: str
    password_hash: str | None = None


@dataclass(frozen=True)
class SessionOverride:
    """Session facts a station does not know, given over the REST API (None: not overridden)."""

    session_id: str
    departure: datetime | None = None
    energy_requested_kwh: float | None = None
    priority: float | None = None


@dataclass(frozen=True)
class AcknowledgedProfile:
    """The last profile a station accepted for a gun (`.../0`: the station cap), and when."""

    gun_id: str
    schedule: ChargingLimitSchedule
    at: datetime


@dataclass(frozen=True)
class ApiKeyRecord:
    """An API key by its hash (never the key itself) and what it may do."""

    key_hash: str
    scope: Scope
    label: str = ""


@dataclass(frozen=True)
class RunRecord:
    """One scheduler run of a site: the load measured and the limit in force then, per gun the power
    measured and the limit pushed. The history endpoint and the notebooks read these."""

    site_id: str
    at: datetime
    status: str
    site_load_kw: float
    site_limit_kw: float | None
    gun_power_kw: dict[str, float] = field(default_factory=dict)
    gun_limit_kw: dict[str, float] = field(default_factory=dict)
    snapshot_s: float = 0.0
    solve_s: float = 0.0
    push_s: float = 0.0


class Store(Protocol):
    """What every store (embedded SQLite, Redis) offers; every store behaves the same behind it."""

    # --- sites and their signals -------------------------------------------------------------
    async def put_site(self, site: Site) -> None:
        """Create or replace a site (its tree, static limits included)."""

    async def get_site(self, site_id: str) -> Site | None: ...

    async def list_sites(self) -> list[Site]: ...

    async def put_limit_series(self, site_id: str, node_id: str, series: LimitSeries) -> None:
        """Replace the limit series of one node of a site's tree."""

    async def get_limit_series(self, site_id: str) -> dict[str, LimitSeries]:
        """Every node's limit series, by node id."""

    async def put_tariff(self, site_id: str, tariff: Tariff) -> None: ...

    async def get_tariff(self, site_id: str) -> Tariff | None: ...

    # --- stations, sessions, profiles ----------------------------------------------------------
    async def put_station(self, station: StationRecord) -> None: ...

    async def get_station(self, station_id: str) -> StationRecord | None: ...

    async def list_stations(self, site_id: str | None = None) -> list[StationRecord]: ...

    async def delete_station(self, station_id: str) -> bool:
        """Forget a station; False if it was not registered."""

    async def put_session_override(self, override: SessionOverride) -> None:
        """Merge into the stored override: fields given as None keep their stored value."""

    async def get_session_override(self, session_id: str) -> SessionOverride | None: ...

    async def get_session_overrides(self, session_ids: Sequence[str]) -> dict[str, SessionOverride]:
        """The stored overrides of those sessions, by session id (a session without one is left out);
        one round trip however many ids, so that a run reads its site's overrides at once."""

    async def put_acknowledged_profile(self, profile: AcknowledgedProfile) -> None: ...

    async def put_acknowledged_profiles(self, profiles: Sequence[AcknowledgedProfile]) -> None:
        """`put_acknowledged_profile` of each, in order (a later one of the same gun wins), made
        durable together: all of them or, on an error, none."""

    async def get_acknowledged_profiles(self, station_id: str) -> list[AcknowledgedProfile]: ...

    # --- API keys ----------------------------------------------------------------------------
    async def put_api_key(self, key: ApiKeyRecord) -> None: ...

    async def get_api_key(self, key_hash: str) -> ApiKeyRecord | None: ...

    # --- the recent past, kept for the retention window -------------------------------------
    async def add_meter_samples(self, samples: Sequence[MeterSample]) -> None: ...

    async def get_meter_samples(self, gun_ids: Sequence[str], start: datetime, end: datetime) -> list[MeterSample]:
        """Samples of those guns with start <= timestamp < end, in time order."""

    async def add_run(self, run: RunRecord) -> None: ...

    async def get_runs(self, site_id: str, start: datetime, end: datetime) -> list[RunRecord]:
        """Runs of a site with start <= at < end, in time order."""

    async def prune(self, before: datetime) -> int:
        """Drop meter samples and runs older than `before`; how many were dropped."""

    async def close(self) -> None: ...

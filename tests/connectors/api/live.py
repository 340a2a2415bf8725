"""What the API tests share: a recording `Runtime`, the API served by uvicorn on a free port, keys.

`RecordingRuntime` is a small honest stand-in for the service: stations come from the store (none
connected), sessions from a list, the allocation from a real `optimizer.allocate` call; it records
every call the API makes to it so that tests can assert that writes trigger re-solves.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import uvicorn

from connectors.api.app import create_app
from connectors.api.keys import hash_api_key
from connectors.runtime import GunView, SessionView, SolveReason, StationView
from connectors.store import SqliteStore
from connectors.store.protocol import ApiKeyRecord, StationRecord, Store
from models import Allocation, Site

WRITE_KEY = "gck_test-write-key"
READ_KEY = "gck_test-read-key"
STORED_READ_KEY = "gck_test-key-kept-in-the-store"
SETTINGS_KEYS = (ApiKeyRecord(hash_api_key(WRITE_KEY), "write"), ApiKeyRecord(hash_api_key(READ_KEY), "read"))
WRITE = {"Authorization": f"Bearer {WRITE_KEY}"}
READ = {"Authorization": f"Bearer {READ_KEY}"}
METRICS_TEXT = (
    b"# HELP gridcharge_connected_stations Stations connected.\n"
    b"# TYPE gridcharge_connected_stations gauge\n"
    b"gridcharge_connected_stations 0.0\n"
)


class RecordingRuntime:
    """The `Runtime` of the tests; `calls` lists what the API asked for, in order."""

    def __init__(self, store: Store, site: Site, sessions: list[SessionView]) -> None:
        self._store = store
        self.site = site
        self.session_views = sessions
        self.allocations: dict[str, Allocation] = {}
        self.records: dict[str, StationRecord] = {}
        self.calls: list[tuple[str, ...]] = []
        self.is_ready = True

    @property
    def store(self) -> Store:
        return self._store

    async def load(self) -> None:
        self.records = {record.station_id: record for record in await self._store.list_stations()}

    def stations(self, site_id: str | None = None) -> list[StationView]:
        return [
            StationView(
                station_id=record.station_id,
                site_id=record.site_id,
                connected=False,
                ocpp_version=None,
                guns=[
                    self._gun(gun_id) for gun_id, gun in self.site.guns().items() if gun.station_id == record.station_id
                ],
            )
            for record in self.records.values()
            if site_id is None or record.site_id == site_id
        ]

    def sessions(self, site_id: str) -> list[SessionView]:
        return self.session_views if site_id == self.site.id else []

    def allocation(self, site_id: str) -> Allocation | None:
        return self.allocations.get(site_id)

    def request_solve(self, site_id: str, reason: SolveReason) -> None:
        self.calls.append(("request_solve", site_id, reason))

    async def site_changed(self, site_id: str) -> None:
        self.calls.append(("site_changed", site_id))

    async def station_registered(self, station: StationRecord) -> None:
        self.records[station.station_id] = station
        self.calls.append(("station_registered", station.station_id))

    async def station_removed(self, station_id: str) -> None:
        self.records.pop(station_id, None)
        self.calls.append(("station_removed", station_id))

    def metrics(self) -> bytes:
        return METRICS_TEXT

    def ready(self) -> bool:
        return self.is_ready

    @staticmethod
    def _gun(gun_id: str) -> GunView:
        return GunView(
            gun_id=gun_id,
            status=None,
            session_id=None,
            power_kw=None,
            limit_kw=None,
            fallback_limit_kw=None,
            last_profile_id=None,
            last_profile_accepted=None,
            controllable=False,
            uncontrolled_reason="not connected",
        )


@dataclass
class LiveApi:
    """The API served on 127.0.0.1 and a client to it (base URL set, no key by default)."""

    runtime: RecordingRuntime
    client: httpx.AsyncClient
    url: str


@asynccontextmanager
async def serving(runtime: RecordingRuntime) -> AsyncIterator[LiveApi]:
    """`create_app(runtime)` under uvicorn on a free port of 127.0.0.1, until the block ends."""
    config = uvicorn.Config(
        create_app(runtime, SETTINGS_KEYS), host="127.0.0.1", port=0, lifespan="off", ws="none", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=5) as client:
            yield LiveApi(runtime, client, url)
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def api_on(store_path: Path, site: Site, sessions: list[SessionView]) -> AsyncIterator[LiveApi]:
    """The API over a `SqliteStore` at `store_path` holding `site` and a read key of its own."""
    async with SqliteStore(store_path) as store:
        if await store.get_site(site.id) is None:
            await store.put_site(site)
        await store.put_api_key(ApiKeyRecord(hash_api_key(STORED_READ_KEY), "read", "notebook"))
        runtime = RecordingRuntime(store, site, sessions)
        await runtime.load()
        async with serving(runtime) as live:
            yield live

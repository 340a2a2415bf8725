"""The service in one asyncio loop: store, OCPP endpoint, scheduler and REST API, started and stopped together.

    async with running_service(settings) as running:
        running.ocpp_port, running.api_port   # the ports bound (settings may say 0: a free one)

The site file is the initial tree: a site it names is put in the store only when the store does
not have it yet. A site already in the store (changed over the REST API since) is kept, so a
restart never undoes a limit given over the API. Stations of a site's tree are registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import dataclass
from datetime import datetime

import uvicorn

from connectors.collector import Collector
from connectors.ocpp.connection import Authorizer, accept_all
from connectors.ocpp.server import OcppServer, ServerSettings
from connectors.service import Service, utc_now
from connectors.settings import Settings
from connectors.store.memory import SqliteStore
from models import Site

LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunningService:
    """What a started service offers its caller (tests, `gridcharge demo`)."""

    runtime: Service
    ocpp: OcppServer
    ocpp_port: int
    api_port: int | None

    def station_url(self, station_id: str, host: str = "127.0.0.1") -> str:
        return self.ocpp.url(station_id, host)

    @property
    def api_url(self) -> str | None:
        return None if self.api_port is None else f"http://127.0.0.1:{self.api_port}"

    @property
    def docs_url(self) -> str | None:
        """Where the API's interactive docs are (None without the API)."""
        if self.api_url is None:
            return None
        from connectors.api.app import DOCS_PATH  # served only when the API is

        return f"{self.api_url}{DOCS_PATH}"


class _EmbeddedServer(uvicorn.Server):
    """uvicorn without signal handlers of its own: the process that embeds it owns them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


@contextlib.asynccontextmanager
async def running_service(
    settings: Settings, *, api: bool = True, clock: Callable[[], datetime] = utc_now
) -> AsyncIterator[RunningService]:
    """Open the store, load the site file, start the OCPP endpoint, the scheduler and (if `api`) the API."""
    store = SqliteStore(settings.store_path)
    await store.open()
    try:
        if settings.site_file is not None:
            await _load_site_file(store, Site.from_yaml(settings.site_file))
        service = Service(settings, store, clock=clock)
        await service.load()
        hashes = {record.station_id: record.password_hash for record in await store.list_stations()}
        server = OcppServer(
            service.state,
            service.registry,
            ServerSettings(
                host=settings.ocpp.host,
                port=settings.ocpp.port,
                path_prefix=settings.ocpp.path_prefix,
                heartbeat_interval_s=settings.ocpp.heartbeat_interval_s,
                command_timeout_s=settings.ocpp.command_timeout_s,
                password_hashes={station: digest for station, digest in hashes.items() if digest is not None},
                require_password=settings.ocpp.require_password,
                tls_certificate=None if settings.ocpp.tls_certificate is None else str(settings.ocpp.tls_certificate),
                tls_key=None if settings.ocpp.tls_key is None else str(settings.ocpp.tls_key),
                offline_fallback_settings=tuple(settings.ocpp.offline_fallback_settings),
            ),
            clock=clock,
            authorize=_authorizer(settings.authorization_allowlist),
            boot_limits=service.failsafe.boot_limits,
        )
        try:
            async with server, Collector():
                service.start(server)
                try:
                    async with _api_server(service, settings) if api else _no_api() as api_port:
                        yield RunningService(service, server, server.port, api_port)
                finally:
                    await service.stop()  # no new run while the stations go
        finally:
            await service.close()  # what the stations sent until the end is written
    finally:
        await store.close()


async def _load_site_file(store: SqliteStore, site: Site) -> None:
    if await store.get_site(site.id) is None:
        await store.put_site(site)
        LOGGER.info("site %s loaded from the site file", site.id)
    else:
        LOGGER.info("site %s is in the store already: kept as it is (the site file is only its first tree)", site.id)


def _authorizer(allowlist: list[str] | None) -> Authorizer:
    if allowlist is None:
        return accept_all
    allowed = frozenset(allowlist)
    return lambda id_token: id_token in allowed


@contextlib.asynccontextmanager
async def _no_api() -> AsyncIterator[None]:
    yield None


@contextlib.asynccontextmanager
async def _api_server(service: Service, settings: Settings) -> AsyncIterator[int]:
    """uvicorn serving the REST API in a task of this loop; yields the port it bound."""
    from connectors.api.app import create_app  # the API is optional for the service's own tests

    app = create_app(service, settings.api_key_records())
    config = uvicorn.Config(
        app, host=settings.api.host, port=settings.api.port, log_level="warning", access_log=False, lifespan="on"
    )
    server = _EmbeddedServer(config)
    task = asyncio.get_running_loop().create_task(_serve(server, settings), name="api")
    while not server.started:
        if task.done():
            task.result()  # raises what stopped it (a port in use: OSError)
            raise RuntimeError("the REST API stopped while starting")
        await asyncio.sleep(0.01)
    port = int(server.servers[0].sockets[0].getsockname()[1])
    LOGGER.info("REST API on http://%s:%d", settings.api.host, port)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def _serve(server: uvicorn.Server, settings: Settings) -> None:
    """`server.serve()`, whose exit when it cannot listen (uvicorn logs the cause, then exits with
    status 3) becomes an OSError naming the address: a SystemExit would stop the whole loop."""
    try:
        await server.serve()
    except SystemExit as exit_:
        address = f"{settings.api.host}:{settings.api.port}"
        raise OSError(
            f"the REST API could not listen on {address} (in use?): uvicorn exited with {exit_.code}"
        ) from None

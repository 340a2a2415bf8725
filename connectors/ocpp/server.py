"""The OCPP-J websocket endpoint: one connection per station, version negotiated per connection.

Stations connect to `ws://{host}:{port}{path_prefix}{station_id}` offering `ocpp2.0.1` and/or
`ocpp1.6`; the newest offered is chosen and the connection is served by `v201` or `v16`. As
OCPP-J says, a connection offering neither completes the handshake without a subprotocol and is
then closed at once, with a close reason naming the ones we speak.

An unknown station id is refused before the upgrade with HTTP 404 (and one log line), unless the
registry allows auto-registration. A station with a password (security profile 1, see `security`)
that does not send it right is refused with HTTP 401, before the upgrade too; with a certificate
and key configured the endpoint speaks TLS only (`wss://`, security profile 2).

A second connection with the same station id replaces the first: the old one is closed
("replaced") and its end does not unregister the new one.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import ssl
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from connectors.ocpp.commands import DEFAULT_TIMEOUT_S
from connectors.ocpp.connection import DEFAULT_HEARTBEAT_S, Authorizer, StationHandler, accept_all
from connectors.ocpp.events import EventSink, StationDisconnected
from connectors.ocpp.fallback import BootLimitsPolicy, share_among_guns
from connectors.ocpp.obedience import ObedienceSettings
from connectors.ocpp.security import BasicAuth, server_tls_context
from connectors.ocpp.v16 import V16Station
from connectors.ocpp.v201 import V201Station
from connectors.ocpp.validation import check_on_the_loop
from models.station import OfflineFallbackSetting

LOGGER = logging.getLogger(__name__)

HANDLERS: dict[str, type[StationHandler]] = {"ocpp2.0.1": V201Station, "ocpp1.6": V16Station}
"""Subprotocol -> handler class, in order of preference."""
SUBPROTOCOLS = [Subprotocol(name) for name in HANDLERS]
REPLACED = 4000  # application close code: a newer connection of the same station took over


@dataclass(frozen=True)
class ServerSettings:
    """Where the endpoint listens and how it treats stations. `port` 0 picks a free port."""

    host: str = "0.0.0.0"
    port: int = 9000
    path_prefix: str = "/ocpp/"
    heartbeat_interval_s: int = DEFAULT_HEARTBEAT_S
    command_timeout_s: float = DEFAULT_TIMEOUT_S
    command_retries: int = 1
    """How many times a command that got no answer is sent again."""
    fallback_limit_kw: float | None = None
    """What a station may draw in all while nobody steers it: sent at boot as its cap and, shared
    among its guns, as their tx default (see `fallback`). None: no profiles at boot."""
    offline_fallback_settings: tuple[OfflineFallbackSetting, ...] = ()
    """A station's own settings of what it draws once it lost us (vendor-specific), looked for at
    boot: the first it has gets its fallback (`offline_fallback`). Empty: none looked for."""
    obedience: ObedienceSettings = field(default_factory=ObedienceSettings)
    """When a gun that draws more than it was given is judged uncontrolled."""
    password_hashes: Mapping[str, str] = field(default_factory=dict)
    """Station id -> `security.hash_password` of its basic auth password (security profile 1)."""
    require_password: bool = False
    """Refuse every station without a password hash, not only those with a wrong password."""
    tls_certificate: str | None = None
    """PEM certificate chain; with `tls_key`, the endpoint speaks wss:// only (security profile 2)."""
    tls_key: str | None = None


class StationRegistry:
    """Which stations may connect, and the connection each has now."""

    def __init__(self, known: Iterable[str] = (), *, auto_register: bool = False) -> None:
        self.known = set(known)
        self.auto_register = auto_register
        self._connected: dict[str, StationHandler] = {}
        self._transactions: dict[str, dict[str, int]] = {}
        self._uncontrolled: dict[str, dict[str, str]] = {}

    def transactions_of(self, station_id: str) -> dict[str, int]:
        """The running transactions of a station (id -> EVSE), kept across its connections."""
        return self._transactions.setdefault(station_id, {})

    def uncontrolled_of(self, station_id: str) -> dict[str, str]:
        """The guns of a station that cannot be steered (gun id -> why), kept across its connections."""
        return self._uncontrolled.setdefault(station_id, {})

    def admits(self, station_id: str) -> bool:
        """Whether `station_id` may connect; an auto-registered one becomes known."""
        if station_id in self.known:
            return True
        if self.auto_register:
            LOGGER.info("station %s registered on first connection", station_id)
            self.known.add(station_id)
            return True
        return False

    def get(self, station_id: str) -> StationHandler | None:
        return self._connected.get(station_id)

    @property
    def connected(self) -> dict[str, StationHandler]:
        return dict(self._connected)

    def attach(self, station: StationHandler) -> StationHandler | None:
        """Make `station` the station's connection; the one it replaces, if any."""
        previous = self._connected.get(station.station_id)
        self._connected[station.station_id] = station
        return previous

    def detach(self, station: StationHandler) -> bool:
        """Forget `station` if it is still the current connection (False: it was replaced)."""
        if self._connected.get(station.station_id) is station:
            del self._connected[station.station_id]
            return True
        return False


class OcppServer:
    """The websocket server; use as `async with OcppServer(...) as server:` or start()/stop()."""

    def __init__(
        self,
        sink: EventSink,
        registry: StationRegistry,
        settings: ServerSettings | None = None,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        authorize: Authorizer = accept_all,
        boot_limits: BootLimitsPolicy | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`boot_limits` decides the profiles sent at boot (default: `settings.fallback_limit_kw`
        shared among each station's guns); `ssl_context` overrides the one built from the settings."""
        self.sink = sink
        self.authorize = authorize
        self.registry = registry
        self.settings = settings or ServerSettings()
        self.clock = clock
        fallback_kw = self.settings.fallback_limit_kw
        self.boot_limits = boot_limits or (share_among_guns(fallback_kw) if fallback_kw is not None else None)
        self.auth = BasicAuth(self.settings.password_hashes, required=self.settings.require_password)
        if ssl_context is None and self.settings.tls_certificate is not None:
            if self.settings.tls_key is None:
                raise ValueError("a TLS certificate needs its key (tls_key)")
            ssl_context = server_tls_context(self.settings.tls_certificate, self.settings.tls_key)
        self.ssl_context = ssl_context
        # 1.6 transaction ids: integers unique across the stations and restarts of this process
        self._transaction_ids = itertools.count(int(time.time()) % 1_000_000 * 1000)
        self._server: Server | None = None

    @property
    def port(self) -> int:
        """The port listened on (the one picked when the settings say 0)."""
        if self._server is None:
            raise RuntimeError("the server is not started")
        return int(next(iter(self._server.sockets)).getsockname()[1])

    def url(self, station_id: str, host: str = "127.0.0.1") -> str:
        scheme = "ws" if self.ssl_context is None else "wss"
        return f"{scheme}://{host}:{self.port}{self.settings.path_prefix}{station_id}"

    async def start(self) -> None:
        check_on_the_loop()
        self._server = await serve(
            self._serve_connection,
            self.settings.host,
            self.settings.port,
            subprotocols=SUBPROTOCOLS,
            select_subprotocol=_select_subprotocol,
            process_request=self._check_request,
            ssl=self.ssl_context,
        )
        LOGGER.info(
            "OCPP endpoint on %s://%s:%s%s{station_id}",
            "ws" if self.ssl_context is None else "wss",
            self.settings.host,
            self.port,
            self.settings.path_prefix,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        await self.stop()

    # -- before the upgrade ------------------------------------------------------------------

    def station_id_of(self, path: str) -> str | None:
        """The station id in a request path, or None when the path is not ours."""
        prefix = self.settings.path_prefix
        route = urlsplit(path).path
        if not route.startswith(prefix):
            return None
        station_id = unquote(route[len(prefix) :])
        if not station_id or "/" in station_id or any(char.isspace() for char in station_id):
            return None
        return station_id

    async def _check_request(self, connection: ServerConnection, request: Request) -> Response | None:
        station_id = self.station_id_of(request.path)
        if station_id is None:
            LOGGER.warning("refused %s from %s: not an OCPP path", request.path, connection.remote_address)
            return _plain(HTTPStatus.NOT_FOUND, f"no OCPP endpoint at {request.path}\n")
        if self.auth.applies_to(station_id):  # before `admits`: auto-registration must not skip it
            authorization = request.headers.get("Authorization")
            refusal = await asyncio.to_thread(self.auth.refusal, station_id, authorization)  # scrypt: slow
            if refusal is not None:
                LOGGER.warning("refused station %r from %s: %s", station_id, connection.remote_address, refusal)
                response = _plain(HTTPStatus.UNAUTHORIZED, "authentication failed\n")
                response.headers["WWW-Authenticate"] = 'Basic realm="OCPP", charset="UTF-8"'
                return response
        if not self.registry.admits(station_id):
            LOGGER.warning("refused unknown station %r from %s", station_id, connection.remote_address)
            return _plain(HTTPStatus.NOT_FOUND, f"unknown station {station_id}\n")
        return None

    # -- one connection ----------------------------------------------------------------------

    async def _serve_connection(self, connection: ServerConnection) -> None:
        station_id = self.station_id_of(connection.request.path if connection.request else "")
        assert station_id is not None  # _check_request let it through
        handler_class = HANDLERS.get(connection.subprotocol or "")
        if handler_class is None:
            offered = connection.request.headers.get_all("Sec-WebSocket-Protocol") if connection.request else []
            LOGGER.warning("station %s offered no OCPP version we speak: %s", station_id, offered or "none")
            await connection.close(
                CloseCode.PROTOCOL_ERROR, f"no supported OCPP subprotocol offered; use one of {', '.join(HANDLERS)}"
            )
            return
        station = handler_class(
            station_id,
            connection,
            self.sink,
            clock=self.clock,
            command_timeout_s=self.settings.command_timeout_s,
            command_retries=self.settings.command_retries,
            heartbeat_interval_s=self.settings.heartbeat_interval_s,
            transaction_ids=self._transaction_ids,
            evse_of_transaction=self.registry.transactions_of(station_id),
            authorize=self.authorize,
            obedience=self.settings.obedience,
            uncontrolled=self.registry.uncontrolled_of(station_id),
            boot_limits=self.boot_limits,
            offline_fallback_settings=self.settings.offline_fallback_settings,
        )
        previous = self.registry.attach(station)
        if previous is not None:
            LOGGER.info("station %s reconnected; closing its previous connection", station_id)
            # not awaited: a dead old connection may take the whole close timeout to go
            previous.in_background(previous.disconnect(REPLACED, "replaced by a newer connection of this station"))
        LOGGER.info("station %s connected (%s)", station_id, connection.subprotocol)
        station.commands.start()
        try:
            await station.start()
        except ConnectionClosed as closed:
            LOGGER.info("station %s disconnected (%s)", station_id, closed.rcvd or "no close frame")
        finally:
            await station.commands.close()
            replaced = not self.registry.detach(station)
            self.sink.publish(StationDisconnected(station_id, self.clock(), replaced=replaced))


def _select_subprotocol(connection: ServerConnection, offered: Sequence[Subprotocol]) -> Subprotocol | None:
    """The newest OCPP version offered; None (then closed in the handler, as OCPP-J says) for none."""
    return next((name for name in SUBPROTOCOLS if name in offered), None)


def _plain(status: HTTPStatus, text: str) -> Response:
    body = text.encode()
    headers = Headers([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return Response(status.value, status.phrase, headers, body)

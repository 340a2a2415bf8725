"""What the websocket tests share: an endpoint on a free port of 127.0.0.1, a simulated station, a bound.

Each test runs its own event loop (`run`), bounded in time; meter values come every
`METER_INTERVAL_S` so that the tests stay fast.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from connectors.ocpp.events import MemorySink
from connectors.ocpp.server import OcppServer, ServerSettings, StationRegistry
from connectors.simulator.charge_point import SimulatedChargePoint

T = TypeVar("T")
VERSIONS = ["1.6", "2.0.1"]
METER_INTERVAL_S = 0.05


def run(scenario: Coroutine[Any, Any, T]) -> T:
    async def bounded() -> T:
        async with asyncio.timeout(10):
            return await scenario

    return asyncio.run(bounded())


@asynccontextmanager
async def endpoint(
    *known: str, auto_register: bool = False, server_options: dict[str, Any] | None = None, **settings: Any
) -> AsyncIterator[OcppServer]:
    """A server on a free port; `settings` go to `ServerSettings`, `server_options` to `OcppServer`."""
    server = OcppServer(
        MemorySink(),
        StationRegistry(known or ("CP1",), auto_register=auto_register),
        ServerSettings(host="127.0.0.1", port=0, **{"command_timeout_s": 2.0, **settings}),
        **(server_options or {}),
    )
    async with server:
        yield server


@asynccontextmanager
async def simulated(server: OcppServer, version: str, **options: Any) -> AsyncIterator[SimulatedChargePoint]:
    station = SimulatedChargePoint(
        "CP1", server.url("CP1"), "1.6" if version == "1.6" else "2.0.1", meter_interval_s=METER_INTERVAL_S, **options
    )
    await station.start()
    try:
        yield station
    finally:
        await station.stop()


def sink_of(server: OcppServer) -> MemorySink:
    assert isinstance(server.sink, MemorySink)
    return server.sink


async def until(condition: Callable[[], bool], timeout_s: float = 2.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.01)

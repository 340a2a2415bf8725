"""Run the OCPP endpoint on its own and log every event: `python -m connectors.ocpp --help`.

For trying stations (or `python -m connectors.simulator`) against it; the service wires the
endpoint to its store instead.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from connectors.ocpp.events import StationEvent
from connectors.ocpp.server import OcppServer, ServerSettings, StationRegistry

LOGGER = logging.getLogger("connectors.ocpp.events")


class LoggingSink:
    """An `EventSink` that logs each event."""

    def publish(self, event: StationEvent) -> None:
        LOGGER.info("%s", event)


async def serve(settings: ServerSettings, registry: StationRegistry) -> None:
    async with OcppServer(LoggingSink(), registry, settings):
        await asyncio.Event().wait()  # until interrupted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=ServerSettings.host)
    parser.add_argument("--port", type=int, default=ServerSettings.port)
    parser.add_argument("--path-prefix", default=ServerSettings.path_prefix)
    parser.add_argument("--station", action="append", default=[], help="a known station id (repeatable)")
    parser.add_argument("--auto-register", action="store_true", help="admit unknown station ids")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every frame at INFO
    settings = ServerSettings(host=arguments.host, port=arguments.port, path_prefix=arguments.path_prefix)
    registry = StationRegistry(arguments.station, auto_register=arguments.auto_register)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, registry))


if __name__ == "__main__":
    main()

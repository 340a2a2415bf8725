"""Run the OCPP endpoint on its own and log every event: `python -m connectors.ocpp --help`.

For trying stations (or `python -m connectors.simulator`) against it; the service wires the
endpoint to its store instead. `python -m connectors.ocpp hash-password` prints the stored form
of a password (read without echo) for `--password-hash`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import logging
import sys

from connectors.ocpp.events import StationEvent
from connectors.ocpp.security import hash_password
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
    if sys.argv[1:2] == ["hash-password"]:
        print(hash_password(getpass.getpass("password: ")))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default=ServerSettings.host)
    parser.add_argument("--port", type=int, default=ServerSettings.port)
    parser.add_argument("--path-prefix", default=ServerSettings.path_prefix)
    parser.add_argument("--station", action="append", default=[], help="a known station id (repeatable)")
    parser.add_argument("--auto-register", action="store_true", help="admit unknown station ids")
    parser.add_argument(
        "--password-hash",
        action="append",
        default=[],
        metavar="STATION=HASH",
        help="a station's basic auth password as `hash-password` prints it (repeatable)",
    )
    parser.add_argument("--require-password", action="store_true", help="refuse stations without a password")
    parser.add_argument("--tls-certificate", help="PEM certificate chain: serve wss:// only")
    parser.add_argument("--tls-key", help="PEM private key of --tls-certificate")
    parser.add_argument("--fallback-limit-kw", type=float, help="each station's limit while nobody steers it")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every frame at INFO
    hashes = dict(item.split("=", 1) for item in arguments.password_hash)
    settings = ServerSettings(
        host=arguments.host,
        port=arguments.port,
        path_prefix=arguments.path_prefix,
        password_hashes=hashes,
        require_password=arguments.require_password,
        tls_certificate=arguments.tls_certificate,
        tls_key=arguments.tls_key,
        fallback_limit_kw=arguments.fallback_limit_kw,
    )
    registry = StationRegistry(arguments.station, auto_register=arguments.auto_register)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, registry))


if __name__ == "__main__":
    main()

"""A charge point we did not write: the `test-ocpp` connection checker (PyPI, pinned in the dev extra).

It connects as a charge point, negotiates the subprotocol, sends BootNotification and Heartbeat
and checks the answers; it answers any CALL of ours with CALLERROR NotImplemented. Run both in
process (`check_connection`) and as its command line, as an operator would, over TLS with basic
auth (security profile 2).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from test_ocpp import check_connection

from connectors.ocpp.events import StationBooted
from connectors.ocpp.security import hash_password
from connectors.ocpp.server import OcppServer
from tests.connectors.live import VERSIONS, endpoint, run, sink_of

PASSWORD = "a-station-password-of-some-length"


def base_url(server: OcppServer) -> str:
    """The endpoint's URL without the station id, which the checker appends."""
    return server.url("CP1").removesuffix("/CP1")


@pytest.mark.parametrize("version", VERSIONS)
def test_the_checker_boots_and_beats_against_our_endpoint(version: str) -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            result = await check_connection(base_url(server), "CP1", ocpp=version, timeout=5)
            assert result.subprotocol == f"ocpp{version}"
            assert result.boot_notification["status"] == "Accepted"
            assert result.boot_notification["interval"] > 0
            assert "currentTime" in result.heartbeat
            booted = await sink_of(server).wait_for(StationBooted)
            assert (booted.station_id, booted.ocpp_version, booted.vendor) == ("CP1", version, "TestVendor")

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_the_checker_command_line_passes_security_profile_2(version: str, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    hashes = {"CP1": hash_password(PASSWORD)}

    async def checker(server: OcppServer, *options: str) -> tuple[int, str]:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "test_ocpp",
            base_url(server),
            "CP1",
            "--ocpp",
            version,
            "--ca",
            str(cert),
            "--timeout",
            "5",
            *options,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return process.returncode or 0, output.decode()

    async def scenario() -> None:
        async with endpoint(password_hashes=hashes, tls_certificate=str(cert), tls_key=str(key)) as server:
            code, output = await checker(server, "--password", PASSWORD)
            assert code == 0, output
            assert "SUCCESS" in output
            assert "TLS: TLSv1.3" in output or "TLS: TLSv1.2" in output
            code, output = await checker(server, "--password", "not-the-password")
            assert code == 1
            assert "HTTP 401" in output

    run(scenario())

"""A disobedient charge point we did not write: `ocpp simulate` of the npm package ocpp-ws-cli 1.1.12.

That simulator is an OCPP 1.6 charge point that draws a fixed ~5 kW (21 A at 240 V) while charging,
sends meter values every 10 s and answers Accepted to SetChargingProfile without applying it. It is
interactive (prompts, then single-key commands), so it runs on a pseudo-terminal and the test
answers its prompts as a person would. Given 2 kW, it must be marked uncontrolled within a few
samples, with the default judgement settings: this test takes about a minute.

The package is installed with the machine's npm into a temporary folder, version pinned.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import re
import shutil
import struct
import subprocess
import termios
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.ocpp.events import CapabilitiesLearned, GunUncontrolled, MeterSampleReceived, SessionStarted
from models import Gun
from tests.connectors.live import endpoint, sink_of

PACKAGE = "ocpp-ws-cli@1.1.12"
STATION = "NPM01"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
PROMPTS = ("OCPP subprotocol", "Default ID Tag", "save a report file")


@pytest.fixture(scope="module")
def ocpp_ws_cli(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The installed simulator's entry script."""
    npm = shutil.which("npm")
    if npm is None or shutil.which("node") is None:
        pytest.skip("node and npm are needed for the ocpp-ws-cli peer")
    folder = tmp_path_factory.mktemp("npm-peer")
    subprocess.run(
        [npm, "install", "--prefix", str(folder), "--no-audit", "--no-fund", "--silent", PACKAGE],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return folder / "node_modules" / "ocpp-ws-cli" / "dist" / "index.js"


class Terminal:
    """A program on a pseudo-terminal: what it printed (colours removed), and keys typed to it."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self._master = master
        self.screen = ""
        asyncio.get_running_loop().add_reader(master, self._read)

    def _read(self) -> None:
        try:
            self.screen += ANSI.sub("", os.read(self._master, 65536).decode(errors="replace"))
        except OSError:  # the program closed its terminal
            asyncio.get_running_loop().remove_reader(self._master)

    async def wait_for_text(self, text: str, timeout_s: float = 20.0) -> None:
        async with asyncio.timeout(timeout_s):
            while text not in self.screen:
                await asyncio.sleep(0.05)

    def type(self, keys: str) -> None:
        os.write(self._master, keys.encode())

    async def close(self) -> None:
        asyncio.get_running_loop().remove_reader(self._master)
        if self.process.returncode is None:
            self.process.kill()
            await self.process.wait()
        os.close(self._master)


async def start_simulator(script: Path, url: str) -> Terminal:
    master, slave = os.openpty()
    # A terminal of 0 columns (the default of a new pty) makes it print one character per line.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 120, 0, 0))
    process = await asyncio.create_subprocess_exec(
        "node",
        str(script),
        "simulate",
        "-e",
        url.removesuffix(f"/{STATION}"),
        "-i",
        STATION,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm-256color"},
    )
    os.close(slave)
    return Terminal(process, master)


def test_a_third_party_station_that_accepts_but_ignores_a_limit_is_marked_uncontrolled(ocpp_ws_cli: Path) -> None:
    async def scenario() -> None:
        async with endpoint(STATION, command_timeout_s=5.0) as server:
            sink = sink_of(server)
            terminal = await start_simulator(ocpp_ws_cli, server.url(STATION))
            try:
                for prompt in PROMPTS:  # take every default: ocpp1.6, its id tag, no report
                    await terminal.wait_for_text(prompt)
                    await asyncio.sleep(0.2)  # the prompt reads keys once drawn
                    terminal.type("\r")
                await sink.wait_for(CapabilitiesLearned, timeout_s=20)
                await terminal.wait_for_text("INTERACTIVE CONTROLS")
                terminal.type("t")  # start a transaction: it draws ~5 kW from now on
                started = await sink.wait_for(SessionStarted, timeout_s=20)
                await sink.wait_for(MeterSampleReceived, timeout_s=20)
                handler = server.registry.get(STATION)
                assert handler is not None
                gun = Gun(station_id=STATION, max_power_kw=7.4, phases=1, voltage_v=240)
                begin = datetime.now(UTC) - timedelta(seconds=1)
                outcome = await handler.commands.apply_limit(
                    gun, [(begin, 2.0)], handler.capabilities, transaction_id=started.transaction_id
                )
                assert outcome.ok, outcome.reason  # it says Accepted ...
                verdict = await sink.wait_for(GunUncontrolled, timeout_s=60)  # ... its meter says otherwise
                assert verdict.gun_id == f"{STATION}/1"
                drawn = re.search(r"drew up to ([0-9.]+) kW", verdict.reason)
                assert drawn is not None, verdict.reason
                assert float(drawn.group(1)) > 4.0  # its fixed ~5 kW, against the 2 kW it was given
                assert server.registry.uncontrolled_of(STATION) == {f"{STATION}/1": verdict.reason}
            except TimeoutError as error:
                events = [type(event).__name__ for event in sink.events]
                raise AssertionError(f"events: {events}\nscreen:\n{terminal.screen[-3000:]}") from error
            finally:
                await terminal.close()

    asyncio.run(asyncio.wait_for(scenario(), timeout=150))

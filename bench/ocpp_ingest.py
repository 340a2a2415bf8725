"""OCPP ingest benchmark: many stations on loopback sending MeterValues, against a bare ceiling.

    python bench/ocpp_ingest.py                                   # 5,000 connections, 1,000 msg/s, 30 s
    python bench/ocpp_ingest.py --connections 100 1000 5000 --duration 20
    python bench/ocpp_ingest.py --connections 500 --duration 20  # a quicker look
    python bench/ocpp_ingest.py --rate 0 --connections 100 1000 5000 --kinds echo ocpp --duration 20  # capacity

For each number of connections, two servers are measured in the same run, each in a child process
of its own (so that its CPU and memory are its own, and the load generator does not share its
event loop):

- `ocpp`: the real `OcppServer` (OCPP 1.6J), every station auto-registered, its events counted by a
  sink that does nothing else (the store is not part of this measurement); it checks schemas with
  compiled checks (connectors/ocpp/validation.py), and with the `ocpp` library's validator only
  the payloads those refuse;
- `echo`: a bare `websockets` server sending every frame straight back: the ceiling.

The load is raw websocket clients speaking OCPP-J frames (the `ocpp` library's client class per
connection costs more than the server under test): each boots (BootNotification), answers the
configuration calls the endpoint makes after boot, and then sends MeterValues on a fixed schedule,
staggered across connections, for an aggregate of `--rate` messages per second; with `--rate 0`
each station sends its next as soon as its last is answered (as fast as it gets answers: messages
per second is then the capacity, and the latency mostly queueing, not held to a target). The latency is
CALL -> CALLRESULT at the station side (the echo server's answer is the CALL itself, matched by
its message id). Reported: connected stations, messages answered and per second, latency median,
p99 and max, lost (unanswered within 10 s), the server's CPU (percent of one core, and per
message) and resident memory over the measured window, and the load generator's own CPU (near
100 % it, not the server, sets the latency) and the lag of its event loop (how late a 5 ms sleep
wakes: p99 and max; a stall there delays answers and then sends the late messages in one burst);
then the ratios ocpp / echo.

The load generator's cyclic garbage collector is off during the measured window (collected just
before it): with 5,000 connections its full collections stopped its loop for 0.4-0.6 s twice in
20 s, and each stall came back as a burst of some 500 messages that every server then had to queue.
That was the generator's stall, not the server's. The servers' own collectors run as they would: the
`ocpp` server's with the policy `gridcharge serve` runs (connectors/collector.py: what a full
collection kept is frozen, so the next one does not scan 450 MB of connections again). Target (issue 3): 5,000
stations on one process, 1,000 MeterValues/s with p99 under 50 ms.

This is a script, not a test: timings on a shared machine are facts to read, not to assert.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import itertools
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT))

TARGET_P99_MS = 50.0
LOST_AFTER_S = 10.0
QUIET_S, LONGEST_SETTLE_S = 1.0, 120.0
"""Before the measured window, the endpoint's post-boot calls must have stopped for `QUIET_S`."""
CONNECTING_AT_ONCE = 200
LAG_PROBE_S = 0.005
"""The load generator's loop lag is how late a sleep of this length wakes."""
CALL, CALLRESULT, CALLERROR = 2, 3, 4
SUBPROTOCOL = Subprotocol("ocpp1.6")
KINDS = ("echo", "ocpp")


def raise_fd_limit() -> None:
    """Each connection is a file descriptor on both sides: take the hard limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- the servers, each run in a child process --------------------------------------------------


class CountingSink:
    """An `EventSink` that only counts: the endpoint's own cost, without a store behind it."""

    def __init__(self) -> None:
        self.published = 0

    def publish(self, event: object) -> None:
        self.published += 1


async def serve_ocpp() -> None:
    """The endpoint with the garbage collection policy `gridcharge serve` runs (connectors/collector.py)."""
    from connectors.collector import Collector
    from connectors.ocpp.server import OcppServer, ServerSettings, StationRegistry

    settings = ServerSettings(host="127.0.0.1", port=0, heartbeat_interval_s=3600)
    async with OcppServer(CountingSink(), StationRegistry(auto_register=True), settings) as server, Collector():
        print(f"READY {server.port}", flush=True)
        await asyncio.Event().wait()


async def serve_echo() -> None:
    async def echo(connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for message in connection:
                await connection.send(message)

    async with serve(echo, "127.0.0.1", 0, subprotocols=[SUBPROTOCOL]) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {port}", flush=True)
        await asyncio.Event().wait()


def serve_main(kind: str) -> None:
    import logging

    raise_fd_limit()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("ocpp").setLevel(logging.ERROR)  # the library logs every frame at INFO
    logging.getLogger("connectors").setLevel(logging.ERROR)  # a line per connecting station otherwise
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve_echo() if kind == "echo" else serve_ocpp())


@dataclass
class ChildServer:
    """A server in a child process: its port, and its CPU and memory read from /proc."""

    kind: str
    process: subprocess.Popen[str]
    port: int

    @classmethod
    def start(cls, kind: str) -> ChildServer:
        process = subprocess.Popen(
            [sys.executable, __file__, "--serve", kind], stdout=subprocess.PIPE, text=True, cwd=_ROOT
        )
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("READY "):
            process.kill()
            raise RuntimeError(f"the {kind} server did not start: {line!r}")
        return cls(kind, process, int(line.split()[1]))

    def cpu_s(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Measured:
    latencies_s: list[float] = field(default_factory=list)
    sent: int = 0
    measuring: bool = False
    calls_answered: int = 0
    """Calls of the server (post-boot configuration) the stations answered."""


class Station:
    """One raw OCPP-J 1.6 connection: boots, answers the endpoint's calls, sends MeterValues."""

    def __init__(self, station_id: str, connection: ClientConnection, measured: Measured) -> None:
        self.station_id = station_id
        self.connection = connection
        self.measured = measured
        self.pending: dict[str, tuple[float, bool, asyncio.Future[None]]] = {}
        self.ids = itertools.count()
        self.register_wh = 0.0
        self.receiver: asyncio.Task[None] | None = None

    async def call(self, action: str, payload: dict[str, Any]) -> bool:
        """Send a CALL and wait for its answer; False when none came within `LOST_AFTER_S`."""
        message_id = f"{self.station_id}-{next(self.ids)}"
        answered = asyncio.get_running_loop().create_future()
        self.pending[message_id] = (time.perf_counter(), self.measured.measuring, answered)
        if self.measured.measuring:
            self.measured.sent += 1
        try:
            await self.connection.send(json.dumps([CALL, message_id, action, payload]))
            await asyncio.wait_for(answered, LOST_AFTER_S)
        except (ConnectionClosed, TimeoutError):
            return False
        finally:
            self.pending.pop(message_id, None)
        return True

    async def receive(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.connection:
                frame = json.loads(text)
                entry = self.pending.get(frame[1])
                if entry is not None:  # an answer (or, from the echo server, our own CALL back)
                    sent_at, counted, answered = entry
                    if counted:
                        self.measured.latencies_s.append(time.perf_counter() - sent_at)
                    if not answered.done():
                        answered.set_result(None)
                elif frame[0] == CALL:
                    self.measured.calls_answered += 1
                    await self.connection.send(json.dumps([CALLRESULT, frame[1], answer_to(frame[2])]))

    def meter_values(self) -> dict[str, Any]:
        self.register_wh += 7000 / 3600
        sampled = [
            {"value": "7000.0", "measurand": "Power.Active.Import", "unit": "W"},
            {"value": f"{self.register_wh:.1f}", "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
        ]
        return {"connectorId": 1, "meterValue": [{"timestamp": datetime.now(UTC).isoformat(), "sampledValue": sampled}]}


def answer_to(action: str) -> dict[str, Any]:
    """What the station answers the endpoint's post-boot calls (it knows no configuration key)."""
    if action == "GetConfiguration":
        return {"configurationKey": []}
    if action in {"ChangeConfiguration", "SetChargingProfile", "ClearChargingProfile"}:
        return {"status": "Accepted"}
    return {"status": "Rejected"}


async def open_station(url: str, station_id: str, measured: Measured, gate: asyncio.Semaphore) -> Station | None:
    async with gate:
        try:
            connection = await connect(f"{url}{station_id}", subprotocols=[SUBPROTOCOL], open_timeout=30)
        except (OSError, TimeoutError) as error:
            print(f"  {station_id} did not connect: {error}", file=sys.stderr)
            return None
        station = Station(station_id, connection, measured)
        station.receiver = asyncio.create_task(station.receive())
        if not await station.call("BootNotification", {"chargePointVendor": "bench", "chargePointModel": "raw"}):
            await connection.close()
            return None
        return station


async def settle(measured: Measured) -> None:
    """Wait until the endpoint has sent no call for `QUIET_S` (at most `LONGEST_SETTLE_S`)."""
    async with asyncio.timeout(LONGEST_SETTLE_S):
        while True:
            before = measured.calls_answered
            await asyncio.sleep(QUIET_S)
            if measured.calls_answered == before:
                return


async def probe_lag(lags_s: list[float]) -> None:
    """Sleep `LAG_PROBE_S` again and again and record how late each wake-up is, until cancelled."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        lags_s.append(time.perf_counter() - before - LAG_PROBE_S)


async def send_on_schedule(station: Station, first_at: float, every_s: float, until: float) -> int:
    """MeterValues at first_at, first_at + every_s, ... (perf_counter); the number left unanswered."""
    calls = []
    for number in itertools.count():
        at = first_at + number * every_s
        if at >= until:
            break
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        calls.append(asyncio.create_task(station.call("MeterValues", station.meter_values())))
    answered = await asyncio.gather(*calls)
    return answered.count(False)


async def send_when_answered(station: Station, until: float) -> int:
    """MeterValues again as soon as the last one is answered, until `until`; the number unanswered."""
    lost = 0
    while time.perf_counter() < until:
        lost += not await station.call("MeterValues", station.meter_values())
    return lost


@dataclass(frozen=True)
class Result:
    kind: str
    connections: int
    connected: int
    sent: int
    answered: int
    lost: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    cpu_percent: float
    cpu_ms_per_message: float
    """Server CPU time per message answered: what the message costs, however busy the machine."""
    rss_mb: float
    client_cpu_percent: float
    client_lag_p99_ms: float
    client_lag_max_ms: float


async def measure(server: ChildServer, connections: int, rate: float, duration_s: float) -> Result:
    url = f"ws://127.0.0.1:{server.port}/ocpp/"
    measured = Measured()
    gate = asyncio.Semaphore(CONNECTING_AT_ONCE)
    opened = await asyncio.gather(
        *(open_station(url, f"B{number:05d}", measured, gate) for number in range(connections))
    )
    stations = [station for station in opened if station is not None]
    await settle(measured)
    every_s = len(stations) / rate if rate else 0.0
    gc.collect()
    gc.disable()  # see the module docstring: the generator's own pauses are not the server's
    lags_s: list[float] = []
    prober = asyncio.create_task(probe_lag(lags_s))
    cpu_before, client_cpu_before, started = server.cpu_s(), time.process_time(), time.perf_counter()
    measured.measuring = True
    until = started + duration_s
    try:
        losses = await asyncio.gather(
            *(
                send_on_schedule(station, started + every_s * index / len(stations), every_s, until)
                if rate
                else send_when_answered(station, until)
                for index, station in enumerate(stations)
            )
        )
        elapsed_s = time.perf_counter() - started
        cpu_s = server.cpu_s() - cpu_before
        client_cpu_s = time.process_time() - client_cpu_before
    finally:
        prober.cancel()
        gc.enable()
    rss_mb = server.rss_mb()
    await asyncio.gather(*(station.connection.close() for station in stations), return_exceptions=True)
    latencies_ms = sorted(1000 * value for value in measured.latencies_s)
    lags_ms = sorted(1000 * value for value in lags_s)
    return Result(
        kind=server.kind,
        connections=connections,
        connected=len(stations),
        sent=measured.sent,
        answered=len(latencies_ms),
        lost=sum(losses),
        duration_s=elapsed_s,
        p50_ms=statistics.median(latencies_ms) if latencies_ms else float("nan"),
        p99_ms=_percentile(latencies_ms, 0.99),
        max_ms=latencies_ms[-1] if latencies_ms else float("nan"),
        cpu_percent=100 * cpu_s / elapsed_s,
        cpu_ms_per_message=1000 * cpu_s / max(1, len(latencies_ms)),
        rss_mb=rss_mb,
        client_cpu_percent=100 * client_cpu_s / elapsed_s,
        client_lag_p99_ms=_percentile(lags_ms, 0.99),
        client_lag_max_ms=lags_ms[-1] if lags_ms else float("nan"),
    )


def _percentile(ordered: list[float], share: float) -> float:
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def run_one(kind: str, connections: int, rate: float, duration_s: float) -> Result:
    server = ChildServer.start(kind)
    try:
        return asyncio.run(measure(server, connections, rate, duration_s))
    finally:
        server.stop()


def report(results: list[Result]) -> None:
    print(
        f"{'server':<6} {'conns':>6} {'connected':>9} {'sent':>7} {'answered':>8} {'lost':>5} {'msg/s':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} {'CPU %':>6} {'CPU ms/msg':>10} {'RSS MB':>7} {'client CPU %':>12} "
        f"{'client lag p99/max ms':>21}"
    )
    for result in results:
        print(
            f"{result.kind:<6} {result.connections:>6} {result.connected:>9} {result.sent:>7} {result.answered:>8} "
            f"{result.lost:>5} {result.answered / result.duration_s:>7.0f} {result.p50_ms:>7.2f} "
            f"{result.p99_ms:>7.2f} {result.max_ms:>7.1f} {result.cpu_percent:>6.0f} "
            f"{result.cpu_ms_per_message:>10.2f} {result.rss_mb:>7.0f} {result.client_cpu_percent:>12.0f} "
            f"{f'{result.client_lag_p99_ms:.1f} / {result.client_lag_max_ms:.1f}':>21}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, nargs="+", default=[5000], help="one run per number")
    parser.add_argument(
        "--rate",
        type=float,
        default=1000.0,
        help="MeterValues per second, all stations together; 0: each station as fast as it gets answers",
    )
    parser.add_argument("--duration", type=float, default=30.0, help="measured seconds per server and size")
    parser.add_argument("--kinds", choices=KINDS, nargs="+", default=list(KINDS), help="the servers to measure")
    parser.add_argument("--serve", choices=KINDS, help=argparse.SUPPRESS)  # the child process
    arguments = parser.parse_args()
    if arguments.serve:
        serve_main(arguments.serve)
        return
    raise_fd_limit()
    print(f"load average (1, 5, 15 min) before: {os.getloadavg()}: other processes may share the CPUs")
    load = f"{arguments.rate:g} MeterValues/s" if arguments.rate else "MeterValues as fast as answered"
    print(f"OCPP ingest: {load} for {arguments.duration:g} s per run, on {os.cpu_count()} CPUs")
    results: list[Result] = []
    kinds = ["echo", *(kind for kind in KINDS if kind != "echo" and kind in arguments.kinds)]  # the ceiling always
    for connections in arguments.connections:
        for kind in kinds:
            print(f"  {kind} with {connections} connections ...", flush=True)
            results.append(run_one(kind, connections, arguments.rate, arguments.duration))
    print(f"\nload average after: {os.getloadavg()}")
    report(results)
    print()
    for connections in arguments.connections:
        echo, *servers = (
            next(result for result in results if result.kind == kind and result.connections == connections)
            for kind in kinds
        )
        for server in servers:
            ratios = (
                f"{connections} connections, {server.kind} / echo: p50 x{server.p50_ms / echo.p50_ms:.1f}, "
                f"p99 x{server.p99_ms / echo.p99_ms:.1f}, "
                f"CPU per message x{server.cpu_ms_per_message / echo.cpu_ms_per_message:.1f}"
            )
            if not arguments.rate:
                rates = server.answered / server.duration_s, echo.answered / echo.duration_s
                print(f"{ratios}, messages/s x{rates[0] / rates[1]:.2f} (as fast as answered: no target)")
                continue
            met = server.p99_ms < TARGET_P99_MS and server.connected == connections and not server.lost
            verdict = "met" if met else "MISSED"
            print(f"{ratios}; target p99 < {TARGET_P99_MS:g} ms, all connected, none lost: {verdict}")


if __name__ == "__main__":
    main()

"""Reaction benchmark: from a REST limit change to the last station having its new profile.

    python bench/reaction.py                              # 10, 100 and 1,000 stations, 20 changes each
    python bench/reaction.py --stations 10 100            # a quicker look

For each fleet size, the real service (`connectors.app.running_service`: embedded SQLite store,
OCPP endpoint, scheduler, REST API on loopback, default settings) runs in this
process, and the fleet in a child process of its own (so that the stations' work does not share the
service's event loop): one one-gun 22 kW station per id, half of them speaking OCPP 1.6 and half
2.0.1, each with a car that draws up to 11 kW plugged in for the whole run.

The site's grid limit alternates between `--low-kw` and `--high-kw` per gun (times the number of
stations), so that nearly every gun gets a new limit at every change. Each change is a
`PUT /api/v1/sites/{site}/limits/grid` with a write API key over HTTP. Its reaction time runs from
just before the request is sent to the moment the last station accepted a tx profile from the run
the change caused (the next change waits until that run is recorded, then `--settle-s`). It is
measured at the station side: a hook on each simulated station's profile store stamps every tx
profile it accepts (its Accepted answer goes out right after), on the machine's monotonic clock,
which both processes share. Profiles that lower a station's limit are falls: the service sends
them first, with the rises that fit while the falls are still drawn, and the other rises `follow_s`
(5 s by default) after the falls were accepted, so that cars free power before others take it
(the changes here are all falls or all rises); the time to the last fall is when the site is
within a lowered limit, and is reported apart. So is the time until every profile the change
caused is in place: the tx defaults and the stations' fallbacks (EVSE 0's tx default) go behind the
tx profiles in each station's queue, and are stamped the same way (after each run the bench waits
until no command is queued or in flight to any station).

The baseline, measured in the same run after the changes, is the floor of the protocol round
trips: a tx profile to every station sent directly through the service's `StationCommander`s (no
REST call, no scheduler, no optimizer), timed the same way.

Reported per fleet size: reaction median, p99 and max; the last fall's; the baseline's; the ratio
of the p99s; and the durations of the scheduler runs meanwhile (snapshot, solve, push), from the
`RunRecord`s in the store. A new limit starts its run at once (the scheduler's debounce, 2 s by
default, is for bursts of station events). Target (issue 4): 1,000 stations, p99 under 2 s. This
is a script, not a test: timings on a shared machine are facts to read.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# `python bench/reaction.py` puts bench/ first on sys.path; the project root must go there.
if sys.path and Path(sys.path[0]).resolve() == _ROOT / "bench":
    sys.path[0] = str(_ROOT)

import httpx  # noqa: E402
import numpy as np  # noqa: E402
from pydantic import SecretStr  # noqa: E402

from bench.ocpp_ingest import raise_fd_limit  # noqa: E402
from connectors.app import RunningService, running_service  # noqa: E402
from connectors.collector import Collector  # noqa: E402
from connectors.ocpp.profiles import profile_for_gun  # noqa: E402
from connectors.settings import ApiSection, OcppSection, Settings  # noqa: E402
from connectors.simulator.charge_point import SimulatedEv  # noqa: E402
from connectors.simulator.fleet import Fleet  # noqa: E402
from connectors.simulator.profiles import ProfileStore, Verdict  # noqa: E402
from connectors.store.protocol import RunRecord  # noqa: E402
from models import ChargingLimitSchedule, Gun, LimitNode, ProfilePurpose, Site  # noqa: E402
from models.units import WATTS_PER_KW  # noqa: E402

TARGET_P99_S = 2.0
TARGET_STATIONS = 1000
SITE_ID = "bench"
GUN_KW, CAR_KW = 22.0, 11.0
FALL_KW = 0.05
"""A profile whose limit is this much below the station's last one is a fall."""
CONNECT_TIMEOUT_S = 300.0
ACK_TIMEOUT_S = 60.0
RUN_RECORDED_TIMEOUT_S = 60.0
PLUGGING_IN_AT_ONCE = 64
PIPE_DRAIN_S = 0.2
READY, ACK, DEFAULT = "ready", "ack", "default"


def bench_site(stations: int, limit_kw: float) -> Site:
    """`stations` one-gun 22 kW stations B0001... under one grid connection of `limit_kw`."""
    guns = [Gun(station_id=f"B{number:04d}", max_power_kw=GUN_KW) for number in range(1, stations + 1)]
    return Site(id=SITE_ID, root=LimitNode(id="grid", limit_kw=limit_kw, guns=guns))


# -- the fleet, in a child process -------------------------------------------------------------


class AcknowledgingStore(ProfileStore):
    """A station's profile store that prints each tx profile it accepts: station, when, limit now."""

    def __init__(self, station_id: str, like: ProfileStore) -> None:
        super().__init__(
            like.capabilities, like.evse_phases, supply_phases=like.supply_phases, voltage_v=like.voltage_v
        )
        self.station_id = station_id

    def install(self, evse_id: int, schedule: ChargingLimitSchedule) -> Verdict:
        verdict = super().install(evse_id, schedule)
        if verdict.accepted and schedule.purpose is ProfilePurpose.TX_DEFAULT:
            sys.stdout.write(f"{DEFAULT} {self.station_id} {time.monotonic():.6f}\n")
            sys.stdout.flush()
        if verdict.accepted and schedule.purpose is ProfilePurpose.TX:
            limit_w = self.limit_at(evse_id, datetime.now(UTC))
            limit_kw = math.inf if limit_w is None else limit_w / WATTS_PER_KW
            sys.stdout.write(f"{ACK} {self.station_id} {time.monotonic():.6f} {limit_kw:.3f}\n")
            sys.stdout.flush()
        return verdict


async def run_fleet(url: str, stations: int, meter_interval_s: float) -> None:
    """Connect the fleet, plug a car into every gun, say `ready`, and run until stdin closes.

    The fleet stands in for stations with heaps of their own, so it collects garbage as the service
    does (`Collector`): one heap of 1,000 stations made full collections of 0.2 s every few seconds,
    which held up every station's answers at once.
    """
    async with Collector():
        await _run_fleet(url, stations, meter_interval_s)


async def _run_fleet(url: str, stations: int, meter_interval_s: float) -> None:
    raise_fd_limit()
    fleet = Fleet(bench_site(stations, 0.0), url, speed=1.0, v201_share=0.5, meter_interval_s=meter_interval_s)
    for station_id, station in fleet.stations.items():
        station.station.store = AcknowledgingStore(station_id, station.store)
    await fleet.connect(CONNECT_TIMEOUT_S)
    gate = asyncio.Semaphore(PLUGGING_IN_AT_ONCE)

    async def plug_in(station_id: str) -> None:
        async with gate:
            await fleet.stations[station_id].start_transaction(f"CAR-{station_id}", ev=SimulatedEv(CAR_KW))

    await asyncio.gather(*(plug_in(station_id) for station_id in fleet.stations))
    sys.stdout.write(f"{READY}\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent closes it
    await fleet.stop()


# -- the measuring side ------------------------------------------------------------------------


@dataclass
class Round:
    """The tx profiles stations accepted from `began` (monotonic) on: station -> seconds after `began`.

    `awaited`: stations that must all have accepted one for the round to be done (None: no such set).
    A fall is a profile whose limit is below the one its station held before: once the last fall is
    in, the site is within its new limit; rises come after, when the cars had time to follow.
    """

    began: float
    awaited: set[str] | None = None
    accepted_s: dict[str, float] = field(default_factory=dict)
    falls_s: dict[str, float] = field(default_factory=dict)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    last_default_s: float = math.nan
    """When the last tx default (a gun's own, or EVSE 0's fallback) was accepted (NaN: none was)."""

    def heard_default(self, at: float) -> None:
        if at >= self.began:
            self.last_default_s = max(at - self.began, 0.0 if math.isnan(self.last_default_s) else self.last_default_s)

    def heard(self, station_id: str, at: float, fell: bool) -> None:
        if at < self.began or station_id in self.accepted_s:
            return
        self.accepted_s[station_id] = at - self.began
        if fell:
            self.falls_s[station_id] = at - self.began
        if self.awaited is not None and self.awaited <= self.accepted_s.keys():
            self.done.set()

    @property
    def last_s(self) -> float:
        """When the last station accepted its profile (NaN: none did)."""
        return max(self.accepted_s.values(), default=math.nan)

    @property
    def last_fall_s(self) -> float:
        """When the last fall was accepted (NaN: no station fell)."""
        return max(self.falls_s.values(), default=math.nan)


class FleetProcess:
    """The child process running the fleet, and the acknowledgements it prints."""

    def __init__(self, process: asyncio.subprocess.Process, station_ids: Sequence[str]) -> None:
        self._process = process
        self.station_ids = list(station_ids)
        self.ready = asyncio.Event()
        self._round: Round | None = None
        self._held_kw: dict[str, float] = {}
        self._reader = asyncio.get_running_loop().create_task(self._read(), name="fleet acknowledgements")

    @classmethod
    async def start(cls, url: str, station_ids: Sequence[str], meter_interval_s: float) -> FleetProcess:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--fleet-child",
            url,
            "--stations",
            str(len(station_ids)),
            "--meter-interval-s",
            str(meter_interval_s),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        return cls(process, station_ids)

    async def _read(self) -> None:
        assert self._process.stdout is not None
        async for line in self._process.stdout:
            words = line.decode().split()
            if words == [READY]:
                self.ready.set()
            elif words and words[0] == DEFAULT and self._round is not None:
                self._round.heard_default(float(words[2]))
            elif words and words[0] == ACK:
                station_id, at, limit_kw = words[1], float(words[2]), float(words[3])
                fell = limit_kw < self._held_kw.get(station_id, math.inf) - FALL_KW
                self._held_kw[station_id] = limit_kw
                if self._round is not None:
                    self._round.heard(station_id, at, fell)

    async def wait_ready(self) -> None:
        waiter = asyncio.ensure_future(self.ready.wait())
        await asyncio.wait([waiter, self._reader], timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED)
        if not self.ready.is_set():
            waiter.cancel()
            raise RuntimeError("the fleet did not connect and plug in (see its errors above)")

    def listen(self, every_station: bool = False) -> Round:
        """Collect the profiles accepted from now on (`every_station`: done when each station has one)."""
        self._round = Round(time.monotonic(), set(self.station_ids) if every_station else None)
        return self._round

    async def drain(self) -> None:
        """Give the acknowledgement lines already written by the fleet time to be read."""
        await asyncio.sleep(PIPE_DRAIN_S)

    async def stop(self) -> None:
        assert self._process.stdin is not None
        self._process.stdin.close()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(60):
                await self._process.wait()
        if self._process.returncode is None:
            self._process.kill()
            await self._process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


async def every_station_accepted(round_: Round) -> float:
    """The seconds until the last station accepted a profile; NaN if some did not in time."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(ACK_TIMEOUT_S):
            await round_.done.wait()
    if not round_.done.is_set():
        missing = len(round_.awaited or ()) - len(round_.accepted_s)
        print(f"  {missing} stations accepted no profile within {ACK_TIMEOUT_S:.0f} s", flush=True)
        return math.nan
    return round_.last_s


async def runs_since(running: RunningService, since: datetime) -> list[RunRecord]:
    return await running.runtime.store.get_runs(SITE_ID, since, datetime.now(UTC) + timedelta(days=1))


async def run_recorded(running: RunningService, since: datetime) -> RunRecord | None:
    """Wait until a run that began at or after `since` is in the store (its pushes all answered): the first."""
    deadline = time.monotonic() + RUN_RECORDED_TIMEOUT_S
    while time.monotonic() < deadline:
        runs = await runs_since(running, since)
        if runs:
            return min(runs, key=lambda run: run.at)
        await asyncio.sleep(0.02)
    return None


async def queues_empty(running: RunningService) -> None:
    """Wait until no command is queued or in flight to any station (the fallbacks no run waits for)."""
    deadline = time.monotonic() + RUN_RECORDED_TIMEOUT_S
    handlers = running.runtime.registry.connected.values
    while any(handler.commands.unfinished for handler in handlers()) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)


async def runs_idle(running: RunningService) -> None:
    """Wait until no run of the site is under way."""
    deadline = time.monotonic() + RUN_RECORDED_TIMEOUT_S
    while running.runtime.scheduler.runs.busy(SITE_ID) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


@dataclass(frozen=True)
class Change:
    """One REST limit change and what the stations accepted after it."""

    share_kw: float
    lowered: bool
    reaction_s: float
    """Until the last station accepted its profile from the run the change caused."""
    last_fall_s: float
    """Until the last of the profiles that lowered a station's limit was accepted (NaN: none)."""
    reprofiled: int
    falls: int
    run_began_s: float
    """Until the run the change caused began (the REST call's handling); NaN: no run."""
    in_place_s: float
    """Until every profile the change caused was accepted: the tx profiles, the tx defaults and the
    fallbacks (EVSE 0's tx default), which follow the tx profiles."""


@dataclass
class Measurement:
    stations: int
    changes: list[Change]
    baseline_s: list[float]
    runs: list[RunRecord]

    @property
    def reaction_s(self) -> list[float]:
        return [change.reaction_s for change in self.changes]

    @property
    def last_fall_s(self) -> list[float]:
        """Of the changes that lowered the limit."""
        return [change.last_fall_s for change in self.changes if change.lowered]

    @property
    def run_began_s(self) -> list[float]:
        return [change.run_began_s for change in self.changes]

    @property
    def in_place_s(self) -> list[float]:
        return [change.in_place_s for change in self.changes]


async def measure(stations: int, args: argparse.Namespace, workdir: Path) -> Measurement:
    shares_kw = (args.low_kw, args.high_kw)
    site = bench_site(stations, stations * shares_kw[0])
    site_file = workdir / f"site-{stations}.yaml"
    site_file.write_text(site.to_json())  # JSON is YAML
    api_key = secrets.token_urlsafe(24)
    settings = Settings(
        site_file=site_file,
        store_path=workdir / f"bench-{stations}.db",
        ocpp=OcppSection(host="127.0.0.1", port=0),
        api=ApiSection(host="127.0.0.1", port=0),
        api_key=SecretStr(api_key),
    )
    station_ids = sorted({gun.station_id for gun in site.guns().values()})
    async with running_service(settings) as running:
        fleet = await FleetProcess.start(running.station_url(""), station_ids, args.meter_interval_s)
        try:
            first = fleet.listen(every_station=True)
            await fleet.wait_ready()
            if math.isnan(await every_station_accepted(first)):
                raise RuntimeError("the service never steered every station")
            await runs_idle(running)  # the plug-ins' runs, with their rises, are over
            print(f"{stations} stations connected, charging and steered", flush=True)
            began_at = datetime.now(UTC)
            changes = await change_limits(running, fleet, api_key, args, shares_kw)
            runs = await runs_since(running, began_at)
            baseline_s = await push_directly(running, fleet, site, args, shares_kw)
        finally:
            await fleet.stop()
    return Measurement(stations, changes, baseline_s, runs)


async def change_limits(
    running: RunningService,
    fleet: FleetProcess,
    api_key: str,
    args: argparse.Namespace,
    shares_kw: tuple[float, float],
) -> list[Change]:
    """`args.changes` limit changes over REST, alternating between the shares, each waiting for the
    run it caused to be recorded (its profiles all answered)."""
    assert running.api_url is not None
    stations = len(fleet.station_ids)
    changes = []
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=running.api_url, headers=headers, timeout=30.0) as client:
        for number in range(1, args.changes + 1):
            await asyncio.sleep(args.settle_s)
            share_kw = shares_kw[number % 2]
            asked_at = datetime.now(UTC)
            round_ = fleet.listen()
            answer = await client.put(f"/api/v1/sites/{SITE_ID}/limits/grid", json={"limit_kw": stations * share_kw})
            answer.raise_for_status()
            run = await run_recorded(running, asked_at)
            if run is None:
                print(f"  change {number:2d}: no run recorded within {RUN_RECORDED_TIMEOUT_S:.0f} s", flush=True)
            await queues_empty(running)
            await fleet.drain()
            lowered = share_kw < shares_kw[(number - 1) % 2]
            run_began_s = math.nan if run is None else (run.at - asked_at).total_seconds()
            change = Change(
                share_kw,
                lowered,
                round_.last_s,
                round_.last_fall_s,
                len(round_.accepted_s),
                len(round_.falls_s),
                run_began_s,
                max(round_.last_s, round_.last_default_s),
            )
            changes.append(change)
            falls = f", the last of {change.falls} falls after {change.last_fall_s:.3f} s" if change.falls else ""
            timing = "" if run is None else f" (run began {run_began_s:.3f} s, solve {run.solve_s:.3f} s)"
            print(
                f"  change {number:2d}: {share_kw:g} kW per gun; {change.reprofiled} stations re-profiled, the last "
                f"after {change.reaction_s:.3f} s{falls}{timing}; every profile in place after "
                f"{change.in_place_s:.3f} s",
                flush=True,
            )
    return changes


async def push_directly(
    running: RunningService,
    fleet: FleetProcess,
    site: Site,
    args: argparse.Namespace,
    shares_kw: tuple[float, float],
) -> list[float]:
    """The floor: a tx profile to every station straight through its commander, timed the same way."""
    service = running.runtime
    baseline_s = []
    for number in range(1, args.changes + 1):
        await asyncio.sleep(args.settle_s)
        share_kw = shares_kw[number % 2]
        now = datetime.now(UTC)
        round_ = fleet.listen(every_station=True)
        answers = []
        for gun_id, gun in site.guns().items():
            handler = service.registry.get(gun.station_id)
            gun_state = service.state.guns.get(gun_id)
            if handler is None or gun_state is None or gun_state.session is None:
                continue
            schedule = profile_for_gun(
                [(now, share_kw)],
                gun,
                handler.capabilities,
                transaction_id=gun_state.session.transaction_id,
                end=now + timedelta(seconds=service.settings.scheduler.profile_hold_s),
            )
            answers.append(handler.commands.set_profile(gun.evse_id, schedule))
        await asyncio.gather(*answers)
        baseline_s.append(await every_station_accepted(round_))
    return baseline_s


# -- the report --------------------------------------------------------------------------------


def quantiles(values: Sequence[float]) -> tuple[float, float, float]:
    """Median, p99 (linear interpolation) and max; NaN when a value is missing (a timeout)."""
    if not values or any(math.isnan(value) for value in values):
        return math.nan, math.nan, math.nan
    array = np.asarray(values)
    return float(np.median(array)), float(np.percentile(array, 99)), float(array.max())


def report(measurements: Sequence[Measurement], args: argparse.Namespace) -> None:
    print()
    print(
        f"# Reaction to a REST limit change ({args.changes} changes, {args.low_kw:g} <-> {args.high_kw:g} kW per gun, "
        f"meter reports every {args.meter_interval_s:g} s)"
    )
    print("seconds from the PUT to the last station's Accepted tx profile, measured at the stations;")
    print("falls: on the changes that lowered the limit, until the last profile lowering a station's limit;")
    print("floor: a profile to every station straight through the service's StationCommanders;")
    print("in place: until the last profile of any kind was accepted (tx defaults and fallbacks follow tx profiles)")
    print(
        f"{'stations':>8} {'re-profiled':>11} | {'all: median':>11} {'p99':>7} {'max':>7} | {'falls: median':>13} "
        f"{'p99':>7} | {'floor: median':>13} {'p99':>7} | {'p99 / floor p99':>15} | {'in place: median':>16} {'p99':>7}"
    )
    for result in measurements:
        median_s, p99_s, max_s = quantiles(result.reaction_s)
        fall_median_s, fall_p99_s, _ = quantiles(result.last_fall_s)
        floor_median_s, floor_p99_s, _ = quantiles(result.baseline_s)
        in_place_median_s, in_place_p99_s, _ = quantiles(result.in_place_s)
        reprofiled = np.median([change.reprofiled for change in result.changes])
        print(
            f"{result.stations:>8} {reprofiled:>11.0f} | {median_s:11.3f} {p99_s:7.3f} {max_s:7.3f} | "
            f"{fall_median_s:13.3f} {fall_p99_s:7.3f} | {floor_median_s:13.3f} {floor_p99_s:7.3f} | "
            f"{p99_s / floor_p99_s:15.1f} | {in_place_median_s:16.3f} {in_place_p99_s:7.3f}"
        )
    print()
    print("# Scheduler runs meanwhile (RunRecord durations in seconds, median/p99)")
    print("run began: from the PUT to the start of the run it caused (the REST call's handling)")
    print(f"{'stations':>8} {'runs':>5} | {'run began':>15} | {'snapshot':>15} | {'solve':>15} | {'push':>15} | status")
    for result in measurements:
        began_median_s, began_p99_s, _ = quantiles(result.run_began_s)
        columns = [f"{began_median_s:7.3f}/{began_p99_s:7.3f}"]
        for stage in ("snapshot_s", "solve_s", "push_s"):
            median_s, p99_s, _ = quantiles([getattr(run, stage) for run in result.runs])
            columns.append(f"{median_s:7.3f}/{p99_s:7.3f}")
        statuses = ",".join(sorted({run.status for run in result.runs}))
        print(f"{result.stations:>8} {len(result.runs):>5} | {' | '.join(columns)} | {statuses}")
    largest = [result for result in measurements if result.stations == TARGET_STATIONS]
    if largest:
        _, p99_s, _ = quantiles(largest[0].reaction_s)
        verdict = "meets" if p99_s < TARGET_P99_S else "misses"
        print(f"\n{TARGET_STATIONS} stations: p99 {p99_s:.3f} s {verdict} the target of {TARGET_P99_S:g} s")


async def main_async(args: argparse.Namespace) -> None:
    raise_fd_limit()
    measurements = []
    with tempfile.TemporaryDirectory(prefix="gridcharge-reaction-") as directory:
        for stations in args.stations:
            measurements.append(await measure(stations, args, Path(directory)))
    report(measurements, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stations", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--changes", type=int, default=20)
    parser.add_argument("--low-kw", type=float, default=6.0, help="the lower share per gun")
    parser.add_argument("--high-kw", type=float, default=9.0, help="the higher share per gun (below the car's 11 kW)")
    parser.add_argument("--meter-interval-s", type=float, default=10.0, help="seconds between a station's reports")
    parser.add_argument("--settle-s", type=float, default=1.0, help="pause after each change's run")
    parser.add_argument("--fleet-child", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.fleet_child:
        asyncio.run(run_fleet(args.fleet_child, args.stations[0], args.meter_interval_s))
    else:
        asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

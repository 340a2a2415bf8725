"""`gridcharge demo`: the service steering a simulated depot over a compressed day, shown live.

One asyncio loop runs the whole service (`running_service`: embedded SQLite store, OCPP endpoint,
scheduler, REST API) on `examples/site.yaml` and a `Fleet` of its stations (half OCPP 1.6, half
2.0.1) connecting over real WebSockets on 127.0.0.1. The stations are registered by the site file
itself: the service registers every station of a site's tree when it loads it, so nothing runs
with auto-registration.

To show steering, the grid operator caps the site for the morning peak (`PEAK_CAP_KW` from
`PEAK_CAP_FROM_H` to `PEAK_CAP_UNTIL_H` of the simulated day, a limit series on the root node as the
REST API's limits route would put it), on a store that holds no limit series of its own yet. The
stations do not tell what their cars want, so each session is assumed to want as much as a
simulated car wants at most; a car that is full earlier stops drawing and its share goes to others.

Time: the fleet and the service share one `SimulatedClock` running `speed` times real time, from
yesterday's 06:00 at the site (so the simulated day lies in the past, whole, and its timestamps read
as the site's local time). Profiles, departures, sample ages and run records are all on it. The
scheduler runs every `SIMULATED_RUN_EVERY_S` of simulated time (at least `SHORTEST_RUN_EVERY_S`
real seconds apart). Settings that the service takes in real seconds (intervals, timeouts, the
cars' time to follow) are given in real seconds; the profiles' hold is simulated time, and is one
horizon long so that no profile lapses between two runs at high speeds.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import logging
import signal
import socket
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from pathlib import Path

from pydantic import SecretStr
from rich.console import Console
from rich.live import Live
from rich.logging import RichHandler

from connectors.api.keys import new_api_key
from connectors.app import RunningService, running_service
from connectors.live_view import DemoFrame, RunLine, gun_rows, load_text, render, run_text, totals_text
from connectors.settings import (
    ApiSection,
    OcppSection,
    OptimizerSection,
    SchedulerSection,
    SessionDefaults,
    Settings,
)
from connectors.simulator.arrivals import DAY_STARTS_AT_H, ENERGY_WANTED_KWH
from connectors.simulator.clock import SimulatedClock
from connectors.simulator.fleet import Fleet, FleetEvent
from connectors.store.protocol import RunRecord
from connectors.views import limit_now_kw
from models import LimitSeries, LimitStep, Site

SITE_FILE = Path(__file__).resolve().parent.parent / "examples" / "site.yaml"
V201_SHARE = 0.5
METER_INTERVAL_S = 60.0
"""Simulated seconds between a station's meter reports."""
SIMULATED_RUN_EVERY_S = 600.0
SHORTEST_RUN_EVERY_S, LONGEST_RUN_EVERY_S = 1.0, 60.0
"""Real seconds between scheduled runs, at the least and at the most."""
HORIZON_S, STEP_S = 12 * 3600.0, 900.0
"""The optimizer's horizon and plan step, simulated."""
PEAK_CAP_KW, PEAK_CAP_FROM_H, PEAK_CAP_UNTIL_H = 50.0, 8.5, 10.5
"""The grid operator's cap of the site's connection in the morning peak (local hours of the simulated day)."""
REFRESH_S = 0.5
"""Real seconds between two refreshes of the live view."""
EVENTS_SHOWN = 6
TOLERANCE_KW = 0.5
"""Meters report to 0.1 W and profiles floor to 0.1 A; the summary names runs above limit + this."""


@dataclass(frozen=True)
class DemoOptions:
    """What `gridcharge demo` was asked for (the command line's defaults are the demo's)."""

    speed: float
    """Simulated seconds per real second."""
    duration_s: float | None
    """Real seconds to run; None: until the simulated day's last car has left."""
    seed: int
    api_port: int
    ocpp_port: int
    store_path: Path | None
    """SQLite file of the store; None: a fresh one in a temporary directory, deleted at the end."""
    live: bool
    site_file: Path = SITE_FILE


@dataclass(frozen=True)
class DemoSummary:
    """What the demo did, said at its end."""

    day_time: str
    arrivals: int
    departures: int
    full: int
    energy_kwh: float
    """Delivered to the cars that left and to those still plugged in."""
    failures: int
    runs: dict[str, int]
    """Runs by solve status."""
    highest_load_kw: float | None
    """The highest site load measured at a run."""
    highest_share: float | None
    """The highest site load measured at a run, as a share of the limit in force then."""
    runs_over_limit: int
    """Runs that measured a site load above the limit in force then (+ `TOLERANCE_KW`)."""

    def lines(self) -> list[str]:
        statuses = ", ".join(f"{count} {status}" for status, count in sorted(self.runs.items())) or "none"
        loads = "" if self.highest_load_kw is None else f"; highest site load {self.highest_load_kw:.1f} kW"
        share = "" if self.highest_share is None else f", at most {self.highest_share:.0%} of the limit in force"
        return [
            f"demo over at simulated {self.day_time}: {self.arrivals} cars came, {self.departures} left "
            f"({self.full} full), {self.energy_kwh:.1f} kWh charged; {self.failures} failed calls",
            f"runs: {sum(self.runs.values())} ({statuses}){loads}{share}; "
            f"{self.runs_over_limit} runs measured more than the limit",
        ]


def run(options: DemoOptions, console: Console | None = None) -> int:
    """Run the demo until its duration, the day's end, SIGINT or SIGTERM; the exit code.

    The live view needs a terminal: to a pipe or a file the demo writes plain lines instead.
    """
    console = console or Console()
    if options.live and not console.is_terminal:
        options = dataclasses.replace(options, live=False)  # a pipe or a file: plain lines
    handler: logging.Handler = RichHandler(console=console) if options.live else logging.StreamHandler()
    logging.basicConfig(level=logging.WARNING, handlers=[handler], format="%(name)s: %(message)s", force=True)
    try:
        for port in (options.api_port, options.ocpp_port):
            ensure_free(port)
        summary = asyncio.run(_main(options, console))
    except OSError as error:  # a port in use, mostly
        console.print(f"gridcharge demo could not start: {error}", markup=False, soft_wrap=True)
        console.print("(--api-port 0 --ocpp-port 0 pick free ports)", markup=False)
        return 1
    for line in summary.lines():
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    return 0


def ensure_free(port: int, host: str = "127.0.0.1") -> None:
    """OSError naming `port` when something listens on it already (0 is always free).

    Checked before starting: uvicorn answers a port in use by exiting the process.
    """
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(error.errno, f"port {port} on {host} is in use") from error


async def _main(options: DemoOptions, console: Console) -> DemoSummary:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    try:
        return await run_demo(options, console, stop)
    finally:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signal_number)


async def run_demo(options: DemoOptions, console: Console, stop: asyncio.Event) -> DemoSummary:
    """The demo on this loop, until `options.duration_s`, the day's end or `stop`."""
    site = Site.from_yaml(options.site_file)
    clock = SimulatedClock(day_start(site, datetime.now(site.zone)), options.speed)
    with _store_path(options.store_path) as store_path:
        settings = demo_settings(options, store_path)
        created_key = None
        if settings.api_key is None:
            created_key = new_api_key()
            settings = settings.model_copy(update={"api_key": SecretStr(created_key)})
        async with running_service(settings, clock=clock) as running:
            site = await running.runtime.store.get_site(site.id) or site  # as kept in a given store
            capped = await _cap_the_morning_peak(running, site, clock.start)
            events: collections.deque[str] = collections.deque(maxlen=EVENTS_SHOWN)
            fleet = Fleet(
                site,
                running.station_url(""),
                seed=options.seed,
                v201_share=V201_SHARE,
                meter_interval_s=METER_INTERVAL_S,
                clock=clock,
                on_event=_event_sink(events, console, options.live),
            )
            _announce(console, options, running, fleet, created_key, store_path, capped)
            runs = RunWatch(running, site.id, clock.start)
            async with fleet:
                await _watch(fleet, running, runs, options, console, events, stop)
                summary = await _summary(fleet, running, site.id)
    return summary


def day_start(site: Site, now_local: datetime) -> datetime:
    """Yesterday's 06:00 at the site (the simulated day's start), as an aware datetime."""
    yesterday = now_local.astimezone(site.zone).date() - timedelta(days=1)
    hour = int(DAY_STARTS_AT_H)
    return datetime.combine(yesterday, time(hour, int((DAY_STARTS_AT_H - hour) * 60)), tzinfo=site.zone)


def demo_settings(options: DemoOptions, store_path: Path) -> Settings:
    """The service's settings for the demo; other GRIDCHARGE_* variables (GRIDCHARGE_API_KEY) still apply."""
    run_every_s = min(LONGEST_RUN_EVERY_S, max(SHORTEST_RUN_EVERY_S, SIMULATED_RUN_EVERY_S / options.speed))
    return Settings(
        site_file=options.site_file,
        store_path=store_path,
        ocpp=OcppSection(host="127.0.0.1", port=options.ocpp_port, command_timeout_s=5.0),
        api=ApiSection(host="127.0.0.1", port=options.api_port),
        scheduler=SchedulerSection(
            interval_s=run_every_s,
            debounce_s=min(2.0, run_every_s / 4),
            ack_timeout_s=5.0,
            follow_s=min(5.0, run_every_s / 4),
            profile_hold_s=HORIZON_S,
        ),
        optimizer=OptimizerSection(horizon_s=HORIZON_S, step_s=STEP_S, solver_time_limit_s=2.0),
        sessions=SessionDefaults(energy_kwh=max(ENERGY_WANTED_KWH)),
    )


def peak_cap(day_start_at: datetime) -> LimitSeries:
    """The grid operator's cap for the morning peak of the day starting (at 06:00) at `day_start_at`."""
    hours_in = (PEAK_CAP_FROM_H - DAY_STARTS_AT_H, PEAK_CAP_UNTIL_H - DAY_STARTS_AT_H)
    start, end = (day_start_at + timedelta(hours=hours) for hours in hours_in)
    return LimitSeries(steps=[LimitStep(start=start, end=end, limit_kw=PEAK_CAP_KW)])


async def _cap_the_morning_peak(running: RunningService, site: Site, day_start_at: datetime) -> LimitSeries | None:
    """Put `peak_cap` on the site's root node unless the store has limit series for the site already."""
    store = running.runtime.store
    if await store.get_limit_series(site.id):
        return None
    cap = peak_cap(day_start_at)
    await store.put_limit_series(site.id, site.root.id, cap)
    await running.runtime.site_changed(site.id)
    return cap


@contextlib.contextmanager
def _store_path(given: Path | None) -> Iterator[Path]:
    if given is not None:
        yield given
        return
    with tempfile.TemporaryDirectory(prefix="gridcharge-demo-") as directory:
        yield Path(directory) / "gridcharge.db"


def _announce(
    console: Console,
    options: DemoOptions,
    running: RunningService,
    fleet: Fleet,
    created_key: str | None,
    store_path: Path,
    capped: LimitSeries | None,
) -> None:
    versions = collections.Counter(station.version for station in fleet.stations.values())
    mix = ", ".join(f"{count} on OCPP {version}" for version, count in sorted(versions.items()))
    if options.duration_s is None:
        ends = "when the simulated day's last car has left"
    else:
        ends = f"after {options.duration_s:g} s"
    key = f"{created_key} (new, write scope)" if created_key else "the one in GRIDCHARGE_API_KEY (write scope)"
    kept = "" if options.store_path is not None else " (a fresh one, deleted at the end)"
    lines = [
        f"gridcharge demo: site {fleet.site.id} from {options.site_file.name}, {len(fleet.stations)} simulated "
        f"stations ({mix}), {len(fleet.visits)} cars over a day at x{options.speed:g}",
        f"  REST API docs  {running.docs_url}",
        f"  API key        {key}: send it as 'Authorization: Bearer <key>'",
        f"  OCPP endpoint  {running.station_url('<station id>')}",
        f"  store          {store_path}{kept}",
        f"  ends           {ends}, or on Ctrl+C",
    ]
    if capped is not None:
        step = capped.steps[0]
        hours = f"{fleet.day_time(step.start)} to {fleet.day_time(step.end)}"
        lines.append(f"  grid operator  caps the site at {step.limit_kw:g} kW from {hours} (a limit series)")
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _event_sink(events: collections.deque[str], console: Console, live: bool) -> Callable[[FleetEvent], None]:
    def sink(event: FleetEvent) -> None:
        events.append(str(event))
        if not live:
            console.print(str(event), markup=False, highlight=False, soft_wrap=True)

    return sink


class RunWatch:
    """The site's latest run record, read from the store a little at a time."""

    def __init__(self, running: RunningService, site_id: str, since: datetime) -> None:
        self._running = running
        self._site_id = site_id
        self._since = since
        self.latest: RunRecord | None = None

    async def refresh(self, now: datetime) -> RunRecord | None:
        runs = await self._running.runtime.store.get_runs(self._site_id, self._since, now + timedelta(seconds=1))
        if runs:
            self.latest = runs[-1]
            self._since = self.latest.at + timedelta(microseconds=1)
        return self.latest


async def demo_frame(fleet: Fleet, running: RunningService, runs: RunWatch, events: list[str]) -> DemoFrame:
    """What the view shows now, from the fleet and the service."""
    now = fleet.clock()
    store, site_id = running.runtime.store, fleet.site.id
    site = await store.get_site(site_id)
    limit_kw = None if site is None else limit_now_kw(site, await store.get_limit_series(site_id), now)
    latest = await runs.refresh(now)
    guns = fleet.state()
    return DemoFrame(
        site_id=site_id,
        day_time=fleet.day_time(now),
        speed=fleet.speed,
        site_load_kw=sum(gun.power_kw for gun in guns),
        site_limit_kw=limit_kw,
        guns=gun_rows(guns, running.runtime.stations(site_id)),
        last_run=None
        if latest is None
        else RunLine(fleet.day_time(latest.at), latest.status, latest.snapshot_s, latest.solve_s, latest.push_s),
        totals=fleet.totals,
        events=events,
    )


async def _watch(
    fleet: Fleet,
    running: RunningService,
    runs: RunWatch,
    options: DemoOptions,
    console: Console,
    events: collections.deque[str],
    stop: asyncio.Event,
) -> None:
    """Refresh the view (or print a status line each simulated hour) until it is time to end."""
    loop = asyncio.get_running_loop()
    ends_at = None if options.duration_s is None else loop.time() + options.duration_s
    with contextlib.ExitStack() as stack:
        live = stack.enter_context(Live(console=console, auto_refresh=False)) if options.live else None
        last_hour = ""
        while not stop.is_set() and not fleet.day_over and (ends_at is None or loop.time() < ends_at):
            frame = await demo_frame(fleet, running, runs, list(events))
            if live is not None:
                live.update(render(frame), refresh=True)
            elif frame.day_time[:-3] != last_hour:
                last_hour = frame.day_time[:-3]
                console.print(_status_line(frame), markup=False, highlight=False, soft_wrap=True)
            wait_s = REFRESH_S if ends_at is None else max(0.0, min(REFRESH_S, ends_at - loop.time()))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait_s)


def _status_line(frame: DemoFrame) -> str:
    charging = sum(1 for gun in frame.guns if gun.car_present)
    return (
        f"{frame.day_time} {load_text(frame.site_load_kw, frame.site_limit_kw)}, plugged in: {charging}; "
        f"{run_text(frame.last_run)}; {totals_text(frame.totals)}"
    )


async def _summary(fleet: Fleet, running: RunningService, site_id: str) -> DemoSummary:
    """The summary, taken before the fleet stops (the cars still plugged in count their energy)."""
    now = fleet.clock()
    records = await running.runtime.store.get_runs(site_id, fleet.clock.start, now + timedelta(seconds=1))
    by_status = collections.Counter(record.status for record in records)
    limited = [(record.site_load_kw, record.site_limit_kw) for record in records if record.site_limit_kw is not None]
    totals = fleet.totals
    plugged_kwh = sum(gun.energy_kwh for gun in fleet.state() if gun.car_present)
    return DemoSummary(
        day_time=fleet.day_time(now),
        arrivals=totals.arrivals,
        departures=totals.departures,
        full=totals.full,
        energy_kwh=totals.energy_kwh + plugged_kwh,
        failures=totals.failures,
        runs=dict(by_status),
        highest_load_kw=max((record.site_load_kw for record in records), default=None),
        highest_share=max((load_kw / limit_kw for load_kw, limit_kw in limited if limit_kw > 0), default=None),
        runs_over_limit=sum(1 for load_kw, limit_kw in limited if load_kw > limit_kw + TOLERANCE_KW),
    )

"""The demo's live terminal view: the site's load against its limit, every gun, the last run. Pure.

`gun_rows` joins what the simulated stations do (the fleet's `state()`: power drawn, the limit
their profiles set, energy) with what the service knows of them (its `StationView`s: status,
controllable or not). `render(frame)` turns one `DemoFrame` into a rich renderable, so the demo
refreshes it in a `Live` and a test prints it to a recording `Console` and reads it back.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from connectors.runtime import StationView
from connectors.simulator.fleet import FleetTotals, GunState
from models import GunStatus

BAR_WIDTH = 50


@dataclass(frozen=True)
class GunRow:
    """One gun in the view: the station's side (power, limit, energy) and the service's (status, steering)."""

    gun_id: str
    ocpp_version: str
    connected: bool
    status: GunStatus | None
    car_present: bool
    power_kw: float
    limit_kw: float | None
    """What the station's profiles allow now; None: nothing limits it."""
    controllable: bool
    uncontrolled_reason: str | None
    energy_kwh: float
    """Delivered to the car plugged in now."""


@dataclass(frozen=True)
class RunLine:
    """The scheduler's last run of the site, as the view tells it."""

    day_time: str
    status: str
    snapshot_s: float
    solve_s: float
    push_s: float


@dataclass(frozen=True)
class DemoFrame:
    """Everything one refresh of the view shows."""

    site_id: str
    day_time: str
    """Simulated time of day (HH:MM)."""
    speed: float
    site_load_kw: float
    """What the stations draw together now."""
    site_limit_kw: float | None
    guns: Sequence[GunRow]
    last_run: RunLine | None
    totals: FleetTotals
    events: Sequence[str] = ()
    """The latest fleet events, oldest first."""


def gun_rows(fleet_guns: Sequence[GunState], stations: Sequence[StationView]) -> list[GunRow]:
    """A row per gun of the fleet, with the service's view of it where the service has one."""
    views = {gun.gun_id: gun for station in stations for gun in station.guns}
    rows = []
    for gun in fleet_guns:
        view = views.get(gun.gun_id)
        rows.append(
            GunRow(
                gun_id=gun.gun_id,
                ocpp_version=gun.ocpp_version,
                connected=gun.connected,
                status=view.status if view is not None else None,
                car_present=gun.car_present,
                power_kw=gun.power_kw,
                limit_kw=gun.limit_kw,
                controllable=view.controllable if view is not None else False,
                uncontrolled_reason=view.uncontrolled_reason if view is not None else "unknown to the service",
                energy_kwh=gun.energy_kwh,
            )
        )
    return rows


def render(frame: DemoFrame) -> RenderableType:
    """The whole view: a headline, the load bar, the guns' table, the last run and the latest events."""
    parts: list[RenderableType] = [
        Text.assemble(
            ("gridcharge demo", "bold"),
            f"  site {frame.site_id}  simulated time ",
            (frame.day_time, "bold cyan"),
            f"  (x{frame.speed:g})",
        ),
        _load_line(frame.site_load_kw, frame.site_limit_kw),
        _gun_table(frame.guns),
        Text(run_text(frame.last_run)),
        Text(totals_text(frame.totals)),
    ]
    if frame.events:
        parts.append(Text("\n".join(frame.events), style="dim"))
    return Group(*parts)


def run_text(run: RunLine | None) -> str:
    if run is None:
        return "last run: none yet"
    return (
        f"last run at {run.day_time}: {run.status}, solve {_ms(run.solve_s)} "
        f"(snapshot {_ms(run.snapshot_s)}, push {_ms(run.push_s)})"
    )


def totals_text(totals: FleetTotals) -> str:
    return (
        f"cars: {totals.arrivals} came, {totals.departures} left ({totals.full} full) "
        f"taking {totals.energy_kwh:.1f} kWh; {totals.failures} failed calls"
    )


def load_text(load_kw: float, limit_kw: float | None) -> str:
    if limit_kw is None:
        return f"site load {load_kw:.1f} kW (no limit)"
    return f"site load {load_kw:.1f} of {limit_kw:.1f} kW ({load_kw / limit_kw:.0%})"


def _load_line(load_kw: float, limit_kw: float | None) -> RenderableType:
    text = Text(load_text(load_kw, limit_kw))
    if limit_kw is None or limit_kw <= 0:
        return text
    over = load_kw > limit_kw
    bar = ProgressBar(
        total=limit_kw,
        completed=min(load_kw, limit_kw),
        width=BAR_WIDTH,
        complete_style="red" if over else "green",
        finished_style="red" if over else "yellow",
    )
    grid = Table.grid(padding=(0, 1))
    grid.add_row(bar, text)
    return grid


def _gun_table(guns: Sequence[GunRow]) -> Table:
    table = Table("gun", "OCPP", "status", "car", "power kW", "limit kW", "steered", "energy kWh", expand=False)
    for gun in guns:
        table.add_row(
            gun.gun_id,
            gun.ocpp_version,
            _status(gun),
            "yes" if gun.car_present else "",
            f"{gun.power_kw:.1f}",
            "-" if gun.limit_kw is None else f"{gun.limit_kw:.1f}",
            "yes" if gun.controllable else f"no: {gun.uncontrolled_reason or 'unknown'}",
            f"{gun.energy_kwh:.1f}" if gun.car_present else "",
        )
    return table


def _status(gun: GunRow) -> str:
    if not gun.connected:
        return "offline"
    return "-" if gun.status is None else gun.status.value


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"

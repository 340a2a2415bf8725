"""`gridcharge` command line: the planner's `plan`, the service's `serve` and `demo`, a simulated `fleet`."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from connectors.settings import Settings
from models import Allocation, Site
from optimizer import plan as plan_allocation

app = typer.Typer(help="Smart charging and grid load optimization for EV charging sites.", no_args_is_help=True)
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@app.callback()
def main() -> None:
    """gridcharge: per-gun power limits that keep a site within its grid limits."""


@app.command()
def plan(
    example: Annotated[bool, typer.Option("--example", help="Plan the bundled example depot.")] = False,
    site: Annotated[Path | None, typer.Option(help="Site YAML/JSON file.")] = None,
    sessions: Annotated[Path | None, typer.Option(help="Sessions CSV: gun,arrival,departure,energy_kwh[,...].")] = None,
    tariff: Annotated[Path | None, typer.Option(help="Prices CSV: start,price_per_kwh.")] = None,
    start: Annotated[str | None, typer.Option(help="Plan start (ISO 8601); default: first arrival.")] = None,
    horizon: Annotated[str, typer.Option(help="Plan length, e.g. 12h.")] = "12h",
    step: Annotated[str, typer.Option(help="Step length, e.g. 15min.")] = "15min",
    out: Annotated[Path, typer.Option(help="Where to write the plan as CSV.")] = Path("plan.csv"),
) -> None:
    """Print a charging plan as a table and write it as CSV."""
    if example:
        site, sessions, tariff = EXAMPLES / "site.yaml", EXAMPLES / "sessions.csv", EXAMPLES / "prices.csv"
    if site is None or sessions is None:
        raise typer.BadParameter("give --example, or --site and --sessions")
    the_site = Site.from_yaml(site)
    frame = pd.read_csv(sessions, parse_dates=["arrival", "departure"])
    prices = None
    if tariff is not None:
        price_frame = pd.read_csv(tariff)
        prices = pd.Series(
            price_frame["price_per_kwh"].to_numpy(),
            index=pd.DatetimeIndex(pd.to_datetime(price_frame["start"], utc=True)),
        )
    begin = pd.Timestamp(start) if start else pd.to_datetime(frame["arrival"], utc=True).min().floor(step)
    allocation = plan_allocation(the_site, frame, begin, horizon, step, tariff=prices)
    allocation.power_kw.round(3).to_csv(out)
    _print(allocation, the_site, out)


def _print(allocation: Allocation, site: Site, out: Path) -> None:
    console = Console()
    zone = site.zone
    start = allocation.power_kw.index[0].tz_convert(zone)
    console.print(f"[bold]Plan for site {site.id}[/] from {start:%Y-%m-%d %H:%M %Z}, status {allocation.status}")
    table = Table("gun", "limit now", "wanted kWh", "planned kWh", "short kWh", "rank")
    for gun, row in allocation.sessions.iterrows():
        limit = allocation.limits_now[str(gun)]
        amps = f" ({limit.limit_a:.1f} A x {limit.phases})" if limit.limit_a is not None else ""
        table.add_row(
            str(gun),
            f"{limit.limit_kw:.2f} kW{amps}",
            f"{row['wanted_kwh']:.1f}",
            f"{row['planned_kwh']:.1f}",
            f"{row['shortfall_kwh']:.1f}",
            str(allocation.priority_rank[str(gun)]),
        )
    console.print(table)
    for gun, why in allocation.explanations.items():
        console.print(f"  {gun}: {why}")
    hourly = allocation.power_kw.resample("1h").mean()
    steps = Table("hour", *hourly.columns, "site kW")
    for stamp, values in hourly.iterrows():
        local = pd.Timestamp(str(stamp)).tz_convert(zone)
        steps.add_row(f"{local:%H:%M}", *(f"{value:.1f}" for value in values), f"{values.sum():.1f}")
    console.print(steps)
    for warning in allocation.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    console.print(f"plan written to {out} (kW per gun per step)")


@app.command()
def fleet(
    url: Annotated[str, typer.Option(help="The CSMS's OCPP path; each station's id is appended.")] = (
        "ws://127.0.0.1:9000/ocpp/"
    ),
    site: Annotated[Path | None, typer.Option(help="Site YAML/JSON: one station per station id of its guns.")] = None,
    stations: Annotated[int, typer.Option(min=1, help="Without --site: this many one-gun 22 kW stations.")] = 10,
    speed: Annotated[float, typer.Option(min=0.001, help="Simulated seconds per real second.")] = 60.0,
    duration: Annotated[
        float | None, typer.Option(min=0, help="Real seconds to run; default until the day's last car left.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the cars' arrival plan and of the versions.")] = 0,
    v201_share: Annotated[float, typer.Option(min=0, max=1, help="Share of stations speaking OCPP 2.0.1.")] = 0.5,
    meter_interval: Annotated[float, typer.Option(min=1, help="Simulated seconds between meter reports.")] = 60.0,
    quiet: Annotated[bool, typer.Option(help="Print only the summary, not a line per event.")] = False,
) -> None:
    """Connect a simulated fleet to a running CSMS: cars arriving over a compressed working day."""
    import asyncio
    import contextlib

    from connectors.simulator.fleet import Fleet, FleetEvent, simple_site

    the_site = Site.from_yaml(site) if site is not None else simple_site(stations)

    def show(event: FleetEvent) -> None:
        if not quiet:
            typer.echo(str(event))

    async def drive() -> Fleet:
        simulated = Fleet(
            the_site, url, seed=seed, speed=speed, v201_share=v201_share, meter_interval_s=meter_interval, on_event=show
        )
        async with simulated:
            typer.echo(f"fleet of {len(simulated.stations)} stations, {len(simulated.visits)} cars planned")
            await simulated.run_for(duration)
        return simulated

    with contextlib.suppress(KeyboardInterrupt):
        done = asyncio.run(drive())
        totals = done.totals
        typer.echo(
            f"{totals.arrivals} cars came, {totals.departures} left ({totals.full} full) with "
            f"{totals.energy_kwh:.1f} kWh; {totals.failures} failed calls; simulated day reached {done.day_time()}"
        )


@app.command()
def serve(
    config: Annotated[Path | None, typer.Option("--config", help="Site YAML file (GRIDCHARGE_SITE_FILE).")] = None,
) -> None:
    """Run the service: OCPP endpoint, REST API and scheduler, until SIGINT or SIGTERM.

    Every other setting comes from GRIDCHARGE_* environment variables (see the README).
    """
    settings = Settings() if config is None else Settings(site_file=config)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    logging.getLogger("ocpp").setLevel(logging.WARNING)  # the library logs every frame at INFO
    asyncio.run(_serve(settings))


async def _serve(settings: Settings) -> None:
    from connectors.app import running_service  # uvicorn and the API: only when serving

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)
    async with running_service(settings) as running:
        Console().print(
            f"gridcharge serving: OCPP on port {running.ocpp_port}, REST API docs at {running.docs_url}; Ctrl+C stops"
        )
        await stop.wait()


@app.command()
def demo(
    speed: Annotated[
        float,
        typer.Option(min=1, help="Simulated seconds per real second; 240: a simulated hour in 15 s."),
    ] = 240.0,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Real seconds to run; default: until the day's last car has left.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the cars' arrivals and of the stations' OCPP versions.")] = 0,
    api_port: Annotated[int, typer.Option(min=0, max=65535, help="REST API port on 127.0.0.1; 0: a free one.")] = 8000,
    ocpp_port: Annotated[int, typer.Option(min=0, max=65535, help="OCPP port on 127.0.0.1; 0: a free one.")] = 9000,
    store: Annotated[
        Path | None, typer.Option(help="SQLite store file to keep; default: a fresh, temporary one.")
    ] = None,
    live: Annotated[bool, typer.Option("--live/--no-live", help="Live view, or plain log lines (scripts, CI).")] = True,
) -> None:
    """Steer a simulated depot (examples/site.yaml) over a compressed day, live; prints the API docs URL and key.

    The API key is GRIDCHARGE_API_KEY when set, else a new one printed at the start.
    """
    from connectors.demo import DemoOptions, run  # the service and the simulator: only for the demo

    options = DemoOptions(
        speed=speed, duration_s=duration, seed=seed, api_port=api_port, ocpp_port=ocpp_port, store_path=store, live=live
    )
    raise typer.Exit(run(options))

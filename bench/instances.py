"""Benchmark instances: a workplace snapshot at 10:00 and a dense overnight depot, any size.

Both share one site shape, chosen to look like a real AC site:

    grid (kW limit = a third of the guns' rated sum; per-phase A limit of the same size, optional)
    └── feeder-0 .. feeder-k (kW limit, about 50 guns each)
        └── guns: 22 kW, three-phase, their L1 wired to L1, L2, L3 in turn (phase rotation)

Cars: 20 % single-phase (7.4 kW on one grid phase), 60 % three-phase (a third of them capped at
11 kW), 20 % of unknown phases. Energy wanted is lognormal, median 6.7 kWh and mean 9.3 kWh.
Priorities: 10 % at 2, 5 % at 0.5, the rest 1. About 1 % of the cars sit on stations that do not
obey profiles (uncontrolled). Prices: an hourly time-of-use-like series (cheap night, solar dip at
midday, evening peak) with a little noise.

- `workplace`: at 10:00 three quarters of the cars are plugged in (arrived 07:00-10:00), a quarter
  arrives within the horizon; stays are lognormal with mean 6.5 h, so most cars have far fewer
  columns than the horizon has steps.
- `depot`: at 18:00 every car is plugged in and stays beyond the horizon's end: every car has a
  column in every step, several times the workplace's size.

Everything is drawn from one seeded generator, so an instance is a pure function of its arguments.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from models import Gun, LimitNode, PriceSeries, Session, Site, SiteSnapshot

ZONE = ZoneInfo("Europe/Berlin")
STEP = timedelta(minutes=15)
GUN_KW = 22.0
GUNS_PER_FEEDER = 50
VOLTAGE_V = 230.0
ENERGY_MEDIAN_KWH = 6.7
ENERGY_MEAN_KWH = 9.3
STAY_MEAN_H = 6.5
STAY_SIGMA = 0.5  # lognormal shape of the stay; its mean is STAY_MEAN_H
PHASES = ("L1", "L2", "L3")

Kind = Literal["workplace", "depot"]


def site(guns: int, per_phase: bool) -> Site:
    """The limit tree for `guns` guns: grid > feeders of about 50 > guns."""
    feeders = []
    for f, begin in enumerate(range(0, guns, GUNS_PER_FEEDER)):
        members = range(begin, min(begin + GUNS_PER_FEEDER, guns))
        feeders.append(
            LimitNode(
                id=f"feeder-{f}",
                limit_kw=round(0.5 * GUN_KW * len(members), 1),
                guns=[
                    Gun(station_id=f"cp{g:05d}", max_power_kw=GUN_KW, phases=3, phase=PHASES[g % 3]) for g in members
                ],
            )
        )
    grid_kw = round(GUN_KW * guns / 3.0, 1)
    grid_a = round(grid_kw * 1000.0 / (3 * VOLTAGE_V), 1) if per_phase else None
    return Site(
        id=f"bench-{guns}",
        timezone=ZONE.key,
        root=LimitNode(id="grid", limit_kw=grid_kw, limit_a=grid_a, children=feeders),
    )


def snapshot(kind: Kind, guns: int, steps: int, per_phase: bool, seed: int = 0) -> SiteSnapshot:
    """The `kind` instance with `guns` guns over `steps` 15-minute steps."""
    rng = np.random.default_rng([seed, guns, steps, int(per_phase), 0 if kind == "workplace" else 1])
    the_site = site(guns, per_phase)
    now = datetime(2024, 3, 13, 10 if kind == "workplace" else 18, tzinfo=ZONE)
    horizon = STEP * steps
    if kind == "workplace":
        arrival, departure = _workplace_windows(rng, guns, now, horizon)
    else:
        arrival = np.full(guns, -rng.uniform(0.25, 2.0))
        departure = np.full(guns, horizon / timedelta(hours=1) + 1.0)
    sessions = _sessions(rng, the_site, now, arrival, departure)
    return SiteSnapshot(
        site=the_site,
        now=now,
        sessions=sessions,
        tariff=prices(now, horizon, rng),
        horizon=horizon,
        step=STEP,
    )


def prices(now: datetime, horizon: timedelta, rng: np.random.Generator) -> PriceSeries:
    """Hourly prices (EUR/kWh) from the hour before `now` to the hour after the horizon."""
    start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    hours = math.ceil(horizon / timedelta(hours=1)) + 3
    index = pd.date_range(start, periods=hours, freq="h")
    base = np.array([_time_of_use(stamp.hour) for stamp in index])
    noisy = base * (1.0 + 0.05 * rng.standard_normal(hours))
    return PriceSeries.from_series(pd.Series(np.round(noisy, 4), index=index))


def _time_of_use(hour: int) -> float:
    if hour < 6:
        return 0.16
    if 11 <= hour < 15:
        return 0.19
    if 17 <= hour < 21:
        return 0.38
    return 0.27


def _workplace_windows(
    rng: np.random.Generator, guns: int, now: datetime, horizon: timedelta
) -> tuple[np.ndarray, np.ndarray]:
    """Arrival and departure in hours from `now`: 3/4 already in (since 07:00), 1/4 to come."""
    horizon_h = horizon / timedelta(hours=1)
    plugged = rng.random(guns) < 0.75
    arrival = np.where(plugged, -rng.uniform(0.0, 3.0, guns), rng.uniform(0.0, horizon_h, guns))
    stay_mu = math.log(STAY_MEAN_H) - STAY_SIGMA**2 / 2
    stay = rng.lognormal(stay_mu, STAY_SIGMA, guns)
    # A car plugged in before now is still there: its stay ends at least a little after now.
    departure = np.maximum(arrival + stay, rng.uniform(0.25, 1.0, guns))
    return arrival, departure


def _sessions(
    rng: np.random.Generator, the_site: Site, now: datetime, arrival_h: np.ndarray, departure_h: np.ndarray
) -> list[Session]:
    gun_ids = list(the_site.guns())
    count = len(gun_ids)
    sigma = math.sqrt(2 * math.log(ENERGY_MEAN_KWH / ENERGY_MEDIAN_KWH))
    energy = rng.lognormal(math.log(ENERGY_MEDIAN_KWH), sigma, count)
    phase_draw = rng.random(count)
    capped = rng.random(count) < 1 / 3
    priority_draw = rng.random(count)
    uncontrolled = rng.random(count) < 0.01
    sessions = []
    for g, gun_id in enumerate(gun_ids):
        ev_phases: Literal[1, 3] | None = 1 if phase_draw[g] < 0.2 else (3 if phase_draw[g] < 0.8 else None)
        priority = 2.0 if priority_draw[g] < 0.10 else (0.5 if priority_draw[g] < 0.15 else 1.0)
        sessions.append(
            Session(
                gun_id=gun_id,
                arrival=now + timedelta(hours=float(arrival_h[g])),
                departure=now + timedelta(hours=float(departure_h[g])),
                energy_requested_kwh=round(float(energy[g]), 3),
                ev_phases=ev_phases,
                ev_max_power_kw=11.0 if ev_phases == 3 and capped[g] else None,
                priority=priority,
                controllable=not uncontrolled[g],
                observed_power_kw=7.0 if uncontrolled[g] else None,
            )
        )
    return sessions

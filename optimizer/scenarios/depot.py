"""An overnight depot: a fleet of delivery vans, each back on its own gun every working evening.

No published measurements of depot arrivals, departures or energy per van could be found and
checked with our search tools, so every figure here is an ASSUMPTION, chosen to be plausible for
light electric vans on urban rounds:

- one van per gun; vans work Monday to Saturday and stay plugged in over Sunday;
- back at 17:30 (sd 45 min), out again at 06:30 (sd 20 min) the next working morning;
- energy per night normal, mean 45 kWh, sd 12 kWh (at least 10 kWh);
- 11 kW three-phase guns and vans.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import Gun, Site
from models.site import PHASES
from optimizer.scenarios.sampling import Arrivals, CarMix, local_days, one_connection, park

RETURN_MEAN_H = 17.5
RETURN_SD_H = 0.75
LEAVE_MEAN_H = 6.5
LEAVE_SD_H = 1.0 / 3.0
ENERGY_MEAN_KWH = 45.0
ENERGY_SD_KWH = 12.0
ENERGY_MIN_KWH = 10.0
WORKING_DAYS = frozenset(range(6))  # Monday to Saturday
GUN_KW = 11.0
VANS = CarMix(shares=(1.0,), max_kw=(11.0,), phases=(3,))


def depot_site(guns: int = 30, limit_kw: float | None = None, timezone: str = "Europe/Amsterdam") -> Site:
    """`guns` three-phase 11 kW guns under one grid connection of `limit_kw` (None: unlimited)."""
    site_guns = [Gun(station_id=f"VAN{g:03d}", max_power_kw=GUN_KW, phases=3, phase=PHASES[g % 3]) for g in range(guns)]
    return one_connection("depot", "grid", site_guns, limit_kw, timezone)


def depot_sessions(site: Site, start: str | pd.Timestamp, days: int = 7, seed: int = 0) -> pd.DataFrame:
    """One session per van per working evening, until its next working morning."""
    rng = np.random.default_rng(seed)
    vans = len(site.guns())
    cars = Arrivals.empty()
    for midnight in local_days(start, days, site.timezone):
        if midnight.day_of_week not in WORKING_DAYS:
            continue
        next_working = 1
        while (midnight.day_of_week + next_working) % 7 not in WORKING_DAYS:
            next_working += 1
        arrival_h = np.clip(rng.normal(RETURN_MEAN_H, RETURN_SD_H, vans), 14.0, 23.0)
        leave_h = 24.0 * next_working + np.clip(rng.normal(LEAVE_MEAN_H, LEAVE_SD_H, vans), 4.5, 9.0)
        energy_kwh = np.maximum(rng.normal(ENERGY_MEAN_KWH, ENERGY_SD_KWH, vans), ENERGY_MIN_KWH)
        cars.add(midnight, arrival_h, leave_h - arrival_h, energy_kwh)
    return park(site, cars, VANS, rng, "depot")

"""A public fast-charging hub: short DC stops all day long.

Published figures used:
- paid (non-Tesla) DC fast charging in the US, 2.3 million sessions June 2020 - June 2023: mean
  session 42 minutes, mean energy 22 kWh (U.S. DOE Vehicle Technologies Office; the primary page
  was not found by our search, figures as reported by evmagz.com, "Study Reveals Disparities in
  Charging Behavior at Paid and Free DC Fast Charging Stations", and intelligentevnews.com,
  "Drivers Spent Nearly Twice The Time At Free DC Chargers Than At Paid Ones", 8 December 2023);
- Norway 2017 (E. Figenbaum, TØI, "Charging into the future - Analysis of fast charger usage"):
  energy and time per fast charge "follow a normal distribution" around their means; we take the
  shape from there (normal, truncated at 5 kWh and 10 minutes) and the means from the DOE figures;
- use: about 4 sessions per DC charger per day (ECOtality's EV Project, 2013: 10,000 sessions a
  month on about 90 units, as reported by InsideEVs, "EV Project Data Indicates Average DC Quick
  Charger is Used 4 Times Per Day").

ASSUMPTIONS (no published figure found and checked): spreads (sd 8 kWh, sd 15 min), arrivals
uniform over 06:00-22:00 every day, the car mix (40 % taking 50 kW, 40 % 100 kW, 20 % 150 kW), and
the site: 150 kW DC guns.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import Gun, GunKind, Site
from optimizer.scenarios.sampling import Arrivals, CarMix, local_days, one_connection, park

ENERGY_MEAN_KWH = 22.0
ENERGY_SD_KWH = 8.0
ENERGY_MIN_KWH = 5.0
STAY_MEAN_MIN = 42.0
STAY_SD_MIN = 15.0
STAY_MIN_MIN = 10.0
SESSIONS_PER_CHARGER_DAY = 4.0
OPEN_HOURS = (6.0, 22.0)
GUN_KW = 150.0
CARS = CarMix(shares=(0.4, 0.4, 0.2), max_kw=(50.0, 100.0, 150.0), phases=(3, 3, 3))


def fast_hub_site(guns: int = 6, limit_kw: float | None = None, timezone: str = "Europe/Amsterdam") -> Site:
    """`guns` DC guns of 150 kW under one grid connection of `limit_kw` (None: unlimited)."""
    site_guns = [Gun(station_id=f"HPC{g:02d}", kind=GunKind.DC, max_power_kw=GUN_KW) for g in range(guns)]
    return one_connection("fast-hub", "grid", site_guns, limit_kw, timezone)


def fast_hub_sessions(site: Site, start: str | pd.Timestamp, days: int = 7, seed: int = 0) -> pd.DataFrame:
    """Sessions on `site`'s guns for `days` days from the date of `start`, in the site's time zone."""
    rng = np.random.default_rng(seed)
    cars = Arrivals.empty()
    for midnight in local_days(start, days, site.timezone):
        count = int(rng.poisson(SESSIONS_PER_CHARGER_DAY * len(site.guns())))
        stay_h = np.maximum(rng.normal(STAY_MEAN_MIN, STAY_SD_MIN, count), STAY_MIN_MIN) / 60.0
        energy_kwh = np.maximum(rng.normal(ENERGY_MEAN_KWH, ENERGY_SD_KWH, count), ENERGY_MIN_KWH)
        cars.add(midnight, rng.uniform(*OPEN_HOURS, count), stay_h, energy_kwh)
    return park(site, cars, CARS, rng, "hub")

"""A workplace car park: commuters arriving in the morning and leaving in the afternoon.

Figures from ACN-Data's Caltech sessions of March 2019 (Z. J. Lee, T. Li, S. H. Low, "ACN-Data:
Analysis and Applications of an Open EV Charging Dataset", ACM e-Energy 2019), computed from the
month shipped with this package (`load_caltech_sessions()`), 54 EVSEs:

- energy per session: median 6.7 kWh, mean 9.3 kWh, roughly lognormal;
- stay: mean 6.5 h, median 6.1 h (drawn lognormal with that median and mean);
- sessions per charger: 0.72 per weekday, 0.25 per weekend day;
- weekday arrivals peak 07:00-09:00 local (297 of 820 weekday arrivals, 36 %, fall in those two
  hours; 48 % within 07:00-10:00); the rest spread over the day until about 21:00. Drawn as a
  mixture fitted to those hourly counts: 55 % normal around 08:15 (sd 1 h), 45 % uniform over
  10:00-21:00. Weekend arrivals: uniform over 08:00-20:00 (an ASSUMPTION: the month has too few
  weekend sessions, 134, to fit a shape).

The site is European: three-phase 11 kW guns at 230 V, their L1 rotated over the grid phases. The
car mix is an ASSUMPTION (no published figure checked): 80 % three-phase cars taking 11 kW, 20 %
single-phase cars (7.4 kW on board, 16 A = 3.7 kW on these guns).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import Gun, Site
from models.site import PHASES
from optimizer.scenarios.sampling import Arrivals, CarMix, local_days, lognormal, one_connection, park

ENERGY_MEDIAN_KWH = 6.7
ENERGY_MEAN_KWH = 9.3
STAY_MEDIAN_H = 6.1
STAY_MEAN_H = 6.5
SESSIONS_PER_CHARGER_WEEKDAY = 0.72
SESSIONS_PER_CHARGER_WEEKEND = 0.25
MORNING_SHARE = 0.55
MORNING_MEAN_H = 8.25
MORNING_SD_H = 1.0
SPREAD_HOURS = (10.0, 21.0)
WEEKEND_HOURS = (8.0, 20.0)
GUN_KW = 11.0
CARS = CarMix(shares=(0.8, 0.2), max_kw=(11.0, 7.4), phases=(3, 1))


def workplace_site(guns: int = 20, limit_kw: float | None = None, timezone: str = "Europe/Amsterdam") -> Site:
    """`guns` three-phase 11 kW guns under one grid connection of `limit_kw` (None: unlimited)."""
    site_guns = [Gun(station_id=f"WP{g:03d}", max_power_kw=GUN_KW, phases=3, phase=PHASES[g % 3]) for g in range(guns)]
    return one_connection("workplace", "grid", site_guns, limit_kw, timezone)


def workplace_sessions(site: Site, start: str | pd.Timestamp, days: int = 7, seed: int = 0) -> pd.DataFrame:
    """Sessions on `site`'s guns for `days` days from the date of `start`, in the site's time zone."""
    rng = np.random.default_rng(seed)
    chargers = len(site.guns())
    cars = Arrivals.empty()
    for midnight in local_days(start, days, site.timezone):
        weekday = midnight.day_of_week < 5
        rate = SESSIONS_PER_CHARGER_WEEKDAY if weekday else SESSIONS_PER_CHARGER_WEEKEND
        count = int(rng.poisson(rate * chargers))
        if weekday:
            morning = rng.random(count) < MORNING_SHARE
            arrival_h = np.where(
                morning,
                np.clip(rng.normal(MORNING_MEAN_H, MORNING_SD_H, count), 4.0, 12.0),
                rng.uniform(*SPREAD_HOURS, count),
            )
        else:
            arrival_h = rng.uniform(*WEEKEND_HOURS, count)
        stay_h = lognormal(rng, STAY_MEDIAN_H, STAY_MEAN_H, count)
        cars.add(midnight, arrival_h, stay_h, lognormal(rng, ENERGY_MEDIAN_KWH, ENERGY_MEAN_KWH, count))
    return park(site, cars, CARS, rng, "workplace")

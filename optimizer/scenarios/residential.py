"""A residential garage: residents' own guns, plugged in some evenings until the next morning.

Published figures used:
- plug-ins: "EVs charge 12 to 13 times per month on average, or about 3 times per week", and
  "200-250 kWh per month is consumed through a home charger" (Sagewell, "The basics of EV charging
  behavior statistics", from their Bring Your Own Charger program data). Energy per plug-in is
  derived from these: 200-250 kWh over 12-13 plug-ins, 15-21 kWh, mean taken as 18 kWh;
- users plug in 2 to 3 times per week (F. Gonzalez Venegas, M. Petit, Y. Perez, "Plug-in behavior
  of electric vehicles users: insights from a large-scale trial and impacts for grid integration
  studies", on the Electric Nation smart-charging trial), consistent with the above.

ASSUMPTIONS (no published figure found and checked): each resident plugs in on any evening with
probability 3/7; arrival 18:30 (sd 1.5 h, between 15:00 and 23:30), departure 07:30 the next
morning (sd 1 h); energy lognormal with median 15 kWh around that mean; 7.4 kW single-phase guns,
their phases rotated; cars: 60 % single-phase 7.4 kW, 40 % three-phase (single-phase on these
guns, so 7.4 kW too).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import Gun, Site
from models.site import PHASES
from optimizer.scenarios.sampling import Arrivals, CarMix, local_days, lognormal, one_connection, park

PLUG_INS_PER_WEEK = 3.0
ENERGY_MEAN_KWH = 18.0
ENERGY_MEDIAN_KWH = 15.0
ARRIVAL_MEAN_H = 18.5
ARRIVAL_SD_H = 1.5
ARRIVAL_HOURS = (15.0, 23.5)
DEPARTURE_MEAN_H = 24.0 + 7.5
DEPARTURE_SD_H = 1.0
GUN_KW = 7.4
CARS = CarMix(shares=(0.6, 0.4), max_kw=(7.4, 11.0), phases=(1, 3))


def residential_site(guns: int = 12, limit_kw: float | None = None, timezone: str = "Europe/Amsterdam") -> Site:
    """`guns` single-phase 7.4 kW guns under one building connection of `limit_kw` (None: unlimited)."""
    site_guns = [
        Gun(station_id=f"FLAT{g:03d}", max_power_kw=GUN_KW, phases=1, phase=PHASES[g % 3]) for g in range(guns)
    ]
    return one_connection("residential", "building", site_guns, limit_kw, timezone)


def residential_sessions(site: Site, start: str | pd.Timestamp, days: int = 7, seed: int = 0) -> pd.DataFrame:
    """Sessions on `site`'s guns for `days` evenings from the date of `start`, in the site's time zone.

    Every car leaves by the next morning, so an evening's cars always find a free gun.
    """
    rng = np.random.default_rng(seed)
    residents = len(site.guns())
    cars = Arrivals.empty()
    for midnight in local_days(start, days, site.timezone):
        plugged = rng.random(residents) < PLUG_INS_PER_WEEK / 7.0
        count = int(plugged.sum())
        arrival_h = np.clip(rng.normal(ARRIVAL_MEAN_H, ARRIVAL_SD_H, count), *ARRIVAL_HOURS)
        departure_h = np.clip(rng.normal(DEPARTURE_MEAN_H, DEPARTURE_SD_H, count), 24.0 + 5.0, 24.0 + 10.0)
        energy_kwh = lognormal(rng, ENERGY_MEDIAN_KWH, ENERGY_MEAN_KWH, count)
        cars.add(midnight, arrival_h, departure_h - arrival_h, energy_kwh)
    return park(site, cars, CARS, rng, "home")

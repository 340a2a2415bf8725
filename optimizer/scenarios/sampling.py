"""What every session generator shares: seeded draws, days in a site's time zone, guns to park on.

A generator draws each day's arrivals in the site's local time, a stay and an energy per car, and
then parks the cars: each takes the gun free longest, and a car that finds every gun busy drives
away (it is not in the frame), as it would on a real site. Energy is capped at what the car could
take at its full power during its stay, so every session is satisfiable on an unlimited site.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd

from models import Gun, LimitNode, Site

SESSION_FRAME_COLUMNS = ("session_id", "gun", "arrival", "departure", "energy_kwh", "max_kw", "phases")


def one_connection(site_id: str, root_id: str, guns: list[Gun], limit_kw: float | None, timezone: str) -> Site:
    """A site of `guns` directly under one connection `root_id` of `limit_kw` (None: unlimited)."""
    return Site(id=site_id, timezone=timezone, root=LimitNode(id=root_id, limit_kw=limit_kw, guns=guns))


def lognormal(rng: np.random.Generator, median: float, mean: float, size: int) -> np.ndarray:
    """Lognormal draws with the given median and mean (mean > median), e.g. kWh or hours."""
    sigma = math.sqrt(2.0 * math.log(mean / median))
    return rng.lognormal(math.log(median), sigma, size)


def local_days(start: str | pd.Timestamp, days: int, timezone: str) -> Iterator[pd.Timestamp]:
    """Local midnights of `days` days from the date of `start` (DST-aware)."""
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    first = pd.Timestamp(start)
    first = first.tz_convert(timezone) if first.tzinfo is not None else first.tz_localize(timezone)
    for offset in range(days):
        yield (first.normalize().tz_localize(None) + pd.Timedelta(days=offset)).tz_localize(timezone)


@dataclass(frozen=True)
class CarMix:
    """Cars by share: each kind's maximum power (kW) and phases (1 or 3)."""

    shares: tuple[float, ...]
    max_kw: tuple[float, ...]
    phases: tuple[int, ...]

    def draw(self, rng: np.random.Generator, size: int) -> tuple[np.ndarray, np.ndarray]:
        kind = rng.choice(len(self.shares), size=size, p=np.array(self.shares) / sum(self.shares))
        return np.array(self.max_kw)[kind], np.array(self.phases)[kind]


@dataclass
class Arrivals:
    """Cars drawn for a period, before parking: times as aware UTC timestamps."""

    arrival: list[pd.Timestamp]
    stay_h: list[float]
    energy_kwh: list[float]

    @classmethod
    def empty(cls) -> Arrivals:
        return cls([], [], [])

    def add(self, midnight: pd.Timestamp, arrival_h: np.ndarray, stay_h: np.ndarray, energy_kwh: np.ndarray) -> None:
        """Cars arriving `arrival_h` hours after a local midnight (elapsed time, so DST-safe)."""
        self.arrival.extend((midnight + pd.to_timedelta(arrival_h, unit="h")).tz_convert("UTC").round("s"))
        self.stay_h.extend(stay_h.tolist())
        self.energy_kwh.extend(energy_kwh.tolist())


def park(site: Site, cars: Arrivals, mix: CarMix, rng: np.random.Generator, prefix: str) -> pd.DataFrame:
    """The sessions frame: each car on the gun free longest, or gone when every gun is busy."""
    guns = site.guns()
    gun_ids = list(guns)
    if not cars.arrival:
        return pd.DataFrame({column: [] for column in SESSION_FRAME_COLUMNS})
    order = np.argsort(np.array([stamp.value for stamp in cars.arrival]), kind="stable")
    max_kw, phases = mix.draw(rng, len(order))
    free_at = {gun: pd.Timestamp.min.tz_localize("UTC") for gun in gun_ids}
    rows: list[dict[str, object]] = []
    for rank, i in enumerate(order):
        arrival = cars.arrival[i]
        gun = min(gun_ids, key=lambda g: free_at[g])
        if free_at[gun] > arrival:
            continue  # every gun busy: the car drives away
        departure = arrival + pd.Timedelta(hours=cars.stay_h[i]).round("s")
        free_at[gun] = departure
        car_kw = min(float(max_kw[rank]), guns[gun].max_kw(int(phases[rank])))
        deliverable_kwh = car_kw * (departure - arrival).total_seconds() / 3600
        rows.append(
            {
                "session_id": f"{prefix}-{len(rows):05d}",
                "gun": gun,
                "arrival": arrival,
                "departure": departure,
                "energy_kwh": math.floor(1000 * min(cars.energy_kwh[i], deliverable_kwh)) / 1000,
                "max_kw": float(max_kw[rank]),
                "phases": int(phases[rank]),
            }
        )
    return pd.DataFrame(rows, columns=list(SESSION_FRAME_COLUMNS))

"""Which cars come to which gun, and when, over one simulated working day. Pure and seeded.

The day starts at 06:00 (the fleet's start). Like a workplace car park: most guns see one car
arriving in the morning peak (around 08:30) that stays about a working day; some see a second,
shorter visit after it leaves. Each car has a battery, a state of charge on arrival and an energy
it wants (so a target state of charge), and a maximum power by kind of gun. Every gun draws from
its own random stream (seed and gun id), so adding a gun does not change the others' cars.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from connectors.simulator.charge_point import SimulatedEv
from models import Gun, GunKind

DAY_STARTS_AT_H = 6.0
"""The local hour the simulated day (and the fleet) starts at."""
MORNING_PEAK_H, MORNING_SPREAD_H = 8.5, 0.75
EARLIEST_ARRIVAL_H, LATEST_ARRIVAL_H = 6.25, 11.5
WORKDAY_STAY_H, WORKDAY_SPREAD_H = 8.0, 1.5
SHORTEST_STAY_H, LONGEST_STAY_H = 1.0, 11.0
FIRST_VISIT_CHANCE, SECOND_VISIT_CHANCE = 0.9, 0.35
LAST_SECOND_ARRIVAL_H = 20.0
AC_CAR_MAX_KW = (7.4, 11.0, 11.0, 22.0)
DC_CAR_MAX_KW = (50.0, 100.0, 150.0)
BATTERIES_KWH = (40.0, 60.0, 77.0, 100.0)
ENERGY_WANTED_KWH = (8.0, 35.0)
HIGHEST_TARGET_SOC = 0.95


@dataclass(frozen=True)
class Visit:
    """One car on one gun: when it comes and goes, and what it is."""

    gun_id: str
    arrival: datetime
    departure: datetime
    max_power_kw: float
    battery_kwh: float
    arrival_soc: float
    energy_wanted_kwh: float

    def ev(self) -> SimulatedEv:
        """A fresh car for this visit, full when it has had `energy_wanted_kwh`."""
        target_soc = self.arrival_soc + self.energy_wanted_kwh / self.battery_kwh
        return SimulatedEv(
            max_power_kw=self.max_power_kw, battery_kwh=self.battery_kwh, soc=self.arrival_soc, target_soc=target_soc
        )


def plan_visits(guns: Iterable[Gun], day_start: datetime, seed: int) -> list[Visit]:
    """Every visit of the day to `guns`, in order of arrival; `day_start` is the day's 06:00."""
    visits = [visit for gun in sorted(guns, key=lambda gun: gun.id) for visit in _visits_of(gun, day_start, seed)]
    return sorted(visits, key=lambda visit: (visit.arrival, visit.gun_id))


def _visits_of(gun: Gun, day_start: datetime, seed: int) -> list[Visit]:
    draw = random.Random(f"{seed}:{gun.id}")
    if draw.random() >= FIRST_VISIT_CHANCE:
        return []
    arrival_h = _clipped(draw.gauss(MORNING_PEAK_H, MORNING_SPREAD_H), EARLIEST_ARRIVAL_H, LATEST_ARRIVAL_H)
    stay_h = _clipped(draw.gauss(WORKDAY_STAY_H, WORKDAY_SPREAD_H), SHORTEST_STAY_H, LONGEST_STAY_H)
    visits = [_visit(gun, draw, day_start, arrival_h, stay_h)]
    second_arrival_h = arrival_h + stay_h + draw.uniform(0.25, 2.0)
    if draw.random() < SECOND_VISIT_CHANCE and second_arrival_h < LAST_SECOND_ARRIVAL_H:
        visits.append(_visit(gun, draw, day_start, second_arrival_h, draw.uniform(1.0, 3.0)))
    return visits


def _visit(gun: Gun, draw: random.Random, day_start: datetime, arrival_h: float, stay_h: float) -> Visit:
    battery_kwh = draw.choice(BATTERIES_KWH)
    arrival_soc = round(draw.uniform(0.2, 0.6), 3)
    wanted_kwh = min(draw.uniform(*ENERGY_WANTED_KWH), (HIGHEST_TARGET_SOC - arrival_soc) * battery_kwh)
    arrival = day_start + timedelta(hours=arrival_h - DAY_STARTS_AT_H)
    return Visit(
        gun_id=gun.id,
        arrival=arrival,
        departure=arrival + timedelta(hours=stay_h),
        max_power_kw=draw.choice(DC_CAR_MAX_KW if gun.kind is GunKind.DC else AC_CAR_MAX_KW),
        battery_kwh=battery_kwh,
        arrival_soc=arrival_soc,
        energy_wanted_kwh=round(wanted_kwh, 2),
    )


def _clipped(value: float, lowest: float, highest: float) -> float:
    return min(highest, max(lowest, value))


def v201_stations(station_ids: Iterable[str], share: float, seed: int) -> set[str]:
    """Which stations speak 2.0.1 (the others 1.6): `share` of them, rounded, chosen by `seed`."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the 2.0.1 share must be within 0..1, not {share}")
    ordered = sorted(station_ids)
    random.Random(f"{seed}:versions").shuffle(ordered)
    return set(ordered[: round(share * len(ordered))])

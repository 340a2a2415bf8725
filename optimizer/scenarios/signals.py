"""Example tariffs and grid limits, in the forms `optimizer.simulate()` and `plan()` take.

The prices are illustrative (currency per kWh), not any utility's or market's: a time-of-use
tariff with a cheap night, a cheap solar midday and a dear early evening, and an hourly day-ahead-like series whose
shape (low at night, a morning ramp, a midday solar dip, an evening peak) is an ASSUMPTION with
seeded noise. The limits are a fixed connection and a DSO curtailment window, as kW series
indexed by step start.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models import TimeOfUseBand, TimeOfUseTariff

WEEKDAYS = [0, 1, 2, 3, 4]
# Hour of day (local) -> base price per kWh of the day-ahead-like series.
_DAY_AHEAD_SHAPE = np.array(
    [
        [0.09, 0.08, 0.08, 0.08, 0.08, 0.09, 0.12, 0.16, 0.17, 0.15, 0.12, 0.09],  # 00:00-11:00
        [0.07, 0.06, 0.07, 0.09, 0.13, 0.19, 0.24, 0.23, 0.18, 0.14, 0.12, 0.10],  # 12:00-23:00
    ]
).ravel()


def time_of_use_tariff(
    off_peak_per_kwh: float = 0.15,
    solar_per_kwh: float = 0.12,
    standard_per_kwh: float = 0.25,
    peak_per_kwh: float = 0.40,
) -> TimeOfUseTariff:
    """Local hours: off-peak 00:00-07:00 and solar 10:00-15:00 every day, peak 16:00-21:00 on
    weekdays, standard otherwise. Cheap nights suit depots and homes, cheap middays workplaces.
    """
    return TimeOfUseTariff(
        default_price_per_kwh=standard_per_kwh,
        bands=[
            TimeOfUseBand(start_hour=0, end_hour=7, price_per_kwh=off_peak_per_kwh),
            TimeOfUseBand(start_hour=10, end_hour=15, price_per_kwh=solar_per_kwh),
            TimeOfUseBand(weekdays=WEEKDAYS, start_hour=16, end_hour=21, price_per_kwh=peak_per_kwh),
        ],
    )


def day_ahead_prices(
    start: str | pd.Timestamp, days: int = 7, timezone: str = "Europe/Amsterdam", seed: int = 0
) -> pd.Series:
    """Hourly prices per kWh from the local midnight of `start` for `days` days, indexed in UTC.

    Each day is the base shape scaled by a daily level (0.8-1.2) plus hourly noise (sd 0.01),
    never below 0.01.
    """
    first = pd.Timestamp(start)
    first = first.tz_convert(timezone) if first.tzinfo is not None else first.tz_localize(timezone)
    midnight = first.normalize()
    index = pd.date_range(midnight, midnight + pd.Timedelta(days=days), freq="h", inclusive="left")
    rng = np.random.default_rng(seed)
    level = np.repeat(rng.uniform(0.8, 1.2, days + 1), 24)[: len(index)]
    prices = _DAY_AHEAD_SHAPE[index.hour] * level + rng.normal(0.0, 0.01, len(index))
    return pd.Series(np.maximum(prices, 0.01).round(4), index=index.tz_convert("UTC"), name="price_per_kwh")


def fixed_connection(
    limit_kw: float, start: str | pd.Timestamp, end: str | pd.Timestamp, step: str = "15min"
) -> pd.Series:
    """The same kW limit at every step from `start` to `end` (aware), indexed by step start in UTC."""
    index = pd.date_range(_utc(start), _utc(end), freq=step, inclusive="left")
    return pd.Series(float(limit_kw), index=index, name="limit_kw")


def dso_curtailment(
    limit_kw: float,
    curtailed_kw: float,
    start: str | pd.Timestamp,
    end: str | pd.Timestamp,
    window_hours: tuple[int, int] = (17, 20),
    timezone: str = "Europe/Amsterdam",
    step: str = "15min",
) -> pd.Series:
    """`limit_kw`, cut to `curtailed_kw` every day from `window_hours[0]` to `window_hours[1]` local."""
    limits = fixed_connection(limit_kw, start, end, step)
    local_hour = pd.DatetimeIndex(limits.index).tz_convert(timezone).hour
    inside = (local_hour >= window_hours[0]) & (local_hour < window_hours[1])
    limits[inside] = float(curtailed_kw)
    return limits


def _utc(moment: str | pd.Timestamp) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    if stamp.tzinfo is None:
        raise ValueError(f"{moment!r} must be time-zone aware")
    return stamp.tz_convert("UTC")

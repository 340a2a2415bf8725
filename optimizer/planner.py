"""plan(): the planners' door to `allocate`, in pandas terms."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd

from models import Allocation, PriceSeries, Site, SiteSnapshot, TimeOfUseTariff
from optimizer.allocate import allocate
from optimizer.frames import limit_series, price_series, sessions_from_frame, to_aware, to_duration
from optimizer.options import OptimizerOptions


def plan(
    site: Site,
    sessions: pd.DataFrame,
    start: datetime | pd.Timestamp | str,
    horizon: timedelta | pd.Timedelta | str,
    step: timedelta | pd.Timedelta | str,
    tariff: pd.Series | PriceSeries | TimeOfUseTariff | None = None,
    grid_limit: pd.Series | dict[str, pd.Series] | None = None,
    options: OptimizerOptions | None = None,
    default_energy_kwh: float = 20.0,
) -> Allocation:
    """Plan the sessions of a DataFrame on a site from `start` over `horizon` in steps of `step`.

    Sessions columns: `gun`, `arrival`, `departure`, `energy_kwh`, optional `priority`, `max_kw`,
    `phases`. A bare Series `grid_limit` (kW, indexed by step start) applies to the root; a
    series' last value holds as long as the step before it (a single value: to the plan's end).
    """
    begin = to_aware(start, "start")
    length = to_duration(horizon, "horizon")
    snapshot = SiteSnapshot(
        site=site,
        now=begin,
        sessions=sessions_from_frame(sessions, site),
        limit_series=limit_series(grid_limit, site, end=begin + length),
        tariff=price_series(tariff, begin, begin + length, site.timezone),
        horizon=length,
        step=to_duration(step, "step"),
        default_energy_kwh=default_energy_kwh,
    )
    return allocate(snapshot, options)

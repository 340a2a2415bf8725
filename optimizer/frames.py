"""pandas in, domain types out: the conversions `plan()` and `simulate()` share.

Planners hand us DataFrames and Series; the optimizer wants `Session`s, `PriceSeries` and
`LimitSeries`. Every check here raises `ValueError` naming the column or argument at fault, so a
notebook user sees what to fix without reading a pydantic trace.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

import numpy as np
import pandas as pd

from models import LimitSeries, PriceSeries, Session, Site, TimeOfUseTariff
from models.site import gun_id

SESSION_COLUMNS: tuple[str, ...] = ("gun", "arrival", "departure", "energy_kwh")
OPTIONAL_SESSION_COLUMNS: tuple[str, ...] = ("priority", "max_kw", "phases", "session_id")

Duration = timedelta | pd.Timedelta | np.timedelta64 | str
TariffLike = pd.Series | pd.DataFrame | PriceSeries | TimeOfUseTariff | None
LimitLike = pd.Series | LimitSeries | Mapping[str, "pd.Series | LimitSeries"] | None


def to_duration(value: Duration, name: str = "duration") -> timedelta:
    """A positive duration from a timedelta, a pandas Timedelta or a string such as "15min".

    A bare number is refused: pandas would read 900 as 900 nanoseconds, not seconds or minutes.
    """
    if isinstance(value, int | float):
        raise ValueError(f"{name}: give a duration such as '15min' or timedelta(minutes=15), not the number {value}")
    try:
        converted = pd.Timedelta(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name}: cannot read {value!r} as a duration (try '15min' or '1h')") from error
    if pd.isna(converted) or converted <= pd.Timedelta(0):
        raise ValueError(f"{name} must be a positive duration, got {value!r}")
    return converted.round("us").to_pytimedelta()


def to_aware(value: datetime | pd.Timestamp | str, name: str) -> datetime:
    """A time-zone aware datetime in UTC; naive values are refused, naming the argument."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{name}: cannot read {value!r} as a timestamp") from error
    if pd.isna(stamp):
        raise ValueError(f"{name} is missing (NaT)")
    if stamp.tzinfo is None:
        raise ValueError(f"{name} must be time-zone aware, got naive {stamp}")
    return stamp.tz_convert("UTC").round("us").to_pydatetime()


def aware_column(frame: pd.DataFrame, column: str) -> pd.Series:
    """A timestamp column as UTC, refusing naive or missing values (mixed UTC offsets are fine)."""
    values = frame[column]
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        converted = values.dt.tz_convert("UTC")
    elif pd.api.types.is_datetime64_dtype(values.dtype):
        raise ValueError(f"column {column!r} must be time-zone aware; it holds naive timestamps")
    else:
        stamps = [to_aware(value, f"column {column!r}, row {row!r}") for row, value in values.items()]
        converted = pd.Series(pd.DatetimeIndex(stamps, tz="UTC"), index=values.index)
    if converted.isna().any():
        row = converted.index[converted.isna().to_numpy()][0]
        raise ValueError(f"column {column!r}, row {row!r}: missing timestamp")
    # datetime holds microseconds: round here rather than let every conversion warn.
    return converted.dt.round("us")


def _numeric_column(frame: pd.DataFrame, column: str, required: bool) -> pd.Series:
    try:
        values = pd.to_numeric(frame[column], errors="raise").astype(float)
    except (ValueError, TypeError) as error:
        raise ValueError(f"column {column!r} must be numeric: {error}") from error
    if required and values.isna().any():
        row = values.index[values.isna().to_numpy()][0]
        raise ValueError(f"column {column!r}, row {row!r}: missing value")
    return values


def _bad_row(column: str, values: pd.Series, bad: pd.Series, rule: str) -> ValueError:
    row = values.index[bad.to_numpy()][0]
    return ValueError(f"column {column!r}, row {row!r}: {values[row]!r} {rule}")


def _resolve_gun(value: Any, guns: set[str]) -> str | None:
    """A gun id as given, or a bare station id meaning its EVSE 1 (as in the Caltech data)."""
    text = str(value)
    if text in guns:
        return text
    if "/" not in text and gun_id(text) in guns:
        return gun_id(text)
    return None


def sessions_from_frame(frame: pd.DataFrame, site: Site) -> list[Session]:
    """One `Session` per row.

    Columns: `gun` ("STATION/EVSE", or a bare station id for its EVSE 1), `arrival`, `departure`
    (time-zone aware), `energy_kwh` (requested; NaN = unknown: the caller's default applies);
    optional `priority` (default 1), `max_kw` (the car's maximum power), `phases` (1 or 3, the
    car's) and `session_id` (default: the row label). Missing optional values (NaN) mean "unknown"
    or the default.
    """
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"sessions must be a pandas DataFrame, got {type(frame).__name__}")
    for column in SESSION_COLUMNS:
        if column not in frame.columns:
            raise ValueError(f"sessions: missing column {column!r} (needed: {', '.join(SESSION_COLUMNS)})")
    if frame.empty:
        return []
    guns = set(site.guns())
    resolved = [_resolve_gun(value, guns) for value in frame["gun"]]
    for row, (value, gun) in enumerate(zip(frame["gun"], resolved, strict=True)):
        if gun is None:
            raise ValueError(
                f"column 'gun', row {frame.index[row]!r}: {value!r} is not a gun of site {site.id}"
                " (expected 'STATION/EVSE')"
            )
    arrival = aware_column(frame, "arrival")
    departure = aware_column(frame, "departure")
    late = departure <= arrival
    if late.any():
        raise _bad_row("departure", departure, late, "is not after its arrival")
    energy = _numeric_column(frame, "energy_kwh", required=False)
    if (energy < 0).any():
        raise _bad_row("energy_kwh", energy, energy < 0, "is negative")
    priority = _optional(frame, "priority")
    if priority is not None and ((priority < 0.01) | (priority > 100)).any():
        raise _bad_row("priority", priority, (priority < 0.01) | (priority > 100), "is outside [0.01, 100]")
    max_kw = _optional(frame, "max_kw")
    if max_kw is not None and (max_kw <= 0).any():
        raise _bad_row("max_kw", max_kw, max_kw <= 0, "must be positive")
    phases = _optional(frame, "phases")
    if phases is not None and (phases.notna() & ~phases.isin([1, 3])).any():
        raise _bad_row("phases", phases, phases.notna() & ~phases.isin([1, 3]), "must be 1 or 3")
    ids: list[Hashable] = list(frame["session_id"]) if "session_id" in frame.columns else list(frame.index)

    sessions = []
    for i in range(len(frame)):
        gun = resolved[i]
        assert gun is not None
        sessions.append(
            Session(
                gun_id=gun,
                arrival=arrival.iloc[i].to_pydatetime(),
                departure=departure.iloc[i].to_pydatetime(),
                energy_requested_kwh=_float_or_none(energy, i),
                priority=_float_or_none(priority, i) or 1.0,
                ev_max_power_kw=_float_or_none(max_kw, i),
                ev_phases=_phases_or_none(phases, i),
                session_id=str(ids[i]),
            )
        )
    return sessions


def _optional(frame: pd.DataFrame, column: str) -> pd.Series | None:
    return _numeric_column(frame, column, required=False) if column in frame.columns else None


def _float_or_none(values: pd.Series | None, i: int) -> float | None:
    if values is None or math.isnan(values.iloc[i]):
        return None
    return float(values.iloc[i])


def _phases_or_none(values: pd.Series | None, i: int) -> Literal[1, 3] | None:
    if values is None or math.isnan(values.iloc[i]):
        return None
    return 1 if int(values.iloc[i]) == 1 else 3


def _aware_index(series: pd.Series, name: str) -> pd.DatetimeIndex:
    if not isinstance(series.index, pd.DatetimeIndex):
        raise ValueError(f"{name}: the index must be timestamps (step starts), got {type(series.index).__name__}")
    if len(series) == 0:
        raise ValueError(f"{name}: the series is empty")
    if series.index.tz is None:
        raise ValueError(f"{name}: the index must be time-zone aware")
    if not series.index.is_monotonic_increasing or series.index.has_duplicates:
        raise ValueError(f"{name}: the index must be strictly increasing")
    values = pd.to_numeric(series, errors="coerce")
    if values.isna().any():
        raise ValueError(f"{name}: missing or non-numeric value at {values.index[values.isna().to_numpy()][0]}")
    return series.index


def _one_step_end(index: pd.DatetimeIndex, end: datetime | None, name: str) -> datetime | None:
    """A series' last step lasts as long as the one before; a one-step series needs `end`."""
    if len(index) >= 2:
        return None
    if end is None or end <= index[0]:
        raise ValueError(f"{name}: a series of one value needs an end after {index[0]}")
    return end


def price_series(tariff: TariffLike, start: datetime, end: datetime, timezone: str = "UTC") -> PriceSeries | None:
    """Prices for [start, end): from a Series of price per kWh indexed by step start, a DataFrame
    with `price_per_kwh` (and a `start` column or a timestamp index), a PriceSeries, or a
    time-of-use tariff (hours in the site's `timezone`). None means no tariff.
    """
    if tariff is None or isinstance(tariff, PriceSeries):
        return tariff
    if isinstance(tariff, TimeOfUseTariff):
        return tariff.to_price_series(start, end, timezone)
    if isinstance(tariff, pd.DataFrame):
        if "price_per_kwh" not in tariff.columns:
            raise ValueError("tariff: missing column 'price_per_kwh'")
        index = pd.DatetimeIndex(aware_column(tariff, "start")) if "start" in tariff.columns else tariff.index
        tariff = pd.Series(tariff["price_per_kwh"].to_numpy(), index=index)
    if not isinstance(tariff, pd.Series):
        raise ValueError(f"tariff must be a Series, DataFrame, PriceSeries or TimeOfUseTariff, not {type(tariff)}")
    index = _aware_index(tariff, "tariff")
    prices = pd.Series(pd.to_numeric(tariff).to_numpy(dtype=float), index=index)
    return PriceSeries.from_series(prices, end=_one_step_end(index, end, "tariff"))


def limit_series(grid_limit: LimitLike, site: Site, end: datetime | None = None) -> dict[str, LimitSeries]:
    """Limit series per node id: a bare Series (kW, indexed by step start) applies to the root;
    a mapping names its node (or gun) for each. `end` closes a series of a single value.
    """
    if grid_limit is None:
        return {}
    if isinstance(grid_limit, pd.Series | LimitSeries):
        return {site.root.id: _one_limit(grid_limit, end, "grid_limit")}
    if not isinstance(grid_limit, Mapping):
        raise ValueError(f"grid_limit must be a Series or a dict of node id to Series, not {type(grid_limit)}")
    known = set(site.nodes()) | set(site.guns())
    result = {}
    for node_id, series in grid_limit.items():
        if node_id not in known:
            raise ValueError(f"grid_limit: {node_id!r} is not a node or gun of site {site.id}")
        result[node_id] = _one_limit(series, end, f"grid_limit[{node_id!r}]")
    return result


def _one_limit(series: pd.Series | LimitSeries, end: datetime | None, name: str) -> LimitSeries:
    if isinstance(series, LimitSeries):
        return series
    if not isinstance(series, pd.Series):
        raise ValueError(f"{name} must be a pandas Series of kW limits, not {type(series).__name__}")
    index = _aware_index(series, name)
    values = pd.to_numeric(series).to_numpy(dtype=float)
    if (values < 0).any():
        raise ValueError(f"{name}: negative limit at {index[int(np.argmax(values < 0))]}")
    return LimitSeries.from_series(pd.Series(values, index=index), end=_one_step_end(index, end, name))

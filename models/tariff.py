"""Signals over time: price series, time-of-use tariffs and limit series.

A series is a list of steps, each with its own start and end (any step length). Fitting a series
onto the optimizer's steps (mean price, minimum limit within each step) is the optimizer's job.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Self
from zoneinfo import ZoneInfo

import pandas as pd
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class _Step(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    start: AwareDatetime
    end: AwareDatetime

    @model_validator(mode="after")
    def _end_after_start(self) -> Self:
        if self.end.timestamp() <= self.start.timestamp():
            raise ValueError(f"step starting {self.start} ends at {self.end}, not after it")
        return self


class PriceStep(_Step):
    price_per_kwh: float


class LimitStep(_Step):
    """A limit in force from `start` to `end`: in kW, in A on each phase, or both."""

    limit_kw: float | None = Field(default=None, ge=0)
    limit_a: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _has_a_limit(self) -> Self:
        if self.limit_kw is None and self.limit_a is None:
            raise ValueError(f"limit step starting {self.start} has neither limit_kw nor limit_a")
        return self


def _check_ordered(steps: Sequence[_Step]) -> None:
    for before, after in itertools.pairwise(steps):
        if after.start.timestamp() < before.end.timestamp():
            raise ValueError(f"steps overlap or are out of order at {after.start}")


def _step_bounds(index: pd.DatetimeIndex, end: datetime | None) -> list[tuple[datetime, datetime]]:
    if index.tz is None:
        raise ValueError("a series index must be time-zone aware")
    if not index.is_monotonic_increasing or index.has_duplicates:
        raise ValueError("a series index must be strictly increasing")
    starts = [stamp.to_pydatetime().astimezone(UTC) for stamp in index]
    if end is None:
        if len(starts) < 2:
            raise ValueError("a one-step series needs an explicit end")
        end = starts[-1] + (starts[-1] - starts[-2])
    return list(zip(starts, [*starts[1:], end], strict=True))


class PriceSeries(BaseModel):
    """Prices in currency per kWh over consecutive steps."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[PriceStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_ordered(self.steps)
        return self

    @classmethod
    def from_series(cls, prices: pd.Series, end: datetime | None = None) -> PriceSeries:
        """From a pandas Series indexed by step start; the last step lasts as long as the one before."""
        bounds = _step_bounds(pd.DatetimeIndex(prices.index), end)
        return cls(
            steps=[
                PriceStep(start=start, end=stop, price_per_kwh=float(price))
                for (start, stop), price in zip(bounds, prices.to_numpy(), strict=True)
            ]
        )


class LimitSeries(BaseModel):
    """Limits for one node over consecutive steps; outside them the node's static limit holds."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    steps: list[LimitStep] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        _check_ordered(self.steps)
        return self

    @classmethod
    def from_series(cls, limits_kw: pd.Series, end: datetime | None = None) -> LimitSeries:
        """From a pandas Series of kW limits indexed by step start."""
        bounds = _step_bounds(pd.DatetimeIndex(limits_kw.index), end)
        return cls(
            steps=[
                LimitStep(start=start, end=stop, limit_kw=float(limit))
                for (start, stop), limit in zip(bounds, limits_kw.to_numpy(), strict=True)
            ]
        )


class TimeOfUseBand(BaseModel):
    """A price for some hours of some weekdays, in the site's local time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    weekdays: list[int] = Field(default=[0, 1, 2, 3, 4, 5, 6], description="0 = Monday.")
    start_hour: int = Field(ge=0, le=23)
    end_hour: int = Field(ge=1, le=24, description="Exclusive; 24 = midnight.")
    price_per_kwh: float

    @model_validator(mode="after")
    def _hours(self) -> Self:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be after start_hour (split a band that wraps midnight)")
        if not set(self.weekdays) <= set(range(7)):
            raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
        return self


class TimeOfUseTariff(BaseModel):
    """Weekday/hour bands over a default price; the first matching band wins."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    default_price_per_kwh: float
    bands: list[TimeOfUseBand] = Field(default_factory=list)

    def price_at(self, local_time: datetime) -> float:
        for band in self.bands:
            if local_time.weekday() in band.weekdays and band.start_hour <= local_time.hour < band.end_hour:
                return band.price_per_kwh
        return self.default_price_per_kwh

    def to_price_series(self, start: datetime, end: datetime, timezone: str) -> PriceSeries:
        """Hourly prices from `start` to `end`, hours taken in the site's local time."""
        zone = ZoneInfo(timezone)
        hour = timedelta(hours=1)
        steps = []
        cursor = start.astimezone(UTC)
        while cursor < end:
            stop = min(cursor + hour, end)
            steps.append(PriceStep(start=cursor, end=stop, price_per_kwh=self.price_at(cursor.astimezone(zone))))
            cursor = stop
        return PriceSeries(steps=steps)

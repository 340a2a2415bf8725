"""Fitting signals (prices, limits) of any step length onto the optimizer's steps.

Within one optimizer step a price is the time-weighted mean of what overlaps it, and a limit is
the smallest that applies at any moment of it (a limit must hold all the time, not on average).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np

from models import LimitSeries, PriceSeries


def step_bounds_s(now: datetime, step: timedelta, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Start and end of each optimizer step in POSIX seconds."""
    starts = now.timestamp() + step.total_seconds() * np.arange(count)
    return starts, starts + step.total_seconds()


def fit_prices(series: PriceSeries | None, starts_s: np.ndarray, ends_s: np.ndarray) -> np.ndarray:
    """Mean price per step; before the series its first price holds, after it its last.

    Gaps inside the series take the price of the step before them.
    """
    if series is None:
        return np.zeros(len(starts_s))
    series_starts = np.array([step.start.timestamp() for step in series.steps])
    prices = np.array([step.price_per_kwh for step in series.steps])
    # Integrate the piecewise-constant price (held until the next step starts) over each step.
    knots = np.concatenate([series_starts, [np.inf]])

    def integral_to(moment: np.ndarray) -> np.ndarray:
        index = np.clip(np.searchsorted(series_starts, moment, side="right") - 1, 0, len(prices) - 1)
        before_first = np.minimum(moment - series_starts[0], 0.0) * prices[0]
        widths = np.diff(knots)[:-1] * prices[:-1]
        cumulative = np.concatenate([[0.0], np.cumsum(widths)])
        inside = cumulative[index] + (np.maximum(moment, series_starts[0]) - series_starts[index]) * prices[index]
        return before_first + inside

    return (integral_to(ends_s) - integral_to(starts_s)) / (ends_s - starts_s)


def fit_limits(
    series: LimitSeries | None,
    static_kw: float | None,
    static_a: float | None,
    starts_s: np.ndarray,
    ends_s: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """kW and per-phase A limits per step (inf where none): the smallest in force within the step.

    A series step in kW overrides the static kW limit, one in A the static A limit; where the
    series covers only part of a step, the static limit holds for the rest of it.
    """
    count = len(starts_s)
    length_s = ends_s - starts_s
    limit_kw = np.full(count, np.inf)
    limit_a = np.full(count, np.inf)
    covered_kw = np.zeros(count)
    covered_a = np.zeros(count)
    for step in series.steps if series is not None else []:
        begin, end = step.start.timestamp(), step.end.timestamp()
        overlap_s = np.clip(np.minimum(ends_s, end) - np.maximum(starts_s, begin), 0.0, None)
        overlaps = overlap_s > 0
        if step.limit_kw is not None:
            covered_kw += overlap_s
            limit_kw[overlaps] = np.minimum(limit_kw[overlaps], step.limit_kw)
        if step.limit_a is not None:
            covered_a += overlap_s
            limit_a[overlaps] = np.minimum(limit_a[overlaps], step.limit_a)
    if static_kw is not None:
        uncovered = covered_kw < length_s - 1e-6
        limit_kw[uncovered] = np.minimum(limit_kw[uncovered], static_kw)
    if static_a is not None:
        uncovered = covered_a < length_s - 1e-6
        limit_a[uncovered] = np.minimum(limit_a[uncovered], static_a)
    return limit_kw, limit_a

"""Objective terms (minimised, per column), weighted as documented in `Weights`."""

from __future__ import annotations

import numpy as np

from optimizer.layout import Layout
from optimizer.options import Weights
from optimizer.problem import ProblemData


def tariff_cost(data: ProblemData, weights: Weights) -> np.ndarray:
    """Per power column: normalised price x hours, so a kWh at the dearest step costs the weight."""
    return weights.tariff_per_kwh * data.price_norm[data.col_step] * data.col_hours


def earliness_bonus(data: ProblemData, weights: Weights) -> np.ndarray:
    """Per power column: a reward falling linearly from the first step to the last (tie-break)."""
    lateness = data.col_step / max(data.step_count, 1)
    return -weights.earliness_per_kwh * (1.0 - lateness) * data.col_hours


def shortfall_penalty(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    """Per shortfall segment: priority x weight per kWh, rising a little with each segment.

    The segments split a session's shortfall into equal slices of its request; a slightly higher
    price for later slices is a convex penalty, so equal sessions end with equal shortfall.
    """
    segments = np.arange(layout.shortfall_segments)
    base = weights.shortfall_per_kwh * data.priority[:, None]
    return (base + weights.fairness_per_kwh * segments[None, :]).ravel()


def fairness_bonus(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    """Per fairness segment: a reward per kW falling with each segment (concave utility).

    Scaled by the step's hours so it is per kWh like the other terms.
    """
    segments = layout.fairness_segments
    slope = (segments - np.arange(segments)) / segments
    hours = data.col_hours[layout.fairness_power_cols]
    return (-weights.fairness_per_kwh * hours[:, None] * slope[None, :]).ravel()


def column_costs(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    return np.concatenate(
        [
            tariff_cost(data, weights) + earliness_bonus(data, weights),
            shortfall_penalty(data, layout, weights),
            fairness_bonus(data, layout, weights),
        ]
    )

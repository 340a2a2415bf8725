"""Objective terms (minimised, per column), weighted as documented in `Weights`.

Per kWh (a kW in a step counts its hours in the session's window): shortfall (priority x 1000,
rising slightly per segment), tariff (normalised price, 0 ... 1), then the tie-breaks: earliness
(up to 0.001), fairness on first-step power (0.001 x a falling slope per segment), the equal-share
reward (0.0001 up to the gun's share of the first step) and stability (0.00002 per kWh of first-step
power away from the limit the gun holds, either way). A kW moved in the first step changes the
stability term by at most 2 x 0.00002 x hours, against at least 10 x hours for a kWh short: it
never buys a shortfall, and it outweighs a price difference only below about 0.002 % of the
horizon's price spread (the tie-breaks together: about 0.2 %). It is below the equal-share reward
(0.0001 > 2 x 0.00002) and the fairness slope steps (0.001 / 8): where fairness prefers a plan,
fairness wins, so a new car still gets its share and unequal limits held still become equal; it
only chooses among plans fairness finds equal.
"""

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


def equal_share_bonus(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    """Per fairness gun: a reward per kW of first-step power up to its equal share (per kWh).

    With the fairness reward it makes the gun's utility kink at its share, so equal guns under
    a limit they share are best off exactly equal: a kW moved from one to the other loses more
    below the share than it gains above it.
    """
    return -weights.equal_share_per_kwh * data.col_hours[layout.fairness_power_cols]


def stability_penalty(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    """Per fairness gun, for its kW above then below the limit it holds: the weight per kWh (0 for
    a gun that holds none)."""
    hours = data.col_hours[layout.fairness_power_cols]
    return np.repeat(np.where(layout.holds, weights.stability_per_kwh * hours, 0.0), 2)


def column_costs(data: ProblemData, layout: Layout, weights: Weights) -> np.ndarray:
    return np.concatenate(
        [
            tariff_cost(data, weights) + earliness_bonus(data, weights),
            shortfall_penalty(data, layout, weights),
            fairness_bonus(data, layout, weights),
            equal_share_bonus(data, layout, weights),
            stability_penalty(data, layout, weights),
        ]
    )

"""The readable PuLP model and the production arrays are the same LP: same optimum on random sites.

The sites are small but hit every part of the model: a limit tree two levels deep with kW and
per-phase A limits (static and as a series), single- and three-phase guns wired to rotating
phases, single-phase, three-phase and unknown cars, ampere- and watt-rate stations, partial steps
at both ends of a window, a tariff (or none), priorities, cars that draw less than offered, and
uncontrolled guns reserved as fixed load; and (half the cases) limits the guns hold now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

import numpy as np
import pandas as pd
import pulp
import pytest

from models import Gun, LimitNode, LimitSeries, LimitStep, PriceSeries, RateUnit, Session, Site, SiteSnapshot
from models.allocation import SolverOutcome
from optimizer import OptimizerOptions, allocate
from optimizer.options import Weights
from optimizer.problem import build_problem
from optimizer.readable import build_pulp_model, map_pulp_status, solve_readable

NOW = datetime(2024, 5, 6, 8, 5, tzinfo=UTC)  # not on a quarter hour: the clock need not align
STEP = timedelta(minutes=15)
PHASES: tuple[Literal["L1", "L2", "L3"], ...] = ("L1", "L2", "L3")
CASES = 30


def _gun(rng: np.random.Generator, number: int) -> Gun:
    phases: Literal[1, 3] = 1 if rng.random() < 0.25 else 3
    max_kw = float(rng.choice([3.7, 7.4])) if phases == 1 else float(rng.choice([11.0, 22.0]))
    return Gun(
        station_id=f"cp-{number}",
        max_power_kw=max_kw,
        phases=phases,
        phase=PHASES[int(rng.integers(3))],
        rate_unit=[None, RateUnit.A, RateUnit.W][int(rng.integers(3))],
    )


def _limits(rng: np.random.Generator, rated_kw: float) -> dict[str, float | None]:
    """A kW limit, a per-phase A limit, both or neither, each well below what the guns could draw."""
    limit_kw = round(rated_kw * rng.uniform(0.2, 0.8), 2) if rng.random() < 0.7 else None
    limit_a = round(rated_kw * 1000 / 690 * rng.uniform(0.2, 0.9), 1) if rng.random() < 0.6 else None
    return {"limit_kw": limit_kw, "limit_a": limit_a}


def _site(rng: np.random.Generator) -> Site:
    guns = [_gun(rng, number) for number in range(int(rng.integers(1, 9)))]
    feeder_of = rng.integers(-1, int(rng.integers(1, 4)), len(guns))  # -1: straight under the root
    feeders = []
    for f in range(int(feeder_of.max()) + 1):
        members = [gun for gun, owner in zip(guns, feeder_of, strict=True) if owner == f]
        rated = sum(gun.max_power_kw for gun in members) or 1.0
        feeders.append(LimitNode(id=f"feeder {f}", guns=members, **_limits(rng, rated)))
    root_guns = [gun for gun, owner in zip(guns, feeder_of, strict=True) if owner < 0]
    rated = sum(gun.max_power_kw for gun in guns)
    return Site(id="random", root=LimitNode(id="grid", guns=root_guns, children=feeders, **_limits(rng, rated)))


def _session(rng: np.random.Generator, gun: Gun, horizon_h: float) -> Session:
    arrival_h = rng.uniform(-2.0, horizon_h)
    departure_h = max(arrival_h + rng.uniform(0.2, 5.0), 0.1)
    observed = float(rng.uniform(0.0, 6.0)) if rng.random() < 0.3 else None
    return Session(
        gun_id=gun.id,
        arrival=NOW + timedelta(hours=arrival_h),
        departure=NOW + timedelta(hours=departure_h),
        energy_requested_kwh=round(float(rng.exponential(4.0)), 2) if rng.random() < 0.9 else None,
        energy_delivered_kwh=round(float(rng.uniform(0.0, 1.0)), 2),
        observed_power_kw=observed,
        offered_power_kw=observed + float(rng.uniform(0.0, 8.0)) if observed is not None else None,
        ev_phases=[None, 1, 3][int(rng.integers(3))],
        ev_max_power_kw=float(rng.choice([4.6, 7.4, 11.0])) if rng.random() < 0.3 else None,
        priority=float(rng.choice([0.5, 1.0, 1.0, 2.0, 5.0])),
        controllable=bool(rng.random() < 0.85),
    )


def _tariff(rng: np.random.Generator, steps: int) -> PriceSeries | None:
    if rng.random() < 0.15:
        return None
    index = pd.date_range(NOW - timedelta(minutes=35), periods=steps // 2 + 3, freq="30min")
    return PriceSeries.from_series(pd.Series(np.round(rng.uniform(0.1, 0.5, len(index)), 4), index=index))


def _grid_series(rng: np.random.Generator, site: Site, steps: int) -> dict[str, LimitSeries]:
    if rng.random() < 0.6:
        return {}
    begin = NOW + STEP * float(rng.uniform(0.0, steps))
    end = begin + timedelta(minutes=float(rng.uniform(10.0, 120.0)))
    rated = sum(gun.max_power_kw for gun in site.guns().values())
    step = LimitStep(start=begin, end=end, limit_kw=round(rated * rng.uniform(0.05, 0.5), 2))
    return {"grid": LimitSeries(steps=[step])}


def random_snapshot(seed: int) -> SiteSnapshot:
    """A small random site and its sessions: at most 8 guns and 12 steps."""
    rng = np.random.default_rng(seed)
    site = _site(rng)
    steps = int(rng.integers(1, 13))
    sessions = [_session(rng, gun, steps * 0.25) for gun in site.guns().values() if rng.random() < 0.85]
    return SiteSnapshot(
        site=site,
        now=NOW,
        sessions=sessions,
        limit_series=_grid_series(rng, site, steps),
        tariff=_tariff(rng, steps),
        horizon=STEP * steps,
        step=STEP,
    )


def with_held_limits(snapshot: SiteSnapshot, seed: int) -> SiteSnapshot:
    """The snapshot with most of its guns holding a limit (0 to 12 kW, some above what they may draw)."""
    rng = np.random.default_rng(seed + 1000)
    sessions = [
        session.model_copy(update={"held_limit_kw": round(float(rng.uniform(0.0, 12.0)), 2)})
        if rng.random() < 0.7
        else session
        for session in snapshot.sessions
    ]
    return snapshot.model_copy(update={"sessions": sessions})


# The default weights make a kWh short cost 1000 times a kWh at the dearest price, so on sites that
# fall short the tariff terms hide below a relative 1e-6; flat weights make every term count.
WEIGHTS = {
    "default": Weights(),
    "flat": Weights(
        shortfall_per_kwh=1.5,
        earliness_per_kwh=0.1,
        fairness_per_kwh=0.2,
        equal_share_per_kwh=0.05,
        stability_per_kwh=0.02,
    ),
}


@pytest.mark.parametrize("weights", WEIGHTS)
@pytest.mark.parametrize("seed", range(CASES))
def test_readable_model_has_the_same_optimum_as_allocate(seed: int, weights: str) -> None:
    snapshot = random_snapshot(seed) if seed % 2 else with_held_limits(random_snapshot(seed), seed)
    options = OptimizerOptions(time_limit_s=10.0, weights=WEIGHTS[weights])
    allocation = allocate(snapshot, options)
    outcome, objective = solve_readable(snapshot, options, "highs")
    assert outcome is SolverOutcome.OPTIMAL
    assert allocation.solver_outcome is SolverOutcome.OPTIMAL
    assert objective == pytest.approx(allocation.lp_objective, rel=1e-6, abs=1e-7)


def test_random_sites_exercise_every_family() -> None:
    """The cases above are worth something only if they bind phases, trees and fixed load."""
    families = ("energy", "node_kw", "node_a_L1", "node_a_L2", "node_a_L3", "fair", "share", "stable")
    seen: set[str] = set()
    fixed = 0
    for seed in range(CASES):
        snapshot = random_snapshot(seed) if seed % 2 else with_held_limits(random_snapshot(seed), seed)
        data = build_problem(snapshot, OptimizerOptions())
        fixed += len(data.fixed_ids)
        for row in build_pulp_model(data, OptimizerOptions()).constraints():
            seen |= {family for family in families if row.name.startswith(f"{family}_")}
    assert seen == set(families)
    assert fixed > 0


def test_names_read_as_the_equations() -> None:
    """PuLP writes `[`, `]`, `-` and `/` as `_`: energy[cp-4/1] reads energy_cp_4_1_ in an LP file."""
    snapshot = random_snapshot(3)
    data = build_problem(snapshot, OptimizerOptions())
    model = build_pulp_model(data, OptimizerOptions())
    gun = data.gun_ids[0].replace("-", "_").replace("/", "_")
    assert model.get_constraint_by_name(f"energy_{gun}_") is not None
    assert model.get_constraint_by_name("node_kw_grid,0_") is not None
    assert any(variable.name == f"power_kw_{gun},{data.col_step[0]}_" for variable in model.variables())


def test_ids_that_read_alike_keep_distinct_names() -> None:
    """PuLP writes `-` and `_` alike in names; two such guns must still make a valid model."""
    guns = [Gun(station_id=station, max_power_kw=11.0) for station in ("a-b", "a_b")]
    site = Site(id="twins", root=LimitNode(id="grid", limit_kw=10.0, guns=guns))
    sessions = [
        Session(gun_id=gun.id, arrival=NOW - timedelta(hours=1), departure=NOW + timedelta(hours=2)) for gun in guns
    ]
    snapshot = SiteSnapshot(site=site, now=NOW, sessions=sessions, horizon=timedelta(hours=2))
    outcome, objective = solve_readable(snapshot)
    assert outcome is SolverOutcome.OPTIMAL
    assert objective == pytest.approx(allocate(snapshot).lp_objective, rel=1e-6, abs=1e-7)


def test_an_empty_site_is_optimal_at_zero() -> None:
    site = Site(id="empty", root=LimitNode(id="grid", limit_kw=10.0, guns=[Gun(station_id="cp", max_power_kw=11.0)]))
    assert solve_readable(SiteSnapshot(site=site, now=NOW)) == (SolverOutcome.OPTIMAL, 0.0)


def test_cbc_agrees_with_highs() -> None:
    snapshot = random_snapshot(7)
    _, highs = solve_readable(snapshot, solver="highs")
    outcome, cbc = solve_readable(snapshot, solver="cbc")
    assert outcome is SolverOutcome.OPTIMAL
    assert cbc == pytest.approx(highs, rel=1e-6, abs=1e-6)


@pytest.mark.parametrize(
    ("sol_status", "expected"),
    [
        (pulp.LpSolutionOptimal, SolverOutcome.OPTIMAL),
        (pulp.LpSolutionIntegerFeasible, SolverOutcome.FEASIBLE),  # a time-limited run: not proof
        (pulp.LpSolutionInfeasible, SolverOutcome.INFEASIBLE),
        (pulp.LpSolutionNoSolutionFound, SolverOutcome.ERROR),
        (pulp.LpSolutionUnbounded, SolverOutcome.ERROR),
    ],
)
def test_only_the_solution_status_proves_optimality(sol_status: int, expected: SolverOutcome) -> None:
    assert map_pulp_status(sol_status) is expected

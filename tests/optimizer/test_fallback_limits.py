"""Failsafe limits: they fit every node together, skip no minimum, leave no room unused, repeat.

The properties recompute each node's limit in the window, each gun's ceiling and the loads here,
in plain loops, rather than trusting the module's arrays. The exact cases are worked by hand in
their comments (230 V: 1 kW is 1000/690 = 1.449 A per phase balanced, 1000/230 = 4.348 A on one).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings

from models import Gun, GunKind, LimitNode, LimitSeries, LimitStep, RateUnit, Site, SnapshotError
from models.site import PHASES, Phase
from optimizer import fallback_limits
from optimizer.fallback_limits import FallbackLimits
from tests.optimizer.fallback_strategies import FallbackCase, fallback_cases

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"
NOW = datetime(2024, 3, 1, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)
TOL = 1e-6


# --- an independent reading of the case -------------------------------------------------------


def in_window(case: FallbackCase, key: str, static_kw: float | None, static_a: float | None) -> tuple[float, float]:
    """Smallest kW and A limits in force at some moment of the window (static ones always count)."""
    kw = [static_kw]
    a = [static_a]
    series = case.limit_series.get(key)
    for step in series.steps if series is not None else []:
        if case.now is None or (step.start < case.now + case.hold and step.end > case.now):
            kw.append(step.limit_kw)
            a.append(step.limit_a)
    return smallest(kw), smallest(a)


def smallest(limits: list[float | None]) -> float:
    return min((limit for limit in limits if limit is not None), default=math.inf)


def considered(case: FallbackCase) -> list[str]:
    return sorted(case.site.guns() if case.gun_ids is None else case.gun_ids)


def ceiling_kw(case: FallbackCase, gun: Gun) -> float:
    limit_kw, limit_a = in_window(case, gun.id, None, None)
    return min(gun.max_kw(None), limit_kw, limit_a / max(gun.phase_current_a_per_kw(None).values()))


def node_loads(case: FallbackCase, power_kw: dict[str, float]) -> dict[str, tuple[float, dict[Phase, float]]]:
    """Per node: the kW of the considered guns under it and their worst-case A on each phase."""
    guns = case.site.guns()
    loads: dict[str, tuple[float, dict[Phase, float]]] = {}
    for node_id in case.site.nodes():
        kw, a = 0.0, dict.fromkeys(PHASES, 0.0)
        for gun_id, path in case.site.ancestors().items():
            if node_id in path and gun_id in power_kw:
                kw += power_kw[gun_id]
                for phase, per_kw in guns[gun_id].phase_current_a_per_kw(None).items():
                    a[phase] += power_kw[gun_id] * per_kw
        loads[node_id] = (kw, a)
    return loads


def breaks_a_node(case: FallbackCase, power_kw: dict[str, float], gun_id: str, more_kw: float) -> bool:
    """Whether `more_kw` more on `gun_id` takes some node of its path over its kW or a phase limit."""
    gun = case.site.guns()[gun_id]
    nodes = case.site.nodes()
    loads = node_loads(case, power_kw)
    for node_id in case.site.ancestors()[gun_id]:
        limit_kw, limit_a = in_window(case, node_id, nodes[node_id].limit_kw, nodes[node_id].limit_a)
        kw, a = loads[node_id]
        if kw + more_kw > limit_kw + 1e-9:
            return True
        for phase, per_kw in gun.phase_current_a_per_kw(None).items():
            if per_kw > 0 and a[phase] + more_kw * per_kw > limit_a + 1e-9:
                return True
    return False


def run(case: FallbackCase) -> FallbackLimits:
    return fallback_limits(case.site, case.gun_ids, case.limit_series, case.now, case.hold)


# --- properties ---------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fallback_cases())
def test_fallbacks_fit_skip_no_minimum_and_leave_no_room(case: FallbackCase) -> None:
    """The three safety and quality properties, checked on the same cases (drawing sites is the cost)."""
    limits = run(case)
    assert sorted(limits.kw) == considered(case)
    check_every_node_fits(case, limits)
    check_zero_or_minimum_to_ceiling(case, limits)
    check_no_gun_can_get_more(case, limits)


def check_every_node_fits(case: FallbackCase, limits: FallbackLimits) -> None:
    """The sum of the fallbacks fits every node in kW and on every phase in A."""
    nodes = case.site.nodes()
    for node_id, (kw, a) in node_loads(case, limits.kw).items():
        limit_kw, limit_a = in_window(case, node_id, nodes[node_id].limit_kw, nodes[node_id].limit_a)
        assert kw <= limit_kw + TOL, node_id
        for phase in PHASES:
            assert a[phase] <= limit_a + TOL, (node_id, phase)


def check_zero_or_minimum_to_ceiling(case: FallbackCase, limits: FallbackLimits) -> None:
    """Never between 0 and the gun's minimum, never above its ceiling; A for AC guns only."""
    guns = case.site.guns()
    for gun_id, limit_kw in limits.kw.items():
        gun = guns[gun_id]
        assert limit_kw == 0.0 or limit_kw >= gun.min_kw(None) - 1e-9, gun_id
        assert limit_kw <= ceiling_kw(case, gun) + 1e-9, gun_id
        if gun.kind is GunKind.AC:
            assert limits.a[gun_id] == pytest.approx(limit_kw * 1000 / (gun.voltage_v * gun.phases))
        else:
            assert gun_id not in limits.a


def check_no_gun_can_get_more(case: FallbackCase, limits: FallbackLimits) -> None:
    """A gun below its ceiling cannot be raised by a hair (or, at 0, to its minimum) without breaking a node."""
    guns = case.site.guns()
    for gun_id, limit_kw in limits.kw.items():
        gun = guns[gun_id]
        ceiling = ceiling_kw(case, gun)
        if ceiling < gun.min_kw(None) - 1e-9 or limit_kw >= ceiling - TOL:
            continue  # it can only be 0, or it is full
        more_kw = max(TOL, gun.min_kw(None) - limit_kw)
        assert breaks_a_node(case, limits.kw, gun_id, more_kw), gun_id


@settings(max_examples=100, deadline=None)
@given(fallback_cases())
def test_the_same_question_gets_the_same_answer_in_any_order(case: FallbackCase) -> None:
    first = run(case)
    reordered = FallbackCase(
        site=case.site,
        gun_ids=list(reversed(considered(case))),
        limit_series=dict(reversed(case.limit_series.items())),
        now=case.now,
        hold=case.hold,
    )
    assert run(case) == first
    assert run(reordered).kw == first.kw


@settings(max_examples=100, deadline=None)
@given(fallback_cases())
def test_with_kw_limits_only_the_most_minimums_are_kept(case: FallbackCase) -> None:
    """Against every subset: no other choice of guns at their minimum keeps more of them."""
    data = case.site.model_dump()
    for node in _walk(data["root"]):
        node["limit_a"] = None
    site = Site.model_validate(data)
    guns = [gun for gun in site.guns().values() if gun.min_kw(None) > 0]
    assume(len(guns) <= 12)
    limits = fallback_limits(site)
    kept = sum(limits.kw[gun.id] > 0 for gun in guns)
    ancestors = site.ancestors()
    rows = [
        (node.limit_kw, np.array([node.id in ancestors[gun.id] for gun in guns], dtype=float))
        for node in site.nodes().values()
        if node.limit_kw is not None
    ]
    minimum_kw = np.array([gun.min_kw(None) for gun in guns])
    subsets = ((np.arange(2 ** len(guns))[:, None] >> np.arange(len(guns))) & 1).astype(float)
    feasible = np.ones(len(subsets), dtype=bool)
    for limit_kw, under in rows:
        feasible &= subsets @ (under * minimum_kw) <= limit_kw + 1e-9
    assert kept == int(subsets[feasible].sum(axis=1).max())


def _walk(node: dict) -> list[dict]:
    return [node, *(descendant for child in node["children"] for descendant in _walk(child))]


# --- exact cases --------------------------------------------------------------------------------


def test_example_site() -> None:
    """150 kW root; a 100 kW feeder with six 22 kW AC guns; two 50 kW DC guns on the root.

    Every gun rises together (level L). The feeder fills first, at 6 L = 100: L = 16.667 kW
    (the root then carries 8 L = 133.3 < 150). The AC guns stop there (16.667 kW = 24.155 A per
    phase at 3 x 230 V); the DC guns go on until the root is full: 100 + 2 L = 150, L = 25 kW.
    """
    site = Site.from_yaml(EXAMPLE_SITE)
    limits = fallback_limits(site)
    for station in ["AC01", "AC02", "AC03", "AC04", "AC05", "AC06"]:
        assert limits.kw[f"{station}/1"] == pytest.approx(100 / 6)
        assert limits.a[f"{station}/1"] == pytest.approx(100 / 6 * 1000 / 690)
    assert limits.kw["DC01/1"] == pytest.approx(25.0)
    assert limits.kw["DC02/1"] == pytest.approx(25.0)
    assert limits.valid_until is None
    frame = limits.to_frame()
    assert list(frame.columns) == ["limit_kw", "limit_a"]
    assert frame.loc["AC01/1", "limit_a"] == pytest.approx(24.154589)
    assert frame["limit_a"].isna()["DC01/1"]


def test_only_the_guns_asked_for_share_the_site() -> None:
    """Three AC guns and one DC gun: 3 x 22 = 66 kW fits the feeder, 66 + 50 = 116 the root: all full."""
    site = Site.from_yaml(EXAMPLE_SITE)
    limits = fallback_limits(site, ["DC01/1", "AC03/1", "AC01/1", "AC02/1"])
    assert limits.kw == pytest.approx({"AC01/1": 22.0, "AC02/1": 22.0, "AC03/1": 22.0, "DC01/1": 50.0})


def one_phase(station_id: str, phase: Phase) -> Gun:
    return Gun(station_id=station_id, max_power_kw=7.4, phases=1, phase=phase)


def test_single_phase_guns_share_their_phase() -> None:
    """32 A per phase; three 7.4 kW single-phase guns on L1, one on L2.

    L1: 3 guns at 32 / 3 = 10.667 A each, 10.667 x 0.23 = 2.453 kW. L2: one gun alone, its phase
    full at 32 A = 7.36 kW, just under its 7.4 kW rating. L3 carries nothing.
    """
    root = LimitNode(
        id="board",
        limit_a=32,
        guns=[one_phase("P1", "L1"), one_phase("P2", "L1"), one_phase("P3", "L1"), one_phase("P4", "L2")],
    )
    limits = fallback_limits(Site(id="site", root=root))
    for gun_id in ["P1/1", "P2/1", "P3/1"]:
        assert limits.a[gun_id] == pytest.approx(32 / 3)
        assert limits.kw[gun_id] == pytest.approx(32 / 3 * 0.23)
    assert limits.a["P4/1"] == pytest.approx(32.0)
    assert limits.kw["P4/1"] == pytest.approx(7.36)


def test_a_watt_rate_gun_is_counted_at_its_worst_phase() -> None:
    """32 A per phase, one 22 kW three-phase gun wired to L1.

    Steered in A, the station caps each phase: 22 kW is 31.9 A per phase, it gets its 22 kW. Steered
    in W, a single-phase car may put it all on L1: 32 A x 230 V = 7.36 kW (10.667 A per phase).
    """
    for unit, expected_kw in [(RateUnit.A, 22.0), (RateUnit.W, 7.36)]:
        gun = Gun(station_id="W1", max_power_kw=22, phases=3, phase="L1", rate_unit=unit)
        limits = fallback_limits(Site(id="site", root=LimitNode(id="board", limit_a=32, guns=[gun])))
        assert limits.kw["W1/1"] == pytest.approx(expected_kw)
        assert limits.a["W1/1"] == pytest.approx(expected_kw * 1000 / 690)


def test_when_not_every_minimum_fits_the_fewest_get_zero() -> None:
    """20 A per phase, four 11 kW three-phase guns with 6 A minimums: three fit (18 A), the fourth
    (last by id) gets 0. The three share 20 A: 6.667 A = 4.6 kW each."""
    guns = [Gun(station_id=f"A{k}", max_power_kw=11, phases=3) for k in range(1, 5)]
    limits = fallback_limits(Site(id="site", root=LimitNode(id="board", limit_a=20, guns=guns)))
    assert limits.kw["A4/1"] == 0.0
    assert limits.a["A4/1"] == 0.0
    for gun_id in ["A1/1", "A2/1", "A3/1"]:
        assert limits.a[gun_id] == pytest.approx(20 / 3)
        assert limits.kw[gun_id] == pytest.approx(4.6)


def test_the_smaller_minimums_are_kept_to_keep_more_guns() -> None:
    """10 kW for DC guns with minimums 6, 3 and 3 kW: D1 first by id would leave room for one more;
    the 3 kW pair keeps two guns, at 5 kW each; D1 gets 0."""
    guns = [
        Gun(station_id=station, kind=GunKind.DC, max_power_kw=50, min_power_kw=minimum)
        for station, minimum in [("D1", 6.0), ("D2", 3.0), ("D3", 3.0)]
    ]
    limits = fallback_limits(Site(id="site", root=LimitNode(id="grid", limit_kw=10, guns=guns)))
    assert limits.kw == pytest.approx({"D1/1": 0.0, "D2/1": 5.0, "D3/1": 5.0})
    assert limits.a == {}


def dc_site(limit_kw: float) -> Site:
    guns = [
        Gun(station_id="D1", kind=GunKind.DC, max_power_kw=50),
        Gun(station_id="D2", kind=GunKind.DC, max_power_kw=50),
    ]
    return Site(id="site", root=LimitNode(id="grid", limit_kw=limit_kw, guns=guns))


def test_limits_in_force_during_the_hold_count() -> None:
    """Static 100 kW; within the next 24 h a 40 kW step (steps before now or after 24 h do not count).

    Two 50 kW DC guns share 40 kW: 20 each. With D1 held to 15 kW by its own series, D2 gets the
    rest: 25 kW. Without `now` every step counts, the 1 kW one too: 0.5 kW each.
    """
    grid = LimitSeries(
        steps=[
            LimitStep(start=NOW - 2 * HOUR, end=NOW - HOUR, limit_kw=5),
            LimitStep(start=NOW + HOUR, end=NOW + 2 * HOUR, limit_kw=40),
            LimitStep(start=NOW + 30 * HOUR, end=NOW + 31 * HOUR, limit_kw=1),
        ]
    )
    d1 = LimitSeries(steps=[LimitStep(start=NOW + 3 * HOUR, end=NOW + 4 * HOUR, limit_kw=15)])
    site = dc_site(100)
    limits = fallback_limits(site, limit_series={"grid": grid}, now=NOW)
    assert limits.kw == pytest.approx({"D1/1": 20.0, "D2/1": 20.0})
    assert limits.valid_until == NOW + 24 * HOUR
    limits = fallback_limits(site, limit_series={"grid": grid, "D1/1": d1}, now=NOW)
    assert limits.kw == pytest.approx({"D1/1": 15.0, "D2/1": 25.0})
    assert limits.station_kw(site) == pytest.approx({"D1": 15.0, "D2": 25.0})
    limits = fallback_limits(site, limit_series={"grid": grid, "D1/1": d1})
    assert limits.kw == pytest.approx({"D1/1": 0.5, "D2/1": 0.5})


def test_the_static_limit_counts_even_under_a_higher_series() -> None:
    """A 120 kW step covers the whole window, but after it the static 60 kW holds again: 30 kW each."""
    raised = LimitSeries(steps=[LimitStep(start=NOW - HOUR, end=NOW + 25 * HOUR, limit_kw=120)])
    limits = fallback_limits(dc_site(60), limit_series={"grid": raised}, now=NOW)
    assert limits.kw == pytest.approx({"D1/1": 30.0, "D2/1": 30.0})


def test_station_cap_adds_its_guns() -> None:
    """One station with two 11 kW EVSEs under 20 kW: 10 kW each, 20 kW for the station."""
    guns = [Gun(station_id="S", evse_id=evse, max_power_kw=11) for evse in (1, 2)]
    site = Site(id="site", root=LimitNode(id="grid", limit_kw=20, guns=guns))
    limits = fallback_limits(site)
    assert limits.kw == pytest.approx({"S/1": 10.0, "S/2": 10.0})
    assert limits.station_kw(site) == pytest.approx({"S": 20.0})


def test_bad_questions_are_refused() -> None:
    site = dc_site(100)
    series = LimitSeries(steps=[LimitStep(start=NOW, end=NOW + HOUR, limit_kw=1)])
    with pytest.raises(SnapshotError, match="unknown guns"):
        fallback_limits(site, ["D9/1"])
    with pytest.raises(SnapshotError, match="unknown nodes"):
        fallback_limits(site, limit_series={"feeder": series}, now=NOW)
    with pytest.raises(ValueError, match="hold must be positive"):
        fallback_limits(site, now=NOW, hold=timedelta(0))
    with pytest.raises(ValueError, match="time-zone aware"):
        fallback_limits(site, now=datetime(2024, 3, 1, 12))

"""Tiny sites with a hand-computed optimum: objective values and per-gun power where unique.

The objective (optimizer/options.py `Weights`, optimizer/objective.py), with h the hours of a
step, T the number of steps, t the step index and k a segment index:
  shortfall   1000 x priority per kWh short, + 0.001 x k per kWh in shortfall segment k
              (4 segments, each a quarter of the session's energy wanted)
  tariff      1 x normalised price (cheapest step 0, dearest 1) per kWh
  earliness   -0.001 x (1 - t / T) per kWh
  fairness    -0.001 x h x (8 - k) / 8 per kW of first-step power in segment k
              (8 segments, each 1/8 of the gun's first-step cap)
  share       -0.0001 x h per kW of first-step power up to the gun's equal share (max-min fair
              share of the first step, capped by what the car wants then)
  stability   0.00002 x h per kW of first-step power away from the limit the gun holds (if told)
A full fairness fill is sum (8..1) / 8 = 4.5 widths; half of it (4 segments) is 26/8 widths.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from models import (
    Gun,
    GunKind,
    LimitNode,
    LimitSeries,
    LimitStep,
    Session,
    Site,
    SiteSnapshot,
    SolveStatus,
    TimeOfUseBand,
    TimeOfUseTariff,
)
from optimizer import OptimizerOptions, allocate

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
HOUR = timedelta(hours=1)


def dc_gun(station_id: str, max_power_kw: float = 11.0) -> Gun:
    """A DC gun without a minimum, so that no repair interferes with the arithmetic."""
    return Gun(station_id=station_id, kind=GunKind.DC, max_power_kw=max_power_kw)


def ac_gun(station_id: str, max_power_kw: float = 11.0, phase: str = "L1") -> Gun:
    return Gun(station_id=station_id, max_power_kw=max_power_kw, phases=3, phase=phase)


def site_of(root: LimitNode, timezone: str = "UTC") -> Site:
    return Site(id="site", timezone=timezone, root=root)


def session(gun_id: str, energy_kwh: float, hours: float = 8.0, **fields: object) -> Session:
    return Session(
        gun_id=gun_id,
        arrival=NOW - HOUR,
        departure=NOW + timedelta(hours=hours),
        energy_requested_kwh=energy_kwh,
        **fields,
    )


def snapshot_of(site: Site, sessions: list[Session], steps: int = 1, **fields: object) -> SiteSnapshot:
    return SiteSnapshot(site=site, now=NOW, sessions=sessions, horizon=steps * HOUR, step=HOUR, **fields)


def powers(allocation: object, gun_id: str) -> list[float]:
    return allocation.power_kw[gun_id].tolist()  # type: ignore[attr-defined]


def assert_solved(allocation: object) -> None:
    assert allocation.status is SolveStatus.OPTIMAL, allocation.warnings  # type: ignore[attr-defined]


def test_priority_car_gets_its_energy_first_and_shortfall_falls_on_priority_one() -> None:
    # Root 15 kW, two 11 kW guns, each car wants 11 kWh in one 1 h step; A has priority 2.
    # A kWh moved from A to B costs 2000 - 1000 > 0, so A = 11 kW, B = 4 kW, B short 7 kWh.
    # shortfall B: 1000 x 7 + 0.001 x (0 x 2.75 + 1 x 2.75 + 2 x 1.5)          = 7000.00575
    # earliness: -0.001 x (11 + 4)                                              =   -0.015
    # fairness (width 11/8 = 1.375): A full 1.375 x 4.5 = 6.1875               =   -0.0061875
    #   B 4 kW: 1.375 x (1 + 7/8) + 1.25 x 6/8 = 3.515625                       =   -0.003515625
    # share (7.5 kW each): -0.0001 x (7.5 + 4)                                  =   -0.00115
    # total 7000.00575 - 0.015 - 0.0061875 - 0.003515625 - 0.00115              = 6999.979896875
    site = site_of(LimitNode(id="grid", limit_kw=15, guns=[dc_gun("A"), dc_gun("B")]))
    allocation = allocate(snapshot_of(site, [session("A/1", 11, priority=2), session("B/1", 11)]))
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx([11.0])
    assert powers(allocation, "B/1") == pytest.approx([4.0])
    assert allocation.objective == pytest.approx(6999.979896875, abs=1e-7)
    assert allocation.priority_rank == {"A/1": 1, "B/1": 2}
    short = allocation.shortfalls()
    assert list(short.index) == ["B/1"]
    assert short.loc["B/1", "shortfall_kwh"] == pytest.approx(7.0)
    assert "node grid" in allocation.explanations["B/1"]
    assert "maximum" in allocation.explanations["A/1"]
    assert "priority 2" in allocation.explanations["A/1"]


@pytest.mark.parametrize(
    ("timezone", "expected", "objective"),
    [
        # UTC: steps 22, 23, 00, 01 h cost 0.3, 0.3, 0.1, 0.1 -> normalised 1, 1, 0, 0.
        # 15 kWh on an 11 kW gun: 11 kWh at step 2 and 4 at step 3 (cheap, earliest first).
        # earliness: -0.001 x (0.5 x 11 + 0.25 x 4) = -0.0065; tariff 0; fairness 0 (p0 = 0).
        ("UTC", [0.0, 0.0, 11.0, 4.0], -0.0065),
        # Amsterdam (UTC+1 in January): local hours 23, 00, 01, 02 -> normalised 1, 0, 0, 0.
        # earliness: -0.001 x (0.75 x 11 + 0.5 x 4) = -0.01025.
        ("Europe/Amsterdam", [0.0, 11.0, 4.0, 0.0], -0.01025),
    ],
)
def test_cheap_night_steps_get_the_flexible_energy(timezone: str, expected: list[float], objective: float) -> None:
    now = datetime(2024, 1, 15, 22, tzinfo=UTC)
    tariff = TimeOfUseTariff(
        default_price_per_kwh=0.30, bands=[TimeOfUseBand(start_hour=0, end_hour=6, price_per_kwh=0.10)]
    )
    site = site_of(LimitNode(id="grid", limit_kw=50, guns=[dc_gun("A")]), timezone)
    snapshot = SiteSnapshot(
        site=site,
        now=now,
        sessions=[Session(gun_id="A/1", arrival=now, departure=now + timedelta(hours=10), energy_requested_kwh=15)],
        tariff=tariff.to_price_series(now, now + 4 * HOUR, timezone),
        horizon=4 * HOUR,
        step=HOUR,
    )
    allocation = allocate(snapshot)
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx(expected, abs=1e-9)
    assert allocation.objective == pytest.approx(objective, abs=1e-9)
    assert "cheaper" in allocation.explanations["A/1"]


def test_equal_guns_with_equal_needs_split_the_first_step_equally() -> None:
    # Root 11 kW, two 11 kW AC guns, each car wants 11 kWh in two 1 h steps: all capacity is
    # needed, so p_A0 + p_B0 = 11 and p_A1 = 11 - p_A0. Fairness is concave with breakpoints at
    # multiples of 1.375 kW; 5.5 is one (4 segments), so 5.5 / 5.5 is the unique optimum.
    # earliness: -0.001 x (1 x 11 + 0.5 x 11)                                   = -0.0165
    # fairness: 2 x 1.375 x 26/8 = 8.9375                                         = -0.0089375
    # share (5.5 kW each): -0.0001 x 11                                           = -0.0011
    # total                                                                       = -0.0265375
    site = site_of(LimitNode(id="grid", limit_kw=11, guns=[ac_gun("A"), ac_gun("B")]))
    allocation = allocate(snapshot_of(site, [session("A/1", 11), session("B/1", 11)], steps=2))
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx([5.5, 5.5])
    assert powers(allocation, "B/1") == pytest.approx([5.5, 5.5])
    assert allocation.objective == pytest.approx(-0.0265375, abs=1e-9)
    assert allocation.shortfalls().empty


@pytest.mark.parametrize("segments", [4, 8])
def test_fair_shares_are_exactly_equal_between_segment_edges(segments: int) -> None:
    # Root 10 kW, three 11 kW DC guns wanting 30 kWh each in one step: every kWh is short, the
    # shortfalls all sit in their last segment (22.5 to 30 kWh, same marginal), so only fairness
    # splits the 10 kW. 10/3 kW is no segment edge: the fairness slices alone would leave any
    # split within one segment a tie; the equal-share reward kinks at 10/3, so it is exact.
    # shortfall: 1000 x 80 + 0.001 x (3 x (0 + 7.5 + 15) + 3 x (80/3 - 22.5))    = 80000.105
    # earliness: -0.001 x 10                                                      = -0.01
    # fairness: segments 0, 1 full for all (3 x 1.375 x 15/8) + 1.75 at 6/8       = -0.009046875
    # share: -0.0001 x 10                                                         = -0.001
    guns = [dc_gun(name) for name in "ABC"]
    site = site_of(LimitNode(id="grid", limit_kw=10, guns=guns))
    options = OptimizerOptions(fairness_segments=segments)
    allocation = allocate(snapshot_of(site, [session(gun.id, 30) for gun in guns]), options)
    assert_solved(allocation)
    first = allocation.power_kw.iloc[0].to_numpy()
    assert first == pytest.approx([10 / 3] * 3, abs=1e-9)
    if segments == 8:
        assert allocation.objective == pytest.approx(80000.084953125, abs=1e-7)


def test_single_phase_cars_on_three_phase_guns_share_their_phase() -> None:
    # Root 32 A per phase, no kW limit. Three 22.08 kW (32 A) three-phase guns; A and B wired
    # with their L1 on grid L1, C on grid L2; all cars single-phase: each may take 32 A x 230 V
    # = 7.36 kW, all of it on its gun's phase. L1: (p_A + p_B) x 1000/230 <= 32 -> 7.36 kW for
    # both; the shortfalls (16.32 kWh each) sit in one segment, so fairness splits: 3.68 kW each
    # (a breakpoint, 4 of 8 segments of 0.92 kW). C on L2 is unaffected: 7.36 kW.
    # shortfall: 1000 x (16.32 + 16.32 + 12.64) + 0.001 x (2 x (5 + 10 + 3 x 1.32) + (5 + 2 x 2.64))
    #          = 45280 + 0.03792 + 0.01028
    # earliness: -0.001 x 14.72; fairness: -0.001 x (2 x 0.92 x 26/8 + 0.92 x 4.5) = -0.01012
    # share (3.68, 3.68, 7.36: the phase L1 shared by A and B): -0.0001 x 14.72   = -0.001472
    # total 45280.021888
    guns = [ac_gun("A", 22.08, "L1"), ac_gun("B", 22.08, "L1"), ac_gun("C", 22.08, "L2")]
    site = site_of(LimitNode(id="grid", limit_a=32, guns=guns))
    sessions = [session(gun.id, 20, ev_phases=1) for gun in guns]
    allocation = allocate(snapshot_of(site, sessions))
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx([3.68])
    assert powers(allocation, "B/1") == pytest.approx([3.68])
    assert powers(allocation, "C/1") == pytest.approx([7.36])
    assert allocation.objective == pytest.approx(45280.021888, abs=1e-7)
    assert allocation.limits_now["A/1"].limit_a == pytest.approx(16.0)
    assert allocation.limits_now["A/1"].phases == 1
    assert allocation.limits_now["C/1"].limit_a == pytest.approx(32.0)
    assert allocation.headroom_a.loc[allocation.headroom_a.index[0], "grid"] == pytest.approx(0.0, abs=1e-6)
    assert "node grid on L1" in allocation.explanations["A/1"]


def test_power_a_car_does_not_draw_goes_to_the_other_gun() -> None:
    # Root 22 kW, two 22.08 kW AC guns, both cars want 40 kWh in one 1 h step. A was offered
    # 11 kW but drew 3: its step-0 cap is 3 x 1.1 + 1 = 4.3 kW (above its 4.14 kW minimum).
    # A kWh to A saves a shortfall segment 3 (A short 35.7) over B's segment 2: A = 4.3, B = 17.7.
    # shortfall: 1000 x 58 + 0.001 x ((10 + 20 + 3 x 5.7) + (10 + 2 x 2.3))       = 58000.0617
    # earliness: -0.001 x 22                                                      = -0.022
    # fairness: A full 0.5375 x 4.5 = 2.41875; B 2.76 x 33/8 + 1.14 x 2/8 = 11.67 = -0.01408875
    # share (A 4.3 at its cap, B the other 17.7): -0.0001 x 22                    = -0.0022
    # total 58000.02341125
    site = site_of(LimitNode(id="grid", limit_kw=22, guns=[ac_gun("A", 22.08), ac_gun("B", 22.08)]))
    sessions = [session("A/1", 40, observed_power_kw=3.0, offered_power_kw=11.0), session("B/1", 40)]
    allocation = allocate(snapshot_of(site, sessions))
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx([4.3])
    assert powers(allocation, "B/1") == pytest.approx([17.7])
    assert allocation.objective == pytest.approx(58000.02341125, abs=1e-7)
    assert allocation.limits_now["A/1"].limit_a == pytest.approx(4.3 * 1000 / 690)


def test_undrawn_cap_holds_only_in_the_first_step_and_not_inside_the_deadband() -> None:
    site = site_of(LimitNode(id="grid", limit_kw=22, guns=[ac_gun("A", 22.08), ac_gun("B", 22.08)]))
    capped = allocate(
        snapshot_of(site, [session("A/1", 80, observed_power_kw=3.0, offered_power_kw=11.0), session("B/1", 80)], 2)
    )
    # Over two steps A may take its energy later: at most the cap now, the rest to B; uncapped next.
    assert powers(capped, "A/1")[0] <= 4.3 + 1e-6
    assert capped.power_kw.iloc[0].sum() == pytest.approx(22.0)
    assert powers(capped, "A/1")[1] > 4.3 + 1.0
    # Drew 10.8 of 11 kW offered: within the 0.5 kW deadband, no cap; the root splits fairly.
    near = allocate(
        snapshot_of(site, [session("A/1", 40, observed_power_kw=10.8, offered_power_kw=11.0), session("B/1", 40)])
    )
    first = near.power_kw.iloc[0].to_numpy()
    assert first.sum() == pytest.approx(22.0)
    assert abs(first[0] - first[1]) <= 22.08 / 8 + 1e-6


def test_minimum_current_gives_one_car_the_root_rather_than_two_cars_too_little() -> None:
    # Root 6 kW, two 11 kW AC guns with a 6 A minimum (6 x 230 x 3 = 4.14 kW): both cannot
    # draw, so one takes all 6 kW and the other 0 (which one is a tie).
    # shortfall: 1000 x (14 + 20) + 0.001 x ((5 + 2 x 4) + (5 + 10 + 15))        = 34000.043
    # earliness: -0.001 x 6; fairness: -0.001 x (1.375 x 26/8 + 0.5 x 4/8)        = -0.01071875
    # share (3 kW each; the minimum is not reckoned with): -0.0001 x 3             = -0.0003
    # total 34000.03198125
    site = site_of(LimitNode(id="grid", limit_kw=6, guns=[ac_gun("A"), ac_gun("B")]))
    allocation = allocate(snapshot_of(site, [session("A/1", 20), session("B/1", 20)]))
    assert_solved(allocation)
    assert sorted(allocation.power_kw.iloc[0].tolist()) == pytest.approx([0.0, 6.0])
    assert allocation.objective == pytest.approx(34000.03198125, abs=1e-7)


@pytest.mark.parametrize("cars", [2, 3, 4])
@pytest.mark.parametrize("root_kw", [4.5, 6.0, 7.5, 8.2])
def test_minimum_current_never_wastes_a_root_that_fits_one_car(cars: int, root_kw: float) -> None:
    # Below 2 x 4.14 = 8.28 kW only one car fits at its minimum: it must get the whole root
    # (up to its 11 kW), every other car 0, and no limit between 0 and 4.14 kW.
    guns = [ac_gun(f"G{i}") for i in range(cars)]
    site = site_of(LimitNode(id="grid", limit_kw=root_kw, guns=guns))
    allocation = allocate(snapshot_of(site, [session(gun.id, 20) for gun in guns]))
    assert_solved(allocation)
    first = sorted(allocation.power_kw.iloc[0].tolist(), reverse=True)
    assert first == pytest.approx([root_kw] + [0.0] * (cars - 1), abs=1e-6)


def test_two_cars_that_fit_at_their_minimum_both_charge() -> None:
    # 9 kW fits two cars at 4.14 kW: both charge, neither between 0 and 4.14, the root full.
    site = site_of(LimitNode(id="grid", limit_kw=9, guns=[ac_gun("A"), ac_gun("B")]))
    allocation = allocate(snapshot_of(site, [session("A/1", 20), session("B/1", 20)]))
    first = allocation.power_kw.iloc[0].to_numpy()
    assert np.all(first >= 4.14 - 1e-6)
    assert first.sum() == pytest.approx(9.0)


def test_uncontrolled_gun_is_reserved_at_its_maximum() -> None:
    # Root 30 kW; an uncontrollable 22.08 kW AC gun is reserved at 22.08 kW, leaving 7.92 kW
    # for a 50 kW DC car that wants 50 kWh (short 42.08 kWh, segments of 12.5 kWh).
    # shortfall: 42080 + 0.001 x (12.5 + 25 + 3 x 4.58)                           = 42080.05124
    # earliness: -0.001 x 7.92; fairness: -0.001 x (6.25 + 1.67 x 7/8)             = -0.01563125
    # share (all 7.92 kW left): -0.0001 x 7.92                                    = -0.000792
    # total 42080.03481675
    site = site_of(LimitNode(id="grid", limit_kw=30, guns=[ac_gun("U", 22.08), dc_gun("D", 50)]))
    sessions = [session("U/1", 20, controllable=False), session("D/1", 50)]
    allocation = allocate(snapshot_of(site, sessions))
    assert_solved(allocation)
    assert powers(allocation, "U/1") == pytest.approx([22.08])
    assert powers(allocation, "D/1") == pytest.approx([7.92])
    assert "U/1" not in allocation.limits_now
    assert allocation.objective == pytest.approx(42080.03481675, abs=1e-7)
    observed = allocate(
        snapshot_of(site, [session("U/1", 20, controllable=False, observed_power_kw=5.0), session("D/1", 50)]),
        OptimizerOptions(uncontrolled_reserve="observed"),
    )
    assert powers(observed, "U/1") == pytest.approx([5.0])
    assert powers(observed, "D/1") == pytest.approx([25.0])


def test_uncontrolled_load_above_a_node_holds_its_guns_at_zero_and_warns() -> None:
    feeder = LimitNode(id="feeder", limit_kw=20, guns=[ac_gun("U", 22.08), dc_gun("D", 50)])
    site = site_of(LimitNode(id="grid", limit_kw=100, children=[feeder], guns=[dc_gun("E", 50)]))
    sessions = [session("U/1", 20, controllable=False), session("D/1", 50), session("E/1", 50)]
    allocation = allocate(snapshot_of(site, sessions))
    assert_solved(allocation)
    assert powers(allocation, "D/1") == [0.0]
    assert powers(allocation, "E/1") == pytest.approx([50.0])  # the root has room for E
    assert any("feeder" in warning for warning in allocation.warnings)
    assert not any("node grid" in warning for warning in allocation.warnings)


def test_limit_series_overrides_the_static_limit_while_it_runs() -> None:
    # Root static 22 kW. Series: 5 kW during step 0; 16 A per phase during step 2
    # (16 x 230 x 3 = 11.04 kW for a balanced DC load; the static 22 kW still applies to kW).
    # A 50 kW DC car wanting 100 kWh takes every kW it may: 5, 22, 11.04.
    series = LimitSeries(
        steps=[
            LimitStep(start=NOW, end=NOW + HOUR, limit_kw=5),
            LimitStep(start=NOW + 2 * HOUR, end=NOW + 3 * HOUR, limit_a=16),
        ]
    )
    site = site_of(LimitNode(id="grid", limit_kw=22, guns=[dc_gun("D", 50)]))
    allocation = allocate(snapshot_of(site, [session("D/1", 100)], steps=3, limit_series={"grid": series}))
    assert_solved(allocation)
    assert powers(allocation, "D/1") == pytest.approx([5.0, 22.0, 11.04])


def test_a_series_covering_part_of_a_step_limits_the_whole_step() -> None:
    # 5 kW from 00:30 to 01:30 touches steps 0 and 1; a gun series of 7 kW caps step 2.
    series = LimitSeries(steps=[LimitStep(start=NOW + HOUR / 2, end=NOW + 1.5 * HOUR, limit_kw=5)])
    gun_series = LimitSeries(steps=[LimitStep(start=NOW + 2 * HOUR, end=NOW + 3 * HOUR, limit_kw=7)])
    site = site_of(LimitNode(id="grid", limit_kw=22, guns=[dc_gun("D", 50)]))
    snapshot = snapshot_of(site, [session("D/1", 100)], steps=4, limit_series={"grid": series, "D/1": gun_series})
    assert powers(allocate(snapshot), "D/1") == pytest.approx([5.0, 5.0, 7.0, 22.0])


def test_over_subscription_is_reported_worst_first() -> None:
    # Root 10 kW, three cars wanting 6 kWh each in one hour, priorities 5, 2, 1:
    # A gets 6, B the remaining 4 (short 2), C nothing (short 6).
    guns = [dc_gun(name) for name in "ABC"]
    site = site_of(LimitNode(id="grid", limit_kw=10, guns=guns))
    sessions = [session("A/1", 6, priority=5), session("B/1", 6, priority=2), session("C/1", 6)]
    allocation = allocate(snapshot_of(site, sessions))
    assert_solved(allocation)
    assert allocation.power_kw.iloc[0].tolist() == pytest.approx([6.0, 4.0, 0.0])
    short = allocation.shortfalls()
    assert list(short.index) == ["C/1", "B/1"]
    assert short["shortfall_kwh"].tolist() == pytest.approx([6.0, 2.0])
    assert allocation.sessions.loc["A/1", "planned_kwh"] == pytest.approx(6.0)
    assert "gets all 6.00 kWh" in allocation.explanations["A/1"]
    assert "short 6.00 of 6.00 kWh" in allocation.explanations["C/1"]


def test_explanations_name_the_binding_node_of_the_tree() -> None:
    # A 10 kW feeder under a 100 kW root: its two cars share 10 kW and are told so; the DC car
    # on the root is at its own maximum.
    feeder = LimitNode(id="feeder-ac", limit_kw=10, guns=[ac_gun("A", 22.08), ac_gun("B", 22.08)])
    site = site_of(LimitNode(id="grid", limit_kw=100, children=[feeder], guns=[dc_gun("D", 50)]))
    allocation = allocate(snapshot_of(site, [session("A/1", 40), session("B/1", 40), session("D/1", 80)]))
    assert_solved(allocation)
    first = allocation.power_kw.iloc[0]
    assert first["A/1"] + first["B/1"] == pytest.approx(10.0)
    assert first["D/1"] == pytest.approx(50.0)
    assert "node feeder-ac" in allocation.explanations["A/1"]
    assert "node feeder-ac" in allocation.explanations["B/1"]
    assert "maximum" in allocation.explanations["D/1"]
    assert allocation.headroom_kw.loc[allocation.headroom_kw.index[0], "feeder-ac"] == pytest.approx(0.0, abs=1e-6)
    assert allocation.headroom_kw.loc[allocation.headroom_kw.index[0], "grid"] == pytest.approx(40.0)


def test_example_site_keeps_its_feeder_and_root_limits() -> None:
    site = Site.from_yaml("examples/site.yaml")
    sessions = [session(gun_id, 60) for gun_id in site.guns()]
    allocation = allocate(snapshot_of(site, sessions, steps=2))
    assert_solved(allocation)
    ac = [gun for gun in site.guns() if gun.startswith("AC")]
    for step in range(2):
        row = allocation.power_kw.iloc[step]
        assert row[ac].sum() == pytest.approx(100.0)
        assert row.sum() == pytest.approx(150.0)


def test_the_last_bit_of_energy_is_planned_at_the_minimum_not_above() -> None:
    # A 4.2 kW AC gun (6 A minimum: 4.14 kW) and a car that wants 0.5 kWh in its 8 minutes:
    # 0.5 kWh / (8/60 h) = 3.75 kW is below the minimum, so the limit is raised to the minimum,
    # 4.14 kW (the car stops when full). More than the minimum plans energy nobody wants.
    site = site_of(LimitNode(id="grid", limit_kw=50, guns=[ac_gun("A", 4.2)]))
    snapshot = SiteSnapshot(
        site=site,
        now=NOW,
        sessions=[Session(gun_id="A/1", arrival=NOW, departure=NOW + timedelta(minutes=8), energy_requested_kwh=0.5)],
        horizon=timedelta(minutes=15),
        step=timedelta(minutes=15),
    )
    allocation = allocate(snapshot)
    assert_solved(allocation)
    assert powers(allocation, "A/1") == pytest.approx([4.14])
    assert allocation.sessions.loc["A/1", "shortfall_kwh"] == pytest.approx(0.0)


def test_a_tail_at_the_minimum_plans_no_energy_in_other_steps() -> None:
    # Steps of 15 min from 00:00; the root has 0 kW in step 0 and 12 kW after. D (DC, 2.5 kW
    # minimum) is there 00:16-00:34 (14 min of step 1, 4 of step 2) and wants 0.5 kWh. E is there
    # 00:00-00:16 (1 min of step 1, its only usable minute) and wants more than 10 kW x 1/60, so
    # E takes its full 10 kW in step 1. That leaves 2 kW in step 1, below D's minimum: D gets
    # nothing there and its whole 0.5 kWh in step 2 (7.5 kW x 4/60), in that one step only.
    # (Giving D 2.5 kW in step 1 would cost E 0.5 kW x 1/60 of energy it wants: worse.)
    site = site_of(
        LimitNode(
            id="grid",
            limit_kw=12,
            guns=[Gun(station_id="D", kind=GunKind.DC, max_power_kw=10, min_power_kw=2.5), dc_gun("E", 10)],
        )
    )
    minutes = [NOW + timedelta(minutes=k) for k in range(35)]
    snapshot = SiteSnapshot(
        site=site,
        now=NOW,
        sessions=[
            Session(gun_id="D/1", arrival=minutes[16], departure=minutes[34], energy_requested_kwh=0.5),
            Session(gun_id="E/1", arrival=minutes[0], departure=minutes[16], energy_requested_kwh=0.5),
        ],
        limit_series={"grid": LimitSeries(steps=[LimitStep(start=minutes[0], end=minutes[15], limit_kw=0)])},
        horizon=timedelta(minutes=45),
        step=timedelta(minutes=15),
    )
    allocation = allocate(snapshot)
    assert_solved(allocation)
    assert powers(allocation, "D/1") == pytest.approx([0.0, 0.0, 7.5], abs=1e-6)
    assert powers(allocation, "E/1") == pytest.approx([0.0, 10.0, 0.0], abs=1e-6)

"""simulate(): hand-checked replays, policy comparisons on a constrained day, and input errors."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd
import pytest

from models import Gun, LimitNode, Site
from optimizer import SimulationResult, simulate
from optimizer.frames import sessions_from_frame, to_duration
from optimizer.policies import POLICIES, PolicyName, StepLimits, earliest_deadline_first, equal_share
from optimizer.simulate import jain_index

TOL = 1e-6
DAY = pd.Timestamp("2026-01-15", tz="UTC")
CONTROLLED: tuple[PolicyName, ...] = ("lp", "equal", "edf")


def at(hhmm: str) -> pd.Timestamp:
    hours, minutes = hhmm.split(":")
    return DAY + pd.Timedelta(hours=int(hours), minutes=int(minutes))


def make_site(gun_count: int, root_kw: float | None = None, root_a: float | None = None, kw: float = 7.0) -> Site:
    """Single-phase guns of `kw` (230 V, minimum 6 A = 1.38 kW), rotated over L1, L2, L3."""
    guns = [
        Gun(station_id=f"S{i:02d}", max_power_kw=kw, phases=1, phase=("L1", "L2", "L3")[i % 3])
        for i in range(gun_count)
    ]
    return Site(id="test", root=LimitNode(id="grid", limit_kw=root_kw, limit_a=root_a, guns=guns))


def frame(*rows: tuple[str, str, str, float]) -> pd.DataFrame:
    """Sessions as (gun, arrival hh:mm, departure hh:mm, energy_kwh) on DAY."""
    return pd.DataFrame([{"gun": gun, "arrival": at(a), "departure": at(d), "energy_kwh": e} for gun, a, d, e in rows])


def run(
    site: Site,
    sessions: pd.DataFrame,
    policy: PolicyName,
    tariff: pd.Series | None = None,
    grid_limit: pd.Series | None = None,
) -> SimulationResult:
    """One day from midnight in 15-minute intervals."""
    return simulate(
        site, sessions, at("00:00"), at("00:00") + pd.Timedelta(days=1), "15min", policy, tariff, grid_limit
    )


# --- by hand -------------------------------------------------------------------------------------


@pytest.mark.parametrize("policy", POLICIES)
def test_one_gun_one_hour_by_hand(policy: PolicyName) -> None:
    """7 kW for 5 kWh from 10:00 to 11:00: 1.75 + 1.75 + 1.5 kWh, then full (6 kW mean in the third)."""
    result = run(make_site(1), frame(("S00/1", "10:00", "11:00", 5.0)), policy)
    drawn = result.power_kw["S00/1"]
    assert drawn[at("10:00") : at("10:45")].to_numpy() == pytest.approx([7.0, 7.0, 6.0, 0.0])
    assert drawn.sum() == pytest.approx(20.0)  # 5 kWh in quarter hours
    row = result.sessions.iloc[0]
    assert row["delivered_kwh"] == pytest.approx(5.0)
    assert bool(row["satisfied"])
    assert result.metrics["energy_delivered_pct"] == pytest.approx(100.0)
    assert result.metrics["peak_site_kw"] == pytest.approx(7.0)
    assert result.metrics["jain_fairness"] == pytest.approx(1.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_one_gun_under_a_4_kw_limit_by_hand(policy: PolicyName) -> None:
    result = run(make_site(1, root_kw=4.0), frame(("S00/1", "10:00", "11:00", 5.0)), policy)
    drawn = result.power_kw.loc[at("10:00") : at("10:45"), "S00/1"].to_numpy()
    if policy == "uncontrolled":
        assert drawn == pytest.approx([7.0, 7.0, 6.0, 0.0])
        assert result.metrics["worst_limit_excess_kw"] == pytest.approx(3.0)
        assert result.limit_excess_kw[at("10:30")] == pytest.approx(3.0)  # 7 kW until full, not the 6 kW mean
    else:
        assert drawn == pytest.approx([4.0, 4.0, 4.0, 4.0])
        assert result.sessions["delivered_kwh"].iloc[0] == pytest.approx(4.0)
        assert not result.sessions["satisfied"].iloc[0]
        assert result.metrics["worst_limit_excess_kw"] <= TOL
    assert result.limit_kw.dropna().unique().tolist() == [4.0]


def test_arrival_and_departure_inside_an_interval_draw_only_while_plugged() -> None:
    """10:05 to 10:50 at 7 kW: 10, 15, 15 and 5 minutes of charge; the means show it."""
    result = run(make_site(1), frame(("S00/1", "10:05", "10:50", 10.0)), "uncontrolled")
    drawn = result.power_kw.loc[at("10:00") : at("10:45"), "S00/1"].to_numpy()
    assert drawn == pytest.approx([7.0 * 10 / 15, 7.0, 7.0, 7.0 * 5 / 15])
    assert result.sessions["delivered_kwh"].iloc[0] == pytest.approx(7.0 * 45 / 60)
    assert result.site_peak_kw[at("10:45")] == pytest.approx(7.0)


def test_cars_that_do_not_overlap_within_an_interval_do_not_add_up() -> None:
    """One car leaves at 10:05, another arrives at 10:10: the 7 kW limit is never exceeded."""
    sessions = frame(("S00/1", "09:00", "10:05", 30.0), ("S01/1", "10:10", "11:00", 30.0))
    result = run(make_site(2, root_kw=7.0), sessions, "uncontrolled")
    assert result.site_peak_kw[at("10:00")] == pytest.approx(7.0)
    assert result.site_load_kw[at("10:00")] == pytest.approx(7.0 * 10 / 15)
    assert result.metrics["worst_limit_excess_kw"] == 0.0


def test_a_car_leaving_mid_interval_hands_its_gun_to_the_next_at_the_next_tick() -> None:
    sessions = frame(("S00/1", "09:00", "10:05", 30.0), ("S00/1", "10:10", "11:00", 30.0))
    result = run(make_site(1), sessions, "lp")
    assert result.metrics["dropped_sessions"] == 0
    # The first car draws 5 minutes of the 10:00 interval; the second starts at 10:15.
    assert result.sessions["delivered_kwh"].to_numpy() == pytest.approx([7.0 * 65 / 60, 7.0 * 45 / 60])


@pytest.mark.parametrize("policy", ["lp", "uncontrolled"])
def test_a_session_without_energy_wants_the_default(policy: PolicyName) -> None:
    sessions = frame(("S00/1", "10:00", "16:00", 1.0))
    sessions["energy_kwh"] = [np.nan]
    result = simulate(make_site(1), sessions, at("00:00"), at("23:00"), "15min", policy, default_energy_kwh=5.0)
    assert result.sessions["requested_kwh"].iloc[0] == 5.0
    assert result.sessions["delivered_kwh"].iloc[0] == pytest.approx(5.0)


def test_overlapping_sessions_on_one_gun_drop_the_later_one() -> None:
    sessions = frame(("S00/1", "09:00", "12:00", 10.0), ("S00/1", "11:00", "13:00", 10.0))
    result = run(make_site(1), sessions, "equal")
    assert result.metrics["dropped_sessions"] == 1
    assert len(result.sessions) == 1
    assert result.sessions["arrival"].iloc[0] == at("09:00")
    assert "dropped" in result.warnings[0]


def test_phase_current_limits_hold_and_uncontrolled_excess_is_converted() -> None:
    """Three single-phase 7 kW cars on L1 (30.43 A each) under a 20 A per-phase limit."""
    guns = [Gun(station_id=f"S{i:02d}", max_power_kw=7.0, phases=1, phase="L1") for i in range(3)]
    site = Site(id="phase", root=LimitNode(id="grid", limit_a=20.0, guns=guns))
    sessions = frame(*((f"S{i:02d}/1", "08:00", "12:00", 10.0) for i in range(3)))
    for policy in CONTROLLED:
        result = run(site, sessions, policy)
        assert result.metrics["worst_limit_excess_a"] <= TOL, policy
        assert result.site_peak_kw.max() == pytest.approx(20.0 * 230 / 1000), policy
    wild = run(site, sessions, "uncontrolled")
    excess_a = 3 * 7000 / 230 - 20.0
    assert wild.metrics["worst_limit_excess_a"] == pytest.approx(excess_a)
    assert wild.metrics["worst_limit_excess_kw"] == pytest.approx(excess_a * 230 / 1000)


def test_a_grid_limit_series_is_respected_and_reported() -> None:
    site = make_site(2)
    limit = pd.Series([10.0, 3.0, 10.0], index=[at("08:00"), at("09:00"), at("10:00")])
    sessions = frame(("S00/1", "08:00", "12:00", 20.0), ("S01/1", "08:00", "12:00", 20.0))
    result = run(site, sessions, "lp", grid_limit=limit)
    assert result.limit_kw[at("09:00")] == 3.0
    assert result.limit_kw[at("08:00")] == 10.0
    assert (result.site_peak_kw - result.limit_kw.fillna(np.inf)).max() <= TOL
    assert result.site_load_kw[at("09:00") : at("09:45")].to_numpy() == pytest.approx([3.0] * 4)


# --- a constrained day ---------------------------------------------------------------------------


def constrained_day() -> pd.DataFrame:
    """10 guns of 7 kW under 30 kW: short stays (two waves) compete with long ones."""
    rows = []
    for i in range(5):
        rows.append((f"S{i:02d}/1", "08:00", f"10:{15 * (i % 3):02d}", 11.0 + i))
        rows.append((f"S{i:02d}/1", "12:00", "14:00", 10.0 + 0.5 * i))
        rows.append((f"S{i + 5:02d}/1", f"08:{15 * (i % 2):02d}", "17:00", 20.0 + 3 * i))
    rows.append(("S09/1", "18:00", "19:30", 9.0))
    return frame(*rows)


def uncontrolled_peak_kw(sessions: pd.DataFrame, car_kw: float) -> float:
    """Independently: the most cars drawing their maximum at once (each until full or gone)."""
    arrival = np.array([stamp.timestamp() for stamp in sessions["arrival"]])
    departure = np.array([stamp.timestamp() for stamp in sessions["departure"]])
    stop = np.minimum(departure, arrival + 3600 * sessions["energy_kwh"].to_numpy() / car_kw)
    return max(car_kw * float(((arrival <= moment) & (moment < stop)).sum()) for moment in arrival)


@pytest.fixture(scope="module")
def day_results() -> dict[str, SimulationResult]:
    site = make_site(10, root_kw=30.0)
    return {policy: run(site, constrained_day(), policy) for policy in POLICIES}


def delivered(results: dict[str, SimulationResult], policy: PolicyName) -> float:
    return results[policy].metrics["energy_delivered_kwh"]


def test_lp_delivers_at_least_as_much_as_the_rules(day_results: dict[str, SimulationResult]) -> None:
    assert delivered(day_results, "lp") >= delivered(day_results, "equal") - TOL
    assert delivered(day_results, "lp") >= delivered(day_results, "edf") - TOL
    # Equal sharing starves the short stays: the scenario is built so that it loses energy.
    assert delivered(day_results, "equal") < delivered(day_results, "lp") - 1.0


@pytest.mark.parametrize("policy", CONTROLLED)
def test_controlled_policies_keep_every_limit(day_results: dict[str, SimulationResult], policy: PolicyName) -> None:
    result = day_results[policy]
    assert result.metrics["worst_limit_excess_kw"] <= TOL
    assert result.metrics["worst_limit_excess_a"] <= TOL
    assert result.site_peak_kw.max() <= 30.0 + TOL
    assert result.site_load_kw.max() <= 30.0 + TOL


def test_uncontrolled_exceeds_the_limit_by_the_overlapping_maxima(day_results: dict[str, SimulationResult]) -> None:
    result = day_results["uncontrolled"]
    peak = uncontrolled_peak_kw(constrained_day(), 7.0)
    assert peak > 30.0
    assert result.metrics["peak_site_kw"] == pytest.approx(peak)
    assert result.metrics["worst_limit_excess_kw"] == pytest.approx(peak - 30.0)


@pytest.mark.parametrize("policy", POLICIES)
def test_cars_stop_when_full_and_metrics_are_consistent(
    day_results: dict[str, SimulationResult], policy: PolicyName
) -> None:
    result = day_results[policy]
    sessions = result.sessions
    assert (sessions["delivered_kwh"] <= sessions["requested_kwh"] + TOL).all()
    # What the guns drew (mean kW x quarter hours) is what the sessions received.
    assert result.power_kw.to_numpy().sum() * 0.25 == pytest.approx(sessions["delivered_kwh"].sum())
    assert result.metrics["energy_delivered_kwh"] == pytest.approx(sessions["delivered_kwh"].sum())
    assert result.metrics["unsatisfied_sessions"] == (~sessions["satisfied"]).sum()
    assert 0.0 < result.metrics["jain_fairness"] <= 1.0 + 1e-12
    assert (result.power_kw.to_numpy() >= -TOL).all()
    assert (result.power_kw.to_numpy() <= 7.0 + TOL).all()
    assert list(result.power_kw.columns) == [f"S{i:02d}/1" for i in range(10)]
    summary = result.summary()
    assert summary.index.tolist() == [policy]
    assert summary.loc[policy, "energy_delivered_pct"] == pytest.approx(result.metrics["energy_delivered_pct"])


def test_tariff_makes_lp_cheaper_than_equal_for_the_same_energy() -> None:
    """Overnight stays with room to spare: the LP moves the charge into the cheap hours."""
    site = make_site(4, root_kw=30.0)
    sessions = frame(*((f"S{i:02d}/1", "16:00", "23:45", 8.0 + i) for i in range(4)))
    hours = pd.date_range(at("00:00"), periods=24, freq="1h")
    prices = pd.Series(np.where((hours.hour >= 16) & (hours.hour < 20), 0.40, 0.10), index=hours)
    lp = run(site, sessions, "lp", tariff=prices)
    equal = run(site, sessions, "equal", tariff=prices)
    assert lp.metrics["energy_delivered_kwh"] == pytest.approx(equal.metrics["energy_delivered_kwh"])
    assert lp.metrics["energy_delivered_pct"] == pytest.approx(100.0)
    assert equal.metrics["tariff_cost"] == pytest.approx(0.40 * (8 + 9 + 10 + 11))
    assert lp.metrics["tariff_cost"] == pytest.approx(0.10 * (8 + 9 + 10 + 11))
    assert np.isnan(run(site, sessions, "equal").metrics["tariff_cost"])  # no tariff, no cost


# --- the rules on their own ----------------------------------------------------------------------


def step_limits(cap: list[float], min_kw: list[float], limit_kw: float, departure: list[float]) -> StepLimits:
    """Guns under one root with a kW limit, single-phase on L1 (4.35 A per kW)."""
    count = len(cap)
    return StepLimits(
        gun_ids=[f"G{i}/1" for i in range(count)],
        cap_kw=np.array(cap, dtype=float),
        max_kw=np.array(cap, dtype=float),
        min_kw=np.array(min_kw, dtype=float),
        need_kw=np.full(count, 100.0),
        departure_s=np.array(departure, dtype=float),
        membership=np.ones((count, 1)),
        a_per_kw=np.tile([1000 / 230, 0.0, 0.0], (count, 1)),
        limit_kw=np.array([limit_kw], dtype=float),
        limit_a=np.full((1, 3), np.inf),
    )


def test_equal_share_fills_progressively_and_drops_the_worst_deficit() -> None:
    assert equal_share(step_limits([2, 10, 10], [0, 0, 0], 12, [0, 0, 0])) == pytest.approx([2, 5, 5])
    # Two guns of minimum 6 kW under 10 kW: 5 + 5 is not allowed, so one gets it all.
    assert equal_share(step_limits([10, 10], [6, 6], 10, [0, 0])) == pytest.approx([0, 10])
    # Three guns under 10 kW, minimum 4: 3.33 each is too little; dropping one gives 5 + 5.
    assert equal_share(step_limits([10, 10, 10], [4, 4, 4], 10, [0, 0, 0])) == pytest.approx([0, 5, 5])


def test_equal_share_respects_phase_current() -> None:
    limits = step_limits([7, 7], [0, 0], 100, [0, 0])
    limits = StepLimits(**{**limits.__dict__, "limit_a": np.array([[20.0, np.inf, np.inf]])})
    power = equal_share(limits)
    assert power == pytest.approx([2.3, 2.3])  # 20 A x 230 V shared


def test_edf_serves_the_earliest_departure_first_and_respects_minimum() -> None:
    power = earliest_deadline_first(step_limits([7, 7, 7], [1.38] * 3, 12, [300, 100, 200]))
    assert power == pytest.approx([0, 7, 5])
    # 0.5 kW would be left for the last: below its minimum, so nothing.
    power = earliest_deadline_first(step_limits([7, 7], [1.38, 1.38], 7.5, [100, 200]))
    assert power == pytest.approx([7, 0])


def test_jain_index() -> None:
    assert jain_index(np.array([1.0, 1.0, 1.0])) == pytest.approx(1.0)
    assert jain_index(np.array([1.0, 0.0])) == pytest.approx(0.5)
    assert np.isnan(jain_index(np.array([])))


# --- input errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["gun", "arrival", "departure", "energy_kwh"])
def test_missing_column_is_named(column: str) -> None:
    sessions = frame(("S00/1", "10:00", "11:00", 5.0)).drop(columns=column)
    with pytest.raises(ValueError, match=column):
        run(make_site(1), sessions, "equal")


@pytest.mark.parametrize("column", ["arrival", "departure"])
def test_naive_timestamps_are_refused_naming_the_column(column: str) -> None:
    sessions = frame(("S00/1", "10:00", "11:00", 5.0))
    sessions[column] = sessions[column].dt.tz_localize(None)
    with pytest.raises(ValueError, match=column):
        run(make_site(1), sessions, "equal")
    sessions[column] = ["2026-01-15T10:30:00"]
    with pytest.raises(ValueError, match=column):
        run(make_site(1), sessions, "equal")


@pytest.mark.parametrize(
    ("change", "name"),
    [
        ({"gun": "NOPE/1"}, "gun"),
        ({"phases": 2}, "phases"),
        ({"energy_kwh": -1.0}, "energy_kwh"),
        ({"max_kw": 0.0}, "max_kw"),
        ({"departure": at("09:00")}, "departure"),
        ({"energy_kwh": "lots"}, "energy_kwh"),
    ],
)
def test_bad_values_are_refused_naming_the_column(change: dict[str, object], name: str) -> None:
    sessions = frame(("S00/1", "10:00", "11:00", 5.0))
    for column, value in change.items():
        sessions[column] = pd.Series([value], index=sessions.index)
    with pytest.raises(ValueError, match=name):
        run(make_site(1), sessions, "equal")


def test_bad_arguments_are_refused_naming_them() -> None:
    site, sessions = make_site(1), frame(("S00/1", "10:00", "11:00", 5.0))
    with pytest.raises(ValueError, match="start"):
        simulate(site, sessions, pd.Timestamp("2026-01-15"), at("12:00"))
    with pytest.raises(ValueError, match="interval"):
        simulate(site, sessions, at("00:00"), at("12:00"), "soon")
    with pytest.raises(ValueError, match="policy"):
        simulate(site, sessions, at("00:00"), at("12:00"), policy="greedy")  # type: ignore[arg-type]
    naive_prices = pd.Series([0.1, 0.2], index=pd.date_range("2026-01-15", periods=2, freq="1h"))
    with pytest.raises(ValueError, match="tariff"):
        simulate(site, sessions, at("00:00"), at("12:00"), tariff=naive_prices)
    with pytest.raises(ValueError, match="grid_limit"):
        simulate(site, sessions, at("00:00"), at("12:00"), grid_limit={"nowhere": pd.Series(dtype=float)})


def test_frames_read_csv_style_input() -> None:
    """Mixed UTC offsets as strings, a bare station id for EVSE 1, optional columns with gaps."""
    sessions = pd.DataFrame(
        {
            "gun": ["S00", "S01/1"],
            "arrival": ["2019-03-09T10:00:00-08:00", "2019-03-10T10:00:00-07:00"],
            "departure": ["2019-03-09T12:00:00-08:00", "2019-03-10T12:00:00-07:00"],
            "energy_kwh": [5.0, 6.0],
            "max_kw": [3.3, np.nan],
            "phases": [1, np.nan],
        }
    )
    parsed = sessions_from_frame(sessions, make_site(2))
    assert [s.gun_id for s in parsed] == ["S00/1", "S01/1"]
    assert parsed[0].arrival == pd.Timestamp("2019-03-09T18:00Z")
    assert parsed[1].arrival == pd.Timestamp("2019-03-10T17:00Z")
    assert (parsed[0].ev_max_power_kw, parsed[1].ev_max_power_kw) == (3.3, None)
    assert (parsed[0].ev_phases, parsed[1].ev_phases) == (1, None)
    assert to_duration("15min") == to_duration(pd.Timedelta(minutes=15)) == timedelta(minutes=15)

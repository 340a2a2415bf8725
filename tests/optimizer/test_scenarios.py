"""Scenarios: generators match the figures they cite, the Caltech data loads as the planner API
wants it, the example signals are what simulate() takes, and the policies rank as the notebooks say.

The cited figures are written here as numbers from their sources, not read from the generators.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

import optimizer
from models import GunKind, Site, TimeOfUseTariff
from optimizer import OptimizerOptions
from optimizer.frames import sessions_from_frame
from optimizer.scenarios import (
    caltech_site,
    day_ahead_prices,
    depot_sessions,
    depot_site,
    dso_curtailment,
    fast_hub_sessions,
    fast_hub_site,
    fixed_connection,
    load_caltech_sessions,
    residential_sessions,
    residential_site,
    time_of_use_tariff,
    workplace_sessions,
    workplace_site,
)

MONDAY = "2024-03-04"
CALTECH_ZONE = "America/Los_Angeles"
Generator = Callable[[Site, str, int, int], pd.DataFrame]
SCENARIOS: dict[str, tuple[Callable[[], Site], Generator]] = {
    "workplace": (workplace_site, workplace_sessions),
    "fast_hub": (fast_hub_site, fast_hub_sessions),
    "depot": (depot_site, depot_sessions),
    "residential": (residential_site, residential_sessions),
}


def stay_h(frame: pd.DataFrame) -> pd.Series:
    return (frame["departure"] - frame["arrival"]).dt.total_seconds() / 3600


# --- generators against their sources ---------------------------------------------------------


def test_workplace_matches_acn_data_caltech_march_2019() -> None:
    """Lee, Li, Low (e-Energy 2019), March 2019: energy median 6.7 / mean 9.3 kWh, stay mean 6.5 h,
    0.72 sessions per charger per weekday, weekday arrivals peaking 07:00-09:00."""
    site = workplace_site(54)
    frame = workplace_sessions(site, MONDAY, 28, 0)
    assert frame["energy_kwh"].median() == pytest.approx(6.7, rel=0.10)
    assert frame["energy_kwh"].mean() == pytest.approx(9.3, rel=0.10)
    assert stay_h(frame).mean() == pytest.approx(6.5, rel=0.10)
    local = frame["arrival"].dt.tz_convert(site.timezone)
    weekday = local.dt.day_of_week < 5
    assert weekday.sum() / (20 * 54) == pytest.approx(0.72, rel=0.10)
    assert local[weekday].dt.hour.value_counts().idxmax() in {7, 8}


def test_fast_hub_matches_paid_dc_fast_charging() -> None:
    """US DOE VTO, paid DC fast charging 2020-2023: mean 42 min and 22 kWh per session; EV Project:
    about 4 sessions per DC charger per day."""
    site = fast_hub_site(6)
    frame = fast_hub_sessions(site, MONDAY, 28, 0)
    assert frame["energy_kwh"].mean() == pytest.approx(22.0, rel=0.10)
    assert stay_h(frame).mean() * 60 == pytest.approx(42.0, rel=0.10)
    assert len(frame) / (28 * 6) == pytest.approx(4.0, rel=0.15)
    assert all(gun.kind is GunKind.DC for gun in site.guns().values())


def test_residential_matches_home_charging_statistics() -> None:
    """Sagewell: 12-13 plug-ins and 200-250 kWh per month per home charger; Electric Nation: 2-3
    plug-ins per week."""
    residents = 12
    frame = residential_sessions(residential_site(residents), MONDAY, 28, 0)
    per_week = len(frame) / residents / 4
    assert 2.0 * 0.9 <= per_week <= 3.0 * 1.1
    per_month_kwh = frame["energy_kwh"].sum() / residents / 28 * 30
    assert 200 * 0.9 <= per_month_kwh <= 250 * 1.1
    local = frame["arrival"].dt.tz_convert("Europe/Amsterdam")
    assert (local.dt.hour >= 15).all()  # evenings only
    assert (stay_h(frame) > 5).all()  # until the next morning


def test_depot_vans_come_back_every_working_evening_and_leave_the_next_working_morning() -> None:
    """Assumptions only (no published figures found): one session per van per working evening."""
    vans = 10
    site = depot_site(vans)
    frame = depot_sessions(site, MONDAY, 7, 0)
    local_arrival = frame["arrival"].dt.tz_convert(site.timezone)
    assert len(frame) == 6 * vans  # Monday to Saturday
    assert not (local_arrival.dt.day_of_week == 6).any()
    saturday = local_arrival.dt.day_of_week == 5
    departure_day = frame["departure"].dt.tz_convert(site.timezone).dt.day_of_week
    assert (departure_day[saturday] == 0).all()  # over Sunday to Monday
    assert (departure_day[~saturday] == local_arrival.dt.day_of_week[~saturday] + 1).all()


# --- every generator ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_generator_is_deterministic_under_its_seed(name: str) -> None:
    build, generate = SCENARIOS[name]
    site = build()
    pd.testing.assert_frame_equal(generate(site, MONDAY, 7, 3), generate(site, MONDAY, 7, 3))
    assert not generate(site, MONDAY, 7, 3).equals(generate(site, MONDAY, 7, 4))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_a_generator_gives_what_the_planner_api_takes(name: str) -> None:
    """Aware UTC times, one car per gun at a time, and requests a car could take during its stay."""
    build, generate = SCENARIOS[name]
    site = build()
    frame = generate(site, MONDAY, 7, 1)
    assert list(frame.columns) == ["session_id", "gun", "arrival", "departure", "energy_kwh", "max_kw", "phases"]
    assert str(frame["arrival"].dt.tz) == "UTC"
    assert frame["session_id"].is_unique
    sessions = sessions_from_frame(frame, site)
    guns = site.guns()
    for session in sessions:
        hours = (session.departure - session.arrival).total_seconds() / 3600
        car_kw = min(session.ev_max_power_kw or np.inf, guns[session.gun_id].max_kw(session.ev_phases))
        assert session.energy_requested_kwh is not None
        assert 0 < session.energy_requested_kwh <= car_kw * hours + 1e-3
    for _, on_gun in frame.sort_values("arrival").groupby("gun"):
        assert (on_gun["arrival"].iloc[1:].to_numpy() >= on_gun["departure"].iloc[:-1].to_numpy()).all()


# --- the Caltech data --------------------------------------------------------------------------


def test_the_caltech_month_loads_as_sessions_in_utc() -> None:
    frame = load_caltech_sessions()
    assert len(frame) == 954
    assert list(frame.columns) == ["session_id", "gun", "arrival", "departure", "energy_kwh"]
    assert str(frame["arrival"].dt.tz) == "UTC"
    assert str(frame["departure"].dt.tz) == "UTC"
    assert frame["gun"].nunique() == 47
    assert set(frame["gun"]) <= set(caltech_site().guns())
    assert (frame["departure"] > frame["arrival"]).all()
    # The CSV's first session, 06:20 at UTC-8 on 1 March (before the change to daylight saving time).
    assert frame["arrival"].iloc[0] == pd.Timestamp("2019-03-01T14:20:00Z")
    # After 10 March the offset is UTC-7: local hours stay right across the change.
    local = frame["arrival"].dt.tz_convert(CALTECH_ZONE)
    assert local.dt.hour.value_counts().idxmax() in {7, 8}


def test_the_caltech_month_has_the_figures_the_issue_cites() -> None:
    """ACN-Data, March 2019: energy median 6.7 / mean 9.3 kWh, stay mean 6.5 h, 0.72 sessions per
    charger (of 54) per weekday."""
    frame = load_caltech_sessions()
    assert frame["energy_kwh"].median() == pytest.approx(6.7, abs=0.05)
    assert frame["energy_kwh"].mean() == pytest.approx(9.3, abs=0.05)
    assert stay_h(frame).mean() == pytest.approx(6.5, abs=0.05)
    weekday = frame["arrival"].dt.tz_convert(CALTECH_ZONE).dt.day_of_week < 5
    assert weekday.sum() / (21 * 54) == pytest.approx(0.72, abs=0.01)  # March 2019 has 21 weekdays


def test_caltech_sessions_between_local_times() -> None:
    week = load_caltech_sessions("2019-03-04", "2019-03-11")
    local = week["arrival"].dt.tz_convert(CALTECH_ZONE)
    assert local.min() >= pd.Timestamp("2019-03-04", tz=CALTECH_ZONE)
    assert local.max() < pd.Timestamp("2019-03-11", tz=CALTECH_ZONE)
    aware = load_caltech_sessions(pd.Timestamp("2019-03-04T08:00Z"), pd.Timestamp("2019-03-11T07:00Z"))
    pd.testing.assert_frame_equal(week, aware)


def test_the_caltech_site_is_54_single_phase_guns_at_208_v() -> None:
    site = caltech_site()
    guns = site.guns()
    assert len(guns) == 54
    assert site.root.limit_kw == 150.0
    assert sum(gun.max_power_kw for gun in guns.values()) == pytest.approx(356.4)
    for gun in guns.values():
        assert (gun.phases, gun.voltage_v, gun.max_power_kw) == (1, 208.0, 6.6)
        assert gun.min_kw(None) == pytest.approx(6 * 208 / 1000)  # IEC 61851 minimum of 6 A
        assert gun.max_kw(None) == pytest.approx(6.6)
    assert caltech_site(None).root.limit_kw is None


# --- signals ------------------------------------------------------------------------------------


def test_the_time_of_use_tariff_bands() -> None:
    tariff = time_of_use_tariff()
    assert isinstance(tariff, TimeOfUseTariff)
    monday = pd.Timestamp("2024-03-04", tz="Europe/Amsterdam")
    prices = {hour: tariff.price_at((monday + pd.Timedelta(hours=hour)).to_pydatetime()) for hour in range(24)}
    assert prices[3] == 0.15
    assert prices[12] == 0.12
    assert prices[18] == 0.40
    assert prices[22] == 0.25
    sunday_evening = (monday + pd.Timedelta(days=6, hours=18)).to_pydatetime()
    assert tariff.price_at(sunday_evening) == 0.25


def test_day_ahead_prices_are_hourly_positive_and_seeded() -> None:
    prices = day_ahead_prices(MONDAY, days=2, seed=5)
    assert len(prices) == 48
    assert str(prices.index.tz) == "UTC"
    assert (prices > 0).all()
    assert (prices.index[1:] - prices.index[:-1] == pd.Timedelta(hours=1)).all()
    pd.testing.assert_series_equal(prices, day_ahead_prices(MONDAY, days=2, seed=5))
    local = prices.tz_convert("Europe/Amsterdam")
    assert local.groupby(local.index.hour).mean().idxmax() in {17, 18, 19}


def test_grid_limit_examples() -> None:
    start = pd.Timestamp("2024-03-04", tz="Europe/Amsterdam")
    end = start + pd.Timedelta(days=2)
    fixed = fixed_connection(40.0, start, end)
    assert len(fixed) == 2 * 96
    assert (fixed == 40.0).all()
    curtailed = dso_curtailment(40.0, 10.0, start, end, window_hours=(17, 20))
    local_hour = curtailed.index.tz_convert("Europe/Amsterdam").hour
    inside = (local_hour >= 17) & (local_hour < 20)
    assert (curtailed[inside] == 10.0).all()
    assert (curtailed[~inside] == 40.0).all()
    with pytest.raises(ValueError, match="aware"):
        fixed_connection(40.0, "2024-03-04", end)


def test_simulate_takes_the_example_signals() -> None:
    site = workplace_site(6)
    start = pd.Timestamp(MONDAY, tz=site.timezone)
    end = start + pd.Timedelta(days=1)
    sessions = workplace_sessions(site, start, 1, 0)
    limit = dso_curtailment(30.0, 8.0, start, end, window_hours=(9, 12), timezone=site.timezone)
    result = optimizer.simulate(
        site, sessions, start, end, "15min", "equal", tariff=day_ahead_prices(start, 1, site.timezone), grid_limit=limit
    )
    assert result.metrics["worst_limit_excess_kw"] == 0.0
    local_hour = result.site_peak_kw.index.tz_convert(site.timezone).hour
    assert result.site_peak_kw[(local_hour >= 9) & (local_hour < 12)].max() <= 8.0 + 1e-6
    assert np.isfinite(result.metrics["tariff_cost"])


# --- how the policies rank ----------------------------------------------------------------------

FAST = OptimizerOptions(milp_max_columns=0)  # as in the notebooks


@pytest.mark.parametrize(
    ("case", "limit_kw"), [("caltech", 20.0), ("caltech", 35.0), ("caltech", 90.0), ("workplace", 9.0)]
)
def test_the_lp_delivers_at_least_equal_share_and_uncontrolled_more_only_by_exceeding(
    case: str, limit_kw: float
) -> None:
    if case == "caltech":
        site = caltech_site(limit_kw)
        start = pd.Timestamp("2019-03-05", tz=CALTECH_ZONE)
        sessions = load_caltech_sessions(start, start + pd.Timedelta(days=2))
    else:
        site = workplace_site(20, limit_kw)
        start = pd.Timestamp(MONDAY, tz=site.timezone)
        sessions = workplace_sessions(site, start, 2, 7)
    end = sessions["departure"].max().ceil("h")
    delivered = {}
    excess = {}
    for policy in ("uncontrolled", "equal", "lp"):
        metrics = optimizer.simulate(site, sessions, start, end, "15min", policy, options=FAST).metrics
        delivered[policy] = metrics["energy_delivered_kwh"]
        excess[policy] = metrics["worst_limit_excess_kw"]
    assert excess["lp"] == 0.0
    assert excess["equal"] == 0.0
    assert delivered["lp"] >= delivered["equal"] - 1e-6
    if delivered["uncontrolled"] > delivered["lp"] + 1e-6:
        assert excess["uncontrolled"] > 0

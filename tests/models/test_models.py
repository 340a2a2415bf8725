"""Domain types: validation, the example site, unit helpers, gun capability, signals over time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from models import (
    GridchargeError,
    Gun,
    GunKind,
    LimitNode,
    LimitSeries,
    LimitStep,
    PriceSeries,
    PriceStep,
    RateUnit,
    Session,
    Site,
    SiteDefinitionError,
    SiteSnapshot,
    SnapshotError,
    TimeOfUseBand,
    TimeOfUseTariff,
)
from models.units import current_to_power_kw, hours, power_to_current_a
from optimizer.signals import fit_limits, fit_prices, step_bounds_s

EXAMPLE_SITE = Path(__file__).resolve().parents[2] / "examples" / "site.yaml"
NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
HOUR = timedelta(hours=1)
SINGLE_A_PER_KW = 1000 / 230
BALANCED_A_PER_KW = 1000 / 690


def small_site() -> Site:
    return Site(
        id="s",
        root=LimitNode(id="grid", limit_kw=50, guns=[Gun(station_id="A", max_power_kw=22)]),
    )


def a_session(**fields: object) -> Session:
    values: dict[str, object] = {"gun_id": "A/1", "arrival": NOW, "departure": NOW + timedelta(hours=2)}
    values.update(fields)
    return Session(**values)  # type: ignore[arg-type]


# --- validation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: LimitNode(id="grid", limit_kw=-1), "limit_kw"),
        (lambda: LimitNode(id="grid", limit_a=-16), "limit_a"),
        (lambda: Gun(station_id="A", max_power_kw=-22), "max_power_kw"),
        (lambda: Gun(station_id="A", max_power_kw=22, min_current_a=-6), "min_current_a"),
        (lambda: LimitStep(start=NOW, end=NOW + timedelta(hours=1), limit_kw=-5), "limit_kw"),
        (lambda: a_session(energy_requested_kwh=-1), "energy_requested_kwh"),
        (lambda: a_session(priority=0), "priority"),
        (lambda: a_session(gun_id="no-evse"), "gun_id"),
        (lambda: Site(id="s", timezone="Mars/Olympus_Mons", root=LimitNode(id="grid")), "timezone"),
        (lambda: a_session(arrival=datetime(2024, 1, 15, 12)), "arrival"),
        (lambda: SiteSnapshot(site=small_site(), now=datetime(2024, 1, 15, 12)), "now"),
        (lambda: LimitStep(start=datetime(2024, 1, 15, 12), end=NOW, limit_kw=5), "start"),
    ],
)
def test_invalid_fields_are_rejected_naming_the_field(build: object, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        build()  # type: ignore[operator]
    assert field in {str(part) for error in caught.value.errors() for part in error["loc"]}, str(caught.value)


def test_unknown_timezone_message_names_the_zone() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus_Mons"):
        Site(id="s", timezone="Mars/Olympus_Mons", root=LimitNode(id="grid"))


def test_departure_before_arrival_is_rejected_with_both_times() -> None:
    with pytest.raises(ValidationError, match=r"departure .* is not after arrival") as caught:
        a_session(departure=NOW - timedelta(minutes=1))
    assert "A/1" in str(caught.value)
    with pytest.raises(ValidationError, match="departure"):
        a_session(departure=NOW)


def test_gun_minimum_above_its_maximum_is_rejected() -> None:
    # 6 A x 230 V x 3 phases = 4.14 kW > 3 kW
    with pytest.raises(ValidationError, match=r"minimum 4\.14 kW exceeds max_power_kw 3"):
        Gun(station_id="A", max_power_kw=3, phases=3)


@pytest.mark.parametrize(
    "root",
    [
        LimitNode(id="grid", children=[LimitNode(id="feeder"), LimitNode(id="feeder")]),
        LimitNode(id="grid", children=[LimitNode(id="grid")]),
        LimitNode(
            id="grid",
            guns=[Gun(station_id="A", max_power_kw=22)],
            children=[LimitNode(id="feeder", guns=[Gun(station_id="A", max_power_kw=11)])],
        ),
    ],
)
def test_duplicate_ids_raise_the_domain_error_naming_the_id(root: LimitNode) -> None:
    # models/errors.py: facts spanning several fields raise SiteDefinitionError (a GridchargeError).
    with pytest.raises(SiteDefinitionError, match="appears twice"):
        Site(id="s", root=root)


def test_duplicate_ids_message_names_the_id() -> None:
    with pytest.raises((ValueError, GridchargeError), match=r"id 'A/1' appears twice"):
        Site(
            id="s",
            root=LimitNode(
                id="grid",
                guns=[Gun(station_id="A", max_power_kw=22)],
                children=[LimitNode(id="feeder", guns=[Gun(station_id="A", max_power_kw=11)])],
            ),
        )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"sessions": [a_session(gun_id="B/1")]}, "unknown gun 'B/1'"),
        ({"sessions": [a_session(), a_session(session_id="second")]}, "two sessions on gun 'A/1'"),
        (
            {"limit_series": {"nowhere": LimitSeries.from_series(pd.Series([1.0, 2.0], index=[NOW, NOW + HOUR]))}},
            "unknown node 'nowhere'",
        ),
        ({"step": timedelta(0)}, "step must be positive"),
        ({"horizon": timedelta(minutes=5)}, "horizon must be at least one step"),
    ],
)
def test_inconsistent_snapshots_raise_the_domain_error(fields: dict[str, object], message: str) -> None:
    # models/errors.py: a snapshot referring to a gun or node its site lacks raises SnapshotError.
    with pytest.raises(SnapshotError, match=message):
        SiteSnapshot(site=small_site(), now=NOW, **fields)  # type: ignore[arg-type]


def test_inconsistent_snapshot_message_names_the_gun() -> None:
    with pytest.raises((ValueError, GridchargeError), match="unknown gun 'B/1'"):
        SiteSnapshot(site=small_site(), now=NOW, sessions=[a_session(gun_id="B/1")])


def test_a_site_file_that_is_not_a_mapping_is_a_site_definition_error(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("- just\n- a list\n", encoding="utf-8")
    with pytest.raises(SiteDefinitionError, match="expected a mapping"):
        Site.from_yaml(path)
    assert issubclass(SiteDefinitionError, GridchargeError)


def test_snapshot_step_count_rounds_the_horizon_up() -> None:
    snapshot = SiteSnapshot(site=small_site(), now=NOW, horizon=timedelta(minutes=50), step=timedelta(minutes=15))
    assert snapshot.step_count == 4


# --- the example site ------------------------------------------------------------------------


def test_example_site_loads() -> None:
    site = Site.from_yaml(EXAMPLE_SITE)
    assert site.root.id == "grid"
    assert site.root.limit_kw == 150
    assert site.zone == AMSTERDAM
    nodes = site.nodes()
    assert set(nodes) == {"grid", "feeder-ac"}
    feeder = nodes["feeder-ac"]
    assert feeder.limit_kw == 100
    assert [gun.id for gun in feeder.guns] == [f"AC0{i}/1" for i in range(1, 7)]
    assert all(gun.kind is GunKind.AC and gun.max_power_kw == 22 and gun.phases == 3 for gun in feeder.guns)
    assert [gun.phase for gun in feeder.guns] == ["L1", "L2", "L3", "L1", "L2", "L3"]
    assert [gun.id for gun in site.root.guns] == ["DC01/1", "DC02/1"]
    assert all(gun.kind is GunKind.DC and gun.max_power_kw == 50 for gun in site.root.guns)
    ancestors = site.ancestors()
    assert ancestors["AC03/1"] == ["grid", "feeder-ac"]
    assert ancestors["DC02/1"] == ["grid"]
    assert len(site.guns()) == 8


def test_site_survives_a_json_round_trip() -> None:
    site = Site.from_yaml(EXAMPLE_SITE)
    assert Site.model_validate_json(site.to_json()) == site


# --- units -----------------------------------------------------------------------------------


def test_unit_helpers() -> None:
    assert current_to_power_kw(16, 230, 3) == pytest.approx(11.04)
    assert current_to_power_kw(32, 230, 1) == pytest.approx(7.36)
    assert power_to_current_a(11.04, 230, 3) == pytest.approx(16.0)
    assert power_to_current_a(7.36, 230, 1) == pytest.approx(32.0)
    assert hours(timedelta(minutes=15)) == 0.25
    assert hours(timedelta(days=1)) == 24.0


@given(
    current_a=st.floats(0, 1000, allow_nan=False),
    voltage_v=st.floats(100, 400),
    phases=st.sampled_from([1, 2, 3]),
)
def test_current_and_power_convert_back_and_forth(current_a: float, voltage_v: float, phases: int) -> None:
    power_kw = current_to_power_kw(current_a, voltage_v, phases)
    assert power_to_current_a(power_kw, voltage_v, phases) == pytest.approx(current_a, abs=1e-9)


# --- gun capability --------------------------------------------------------------------------


def test_three_phase_ac_gun_capability() -> None:
    gun = Gun(station_id="AC", max_power_kw=22, phases=3, phase="L2")
    assert gun.id == "AC/1"
    assert gun.charging_rate_unit is RateUnit.A
    assert gun.max_current_a() == pytest.approx(22000 / 690)
    assert gun.min_kw(None) == pytest.approx(4.14)
    assert gun.min_kw(3) == pytest.approx(4.14)
    assert gun.min_kw(1) == pytest.approx(1.38)
    assert gun.max_kw(None) == pytest.approx(22.0)
    assert gun.max_kw(3) == pytest.approx(22.0)
    assert gun.max_kw(1) == pytest.approx(22 / 3)  # one phase at the gun's 31.9 A
    assert gun.phases_used(1) == 1
    assert gun.phases_used(None) == 3


def test_single_phase_ac_gun_capability() -> None:
    gun = Gun(station_id="AC", evse_id=2, max_power_kw=7.4, phases=1, phase="L3", min_current_a=8)
    assert gun.id == "AC/2"
    assert gun.phases_used(3) == 1
    assert gun.min_kw(3) == pytest.approx(8 * 230 / 1000)
    assert gun.max_kw(3) == pytest.approx(7.4)
    assert gun.phase_current_a_per_kw(3) == pytest.approx({"L1": 0.0, "L2": 0.0, "L3": SINGLE_A_PER_KW})
    assert gun.phase_current_a_per_kw(None) == pytest.approx({"L1": 0.0, "L2": 0.0, "L3": SINGLE_A_PER_KW})


def test_dc_gun_capability() -> None:
    gun = Gun(station_id="DC", kind=GunKind.DC, max_power_kw=50, min_power_kw=5)
    assert gun.charging_rate_unit is RateUnit.W
    assert gun.phases_used(1) == 3
    assert gun.min_kw(1) == 5
    assert gun.max_kw(1) == 50
    assert gun.phase_current_a_per_kw(None) == pytest.approx(dict.fromkeys(("L1", "L2", "L3"), BALANCED_A_PER_KW))


@pytest.mark.parametrize(
    ("rate_unit", "ev_phases", "expected"),
    [
        # A three-phase car: balanced on all phases whatever the unit.
        (RateUnit.A, 3, {"L1": BALANCED_A_PER_KW, "L2": BALANCED_A_PER_KW, "L3": BALANCED_A_PER_KW}),
        (RateUnit.W, 3, {"L1": BALANCED_A_PER_KW, "L2": BALANCED_A_PER_KW, "L3": BALANCED_A_PER_KW}),
        # A single-phase car: all of it on the grid phase the gun's L1 is wired to (L2 here).
        (RateUnit.A, 1, {"L1": 0.0, "L2": SINGLE_A_PER_KW, "L3": 0.0}),
        (RateUnit.W, 1, {"L1": 0.0, "L2": SINGLE_A_PER_KW, "L3": 0.0}),
        # Unknown car: amperes cap each phase (balanced bound); watts allow all on the gun's L1.
        (RateUnit.A, None, {"L1": BALANCED_A_PER_KW, "L2": BALANCED_A_PER_KW, "L3": BALANCED_A_PER_KW}),
        (RateUnit.W, None, {"L1": BALANCED_A_PER_KW, "L2": SINGLE_A_PER_KW, "L3": BALANCED_A_PER_KW}),
    ],
)
def test_phase_current_per_kw_of_a_three_phase_gun(
    rate_unit: RateUnit, ev_phases: int | None, expected: dict[str, float]
) -> None:
    gun = Gun(station_id="AC", max_power_kw=22, phases=3, phase="L2", rate_unit=rate_unit)
    assert gun.phase_current_a_per_kw(ev_phases) == pytest.approx(expected)


# --- price and limit series ------------------------------------------------------------------


def test_price_series_from_a_pandas_series() -> None:
    index = pd.date_range(NOW, periods=3, freq="15min")
    series = PriceSeries.from_series(pd.Series([0.1, 0.2, 0.3], index=index))
    assert [step.price_per_kwh for step in series.steps] == [0.1, 0.2, 0.3]
    assert [step.start for step in series.steps] == list(index.to_pydatetime())
    assert series.steps[-1].end == NOW + timedelta(minutes=45)
    explicit = PriceSeries.from_series(pd.Series([0.5], index=index[:1]), end=NOW + timedelta(hours=2))
    assert explicit.steps[0].end == NOW + timedelta(hours=2)


@pytest.mark.parametrize(
    ("index", "message"),
    [
        (pd.date_range("2024-01-15 12:00", periods=2, freq="h"), "time-zone aware"),
        (pd.DatetimeIndex([NOW + timedelta(hours=1), NOW]), "strictly increasing"),
        (pd.DatetimeIndex([NOW, NOW]), "strictly increasing"),
    ],
)
def test_series_index_must_be_aware_and_increasing(index: pd.DatetimeIndex, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PriceSeries.from_series(pd.Series([1.0, 2.0], index=index))


def test_one_step_series_needs_an_end() -> None:
    with pytest.raises(ValueError, match="explicit end"):
        LimitSeries.from_series(pd.Series([10.0], index=pd.DatetimeIndex([NOW])))


def test_limit_series_from_a_pandas_series() -> None:
    index = pd.date_range(NOW, periods=2, freq="h")
    series = LimitSeries.from_series(pd.Series([100.0, 80.0], index=index))
    assert [(step.limit_kw, step.limit_a) for step in series.steps] == [(100.0, None), (80.0, None)]
    assert series.steps[1].end == NOW + timedelta(hours=2)


def test_overlapping_steps_are_rejected() -> None:
    with pytest.raises(ValidationError, match="overlap"):
        PriceSeries(
            steps=[
                PriceStep(start=NOW, end=NOW + timedelta(hours=1), price_per_kwh=1),
                PriceStep(start=NOW + timedelta(minutes=30), end=NOW + timedelta(hours=2), price_per_kwh=2),
            ]
        )
    with pytest.raises(ValidationError, match="neither limit_kw nor limit_a"):
        LimitStep(start=NOW, end=NOW + timedelta(hours=1))


def test_price_series_from_a_local_index_across_the_autumn_dst_change() -> None:
    # 2024-10-27 in Amsterdam: 02:00-03:00 happens twice (CEST, then CET). Four hourly stamps.
    index = pd.date_range("2024-10-27 00:00", periods=4, freq="h", tz="Europe/Amsterdam")
    series = PriceSeries.from_series(pd.Series([1.0, 2.0, 3.0, 4.0], index=index))
    lengths = [step.end.timestamp() - step.start.timestamp() for step in series.steps]
    assert lengths == [3600.0] * 4


@pytest.mark.parametrize(
    ("start", "end"),
    [
        # 02:30 CEST (00:30 UTC) to 02:10 CET (01:10 UTC): 40 minutes, valid though earlier on the wall.
        (datetime(2024, 10, 27, 2, 30, tzinfo=AMSTERDAM), datetime(2024, 10, 27, 2, 10, fold=1, tzinfo=AMSTERDAM)),
    ],
)
def test_steps_and_sessions_compare_absolute_time_not_wall_time(start: datetime, end: datetime) -> None:
    assert end.timestamp() - start.timestamp() == 40 * 60
    PriceStep(start=start, end=end, price_per_kwh=1.0)
    Session(gun_id="A/1", arrival=start, departure=end)
    with pytest.raises(ValidationError):
        PriceStep(start=end, end=start, price_per_kwh=1.0)
    with pytest.raises(ValidationError):
        Session(gun_id="A/1", arrival=end, departure=start)


# --- time-of-use tariffs across DST ----------------------------------------------------------


NIGHT = TimeOfUseTariff(
    default_price_per_kwh=0.30,
    bands=[
        TimeOfUseBand(start_hour=0, end_hour=3, price_per_kwh=0.10),
        TimeOfUseBand(weekdays=[5, 6], start_hour=3, end_hour=24, price_per_kwh=0.20),
    ],
)


@pytest.mark.parametrize(
    ("start_utc", "prices"),
    [
        # Sunday 2024-03-31, clocks go 02:00 CET -> 03:00 CEST. 22Z = Saturday 23 local (weekend
        # band), 23Z = 00, 00Z = 01 (night), 01Z = 03 CEST (weekend band), 02Z = 04, 03Z = 05.
        (datetime(2024, 3, 30, 22, tzinfo=UTC), [0.20, 0.10, 0.10, 0.20, 0.20, 0.20]),
        # Sunday 2024-10-27, clocks go 03:00 CEST -> 02:00 CET. 22Z = 00, 23Z = 01, 00Z = 02 CEST,
        # 01Z = 02 CET, 02Z = 03 CET.
        (datetime(2024, 10, 26, 22, tzinfo=UTC), [0.10, 0.10, 0.10, 0.10, 0.20, 0.20]),
    ],
)
def test_time_of_use_prices_follow_local_hours_across_dst(start_utc: datetime, prices: list[float]) -> None:
    series = NIGHT.to_price_series(start_utc, start_utc + timedelta(hours=6), "Europe/Amsterdam")
    assert [step.price_per_kwh for step in series.steps] == prices
    assert [step.end.timestamp() - step.start.timestamp() for step in series.steps] == [3600.0] * 6


@pytest.mark.parametrize(
    ("local_day", "real_hours"),
    [
        (datetime(2024, 3, 31, tzinfo=AMSTERDAM), 5),  # 00:00 to 06:00 local is 5 real hours
        (datetime(2024, 10, 27, tzinfo=AMSTERDAM), 7),  # ... and 7 in autumn
    ],
)
def test_time_of_use_series_from_a_local_start_has_hour_long_steps(local_day: datetime, real_hours: int) -> None:
    series = NIGHT.to_price_series(local_day, local_day.replace(hour=6), "Europe/Amsterdam")
    lengths = [step.end.timestamp() - step.start.timestamp() for step in series.steps]
    assert lengths == [3600.0] * real_hours
    local_hours = [step.start.astimezone(AMSTERDAM).hour for step in series.steps]
    local_starts = [datetime.fromtimestamp(step.start.timestamp(), AMSTERDAM) for step in series.steps]
    assert [step.price_per_kwh for step in series.steps] == [NIGHT.price_at(start) for start in local_starts]
    assert local_hours[0] == 0
    assert local_hours[-1] == 5


# --- fitting signals onto the optimizer's steps ----------------------------------------------


def test_fit_prices_takes_the_time_weighted_mean_within_each_step() -> None:
    series = PriceSeries.from_series(pd.Series([1.0, 2.0, 3.0, 4.0], index=pd.date_range(NOW, periods=4, freq="15min")))
    starts, ends = step_bounds_s(NOW, timedelta(minutes=30), 2)
    assert fit_prices(series, starts, ends) == pytest.approx([1.5, 3.5])
    # A step 10 minutes off the grid: 5 min at 1, 15 at 2, 10 at 3 -> (5 + 30 + 30) / 30.
    starts, ends = step_bounds_s(NOW + timedelta(minutes=10), timedelta(minutes=30), 1)
    assert fit_prices(series, starts, ends) == pytest.approx([65 / 30])


def test_fit_prices_before_after_and_between_series_steps() -> None:
    series = PriceSeries(
        steps=[
            PriceStep(start=NOW, end=NOW + timedelta(hours=1), price_per_kwh=1.0),
            PriceStep(start=NOW + timedelta(hours=2), end=NOW + timedelta(hours=3), price_per_kwh=3.0),
        ]
    )
    starts, ends = step_bounds_s(NOW - timedelta(hours=1), timedelta(hours=1), 6)
    # before: first price; gap 1-2 h: the price before it; after the series: its last price.
    assert fit_prices(series, starts, ends) == pytest.approx([1.0, 1.0, 1.0, 3.0, 3.0, 3.0])
    assert fit_prices(None, starts, ends) == pytest.approx(np.zeros(6))


def test_fit_limits_takes_the_smallest_limit_within_each_step() -> None:
    series = LimitSeries(
        steps=[
            LimitStep(start=NOW, end=NOW + timedelta(minutes=5), limit_kw=50),
            LimitStep(start=NOW + timedelta(minutes=5), end=NOW + timedelta(minutes=10), limit_kw=20),
            LimitStep(start=NOW + timedelta(minutes=10), end=NOW + timedelta(minutes=15), limit_kw=70),
            LimitStep(start=NOW + timedelta(minutes=15), end=NOW + timedelta(minutes=30), limit_kw=90, limit_a=63),
        ]
    )
    starts, ends = step_bounds_s(NOW, timedelta(minutes=15), 3)
    limit_kw, limit_a = fit_limits(series, 80.0, None, starts, ends)
    # fully covered steps: the series overrides the static 80 kW (even upwards, to 90);
    # step 2 is not covered: the static limit holds.
    assert limit_kw == pytest.approx([20.0, 90.0, 80.0])
    assert limit_a.tolist() == [np.inf, 63.0, np.inf]


def test_fit_limits_partial_coverage_falls_back_to_the_static_limit() -> None:
    # The series covers 00:05-00:10 of step 0 and 00:15-00:30 (all) of step 1.
    series = LimitSeries(
        steps=[
            LimitStep(start=NOW + timedelta(minutes=5), end=NOW + timedelta(minutes=10), limit_kw=100, limit_a=10),
            LimitStep(start=NOW + timedelta(minutes=15), end=NOW + timedelta(minutes=30), limit_kw=100),
        ]
    )
    starts, ends = step_bounds_s(NOW, timedelta(minutes=15), 2)
    limit_kw, limit_a = fit_limits(series, 40.0, 32.0, starts, ends)
    assert limit_kw == pytest.approx([40.0, 100.0])  # partial: min(100, static 40); full: series
    assert limit_a == pytest.approx([10.0, 32.0])  # an A series step leaves the kW static alone
    no_static_kw, _ = fit_limits(series, None, None, starts, ends)
    assert no_static_kw == pytest.approx([100.0, 100.0])
    nothing_kw, nothing_a = fit_limits(None, None, None, starts, ends)
    assert np.isinf(nothing_kw).all()
    assert np.isinf(nothing_a).all()

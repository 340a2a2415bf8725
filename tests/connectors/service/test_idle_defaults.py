"""The idle guns' tx defaults beside a plan: within the room it leaves at every node."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from connectors.idle_defaults import active_gun_limits, idle_gun_limits
from models import Allocation, Gun, LimitNode, LimitSeries, LimitStep, Session, Site, SiteSnapshot
from optimizer import allocate

NOW = datetime(2026, 1, 5, 8, tzinfo=UTC)
STEP = timedelta(minutes=15)
HOLD = timedelta(hours=1)


def _gun(station: str) -> Gun:
    return Gun(station_id=station, max_power_kw=22.0, phases=3)


SITE = Site(
    id="two-feeders",
    root=LimitNode(
        id="grid",
        limit_kw=60.0,
        children=[
            LimitNode(id="north", limit_kw=30.0, guns=[_gun("N1"), _gun("N2"), _gun("N3")]),
            LimitNode(id="south", limit_a=64.0, guns=[_gun("S1"), _gun("S2"), _gun("S3")]),
        ],
    ),
)


def _plan(
    active: list[str],
    series: dict[str, LimitSeries] | None = None,
    ev_max_power_kw: float | None = None,
    reserved: dict[str, float] | None = None,
) -> Allocation:
    sessions = [
        Session(gun_id=f"{station}/1", arrival=NOW, departure=NOW + timedelta(hours=4), ev_max_power_kw=ev_max_power_kw)
        for station in active
    ]
    sessions += [  # as `snapshots.build_snapshot` reserves idle guns that cannot be steered
        Session(gun_id=gun_id, arrival=NOW, departure=NOW + timedelta(hours=4), ev_max_power_kw=kw, controllable=False)
        for gun_id, kw in (reserved or {}).items()
    ]
    snapshot = SiteSnapshot(
        site=SITE, now=NOW, sessions=sessions, limit_series=series or {}, horizon=timedelta(hours=4), step=STEP
    )
    return allocate(snapshot)


def _load_kw(allocation: Allocation, idle_kw: dict[str, float], node: LimitNode) -> pd.Series:
    under = {gun.id for part in node.walk() for gun in part.guns}
    planned = allocation.power_kw[[gun for gun in allocation.power_kw.columns if gun in under]].sum(axis=1)
    return planned + sum(kw for gun, kw in idle_kw.items() if gun in under)


@pytest.mark.parametrize("active", [["N1", "S1"], ["N1", "N2", "S1", "S2"], ["N1", "N2", "N3", "S1"]])
def test_plans_and_idle_tx_defaults_fit_every_node_together(active: list[str]) -> None:
    allocation = _plan(active)
    fallback_kw = {gun_id: 10.0 for gun_id in SITE.guns() if gun_id.split("/")[0] not in active}
    idle_kw = idle_gun_limits(SITE, allocation, fallback_kw, (NOW, NOW + HOLD), STEP)
    assert set(idle_kw) == set(fallback_kw)
    assert all(0.0 <= idle_kw[gun] <= 10.0 for gun in idle_kw)
    window = allocation.power_kw.index < NOW + HOLD
    nodes = SITE.nodes()
    assert (_load_kw(allocation, idle_kw, nodes["grid"])[window] <= 60.0 + 1e-6).all()
    assert (_load_kw(allocation, idle_kw, nodes["north"])[window] <= 30.0 + 1e-6).all()
    south_kw = _load_kw(allocation, idle_kw, nodes["south"])[window]
    assert (south_kw * 1000 / (3 * 230) <= 64.0 + 1e-6).all()  # balanced three-phase guns


def test_a_lower_limit_later_in_the_hold_window_counts_and_a_gun_that_cannot_be_steered_is_reserved() -> None:
    capped = LimitSeries(steps=[LimitStep(start=NOW + timedelta(minutes=30), end=NOW + HOLD, limit_kw=40.0)])
    allocation = _plan(["N1", "S1"], {"grid": capped}, ev_max_power_kw=10.0, reserved={"N3/1": 5.0})
    steered = {"S2/1": 22.0, "S3/1": 22.0}
    idle_kw = idle_gun_limits(SITE, allocation, steered, (NOW, NOW + HOLD), STEP)
    # 20 kW planned throughout, 5 reserved for an idle gun that cannot be steered: 15 left under the cap
    assert sum(idle_kw.values()) == pytest.approx(40.0 - 20.0 - 5.0, abs=0.01)
    south_room_kw = 64.0 * 3 * 230 / 1000 - 10.0  # before the cap the south feeder binds: 64 A less S1's 10 kW
    before_cap = idle_gun_limits(SITE, allocation, steered, (NOW, NOW + timedelta(minutes=30)), STEP)
    assert before_cap == {
        "S2/1": pytest.approx(south_room_kw / 2, abs=0.01),
        "S3/1": pytest.approx(south_room_kw / 2, abs=0.01),
    }


def test_no_plan_in_force_leaves_the_fallbacks() -> None:
    allocation = _plan(["N1"])
    later = (NOW + timedelta(days=2), NOW + timedelta(days=3))
    assert idle_gun_limits(SITE, allocation, {"N2/1": 10.0}, later, STEP) == {"N2/1": 10.0}


def test_a_gun_with_a_session_gets_no_more_than_its_plan_gives_it_meanwhile() -> None:
    # A car that plugs in right after the gun's car left draws the gun's tx default until the next
    # run: with each active gun's default at most its plan over the window, and the idle guns' within
    # the room, every node holds even if every active gun's car were replaced at once.
    allocation = _plan(["N1", "N2", "S1"], ev_max_power_kw=7.0)
    active_kw = active_gun_limits(allocation, (NOW, NOW + HOLD), STEP)
    assert set(active_kw) == {"N1/1", "N2/1", "S1/1"}
    in_window = allocation.power_kw.index < pd.Timestamp(NOW + HOLD)
    for gun_id, limit_kw in active_kw.items():
        assert limit_kw == pytest.approx(allocation.power_kw.loc[in_window, gun_id].min())
    idle_kw = idle_gun_limits(SITE, allocation, {"N3/1": 10.0, "S2/1": 10.0, "S3/1": 10.0}, (NOW, NOW + HOLD), STEP)
    defaults_kw = {**idle_kw, **active_kw}  # what the stations would draw on tx defaults alone
    for node in (SITE.root, SITE.root.children[0]):  # the nodes with a kW limit
        under = {gun.id for part in node.walk() for gun in part.guns}
        assert node.limit_kw is not None
        assert sum(kw for gun, kw in defaults_kw.items() if gun in under) <= node.limit_kw + 1e-6


def test_no_plan_in_force_puts_no_cap_on_the_guns_with_a_session() -> None:
    allocation = _plan(["N1"])
    assert active_gun_limits(allocation, (NOW + timedelta(days=1), NOW + timedelta(days=1, hours=1)), STEP) == {}

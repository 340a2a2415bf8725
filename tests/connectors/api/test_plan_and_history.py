"""Plan and history as JSON and as CSV (read back with pandas)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from connectors.store.protocol import RunRecord
from models import Allocation
from tests.connectors.api.live import READ, LiveApi

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


async def test_no_plan_before_the_first_run(api: LiveApi) -> None:
    for path in ["/api/v1/sites/depot/plan", "/api/v1/sites/depot/plan.csv"]:
        response = await api.client.get(path, headers=READ)
        assert response.status_code == 404
        assert "no plan yet" in response.json()["detail"]


async def test_the_plan_per_gun_per_step_as_json_and_csv(api: LiveApi, allocation: Allocation) -> None:
    api.runtime.allocations["depot"] = allocation
    plan = (await api.client.get("/api/v1/sites/depot/plan", headers=READ)).json()
    assert plan["status"] == allocation.status.value
    assert [datetime.fromisoformat(stamp) for stamp in plan["step_starts"]] == list(allocation.power_kw.index)
    assert set(plan["power_kw"]) == set(allocation.power_kw.columns) == {"AC01/1", "DC01/1"}
    for gun, values in plan["power_kw"].items():
        assert values == pytest.approx(list(allocation.power_kw[gun]))
    assert plan["limits_now"]["DC01/1"]["limit_kw"] == pytest.approx(allocation.limits_now["DC01/1"].limit_kw)

    response = await api.client.get("/api/v1/sites/depot/plan.csv", headers=READ)
    assert response.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(response.text), index_col="step", parse_dates=["step"])
    assert list(frame.index) == list(allocation.power_kw.index)
    pd.testing.assert_frame_equal(frame, allocation.power_kw, check_names=False, check_freq=False)


def run_at(minutes: int, load_kw: float) -> RunRecord:
    return RunRecord(
        site_id="depot",
        at=T0 + timedelta(minutes=minutes),
        status="optimal",
        site_load_kw=load_kw,
        site_limit_kw=150.0,
        gun_power_kw={"AC01/1": load_kw},
        gun_limit_kw={"AC01/1": 22.0},
    )


async def test_history_over_a_half_open_range_as_json_and_csv(api: LiveApi) -> None:
    for minutes, load_kw in [(0, 10.0), (1, 11.0), (2, 12.0)]:
        await api.runtime.store.add_run(run_at(minutes, load_kw))
    window = {"start": T0.isoformat(), "end": (T0 + timedelta(minutes=2)).isoformat()}
    history = (await api.client.get("/api/v1/sites/depot/history", headers=READ, params=window)).json()
    assert [(run["at"], run["site_load_kw"], run["gun_power_kw"]) for run in history["runs"]] == [
        ("2026-12-02T08:00:00Z", 10.0, {"AC01/1": 10.0}),
        ("2026-12-02T08:01:00Z", 11.0, {"AC01/1": 11.0}),
    ]

    response = await api.client.get("/api/v1/sites/depot/history.csv", headers=READ, params=window)
    assert response.headers["content-type"].startswith("text/csv")
    frame = pd.read_csv(io.StringIO(response.text), index_col="at", parse_dates=["at"])
    assert list(frame.columns) == ["status", "site_load_kw", "site_limit_kw", "power_kw[AC01/1]", "limit_kw[AC01/1]"]
    assert list(frame.index) == [T0, T0 + timedelta(minutes=1)]
    assert list(frame["site_load_kw"]) == pytest.approx([10.0, 11.0])
    assert list(frame["limit_kw[AC01/1]"]) == pytest.approx([22.0, 22.0])


async def test_an_empty_history_is_an_empty_table(api: LiveApi) -> None:
    response = await api.client.get("/api/v1/sites/depot/history.csv", headers=READ)
    frame = pd.read_csv(io.StringIO(response.text))
    assert frame.empty
    assert (await api.client.get("/api/v1/sites/depot/history", headers=READ)).json()["runs"] == []

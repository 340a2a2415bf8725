"""Grid limits: static limits rewrite the site's tree, series are stored per node, both read back merged."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from models import LimitSeries
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)


async def test_a_static_limit_is_stored_in_the_tree_and_triggers_a_change(api: LiveApi) -> None:
    response = await api.client.put("/api/v1/sites/depot/limits/feeder-ac", headers=WRITE, json={"limit_kw": 80})
    assert response.status_code == 200
    assert response.json() == {"site_id": "depot", "node_id": "feeder-ac", "limit_kw": 80.0, "limit_a": None}
    site = await api.runtime.store.get_site("depot")
    assert site is not None
    assert site.nodes()["feeder-ac"].limit_kw == pytest.approx(80)
    assert site.nodes()["grid"].limit_kw == pytest.approx(150)
    assert api.runtime.calls == [("site_changed", "depot")]

    amperes = await api.client.put("/api/v1/sites/depot/limits/grid", headers=WRITE, json={"limit_a": 200})
    assert amperes.status_code == 200
    site = await api.runtime.store.get_site("depot")
    assert site is not None
    assert (site.root.limit_kw, site.root.limit_a) == (None, pytest.approx(200))


async def test_several_static_limits_at_once(api: LiveApi) -> None:
    body = {"nodes": {"grid": {"limit_kw": 120}, "feeder-ac": {"limit_kw": 70, "limit_a": 100}}}
    response = await api.client.patch("/api/v1/sites/depot/limits", headers=WRITE, json=body)
    assert response.status_code == 200
    assert [item["node_id"] for item in response.json()] == ["grid", "feeder-ac"]
    site = await api.runtime.store.get_site("depot")
    assert site is not None
    assert site.root.limit_kw == pytest.approx(120)
    assert (site.nodes()["feeder-ac"].limit_kw, site.nodes()["feeder-ac"].limit_a) == (
        pytest.approx(70),
        pytest.approx(100),
    )
    assert api.runtime.calls == [("site_changed", "depot")]


async def test_concurrent_static_limits_on_two_nodes_are_both_kept(api: LiveApi) -> None:
    first, second = await asyncio.gather(
        api.client.put("/api/v1/sites/depot/limits/grid", headers=WRITE, json={"limit_kw": 111}),
        api.client.put("/api/v1/sites/depot/limits/feeder-ac", headers=WRITE, json={"limit_kw": 77}),
    )
    assert (first.status_code, second.status_code) == (200, 200)
    site = await api.runtime.store.get_site("depot")
    assert site is not None
    assert (site.root.limit_kw, site.nodes()["feeder-ac"].limit_kw) == (pytest.approx(111), pytest.approx(77))


async def test_a_node_unknown_in_the_path_is_a_404_and_a_gun_is_told_apart(api: LiveApi) -> None:
    unknown = await api.client.put("/api/v1/sites/depot/limits/feeder-dc", headers=WRITE, json={"limit_kw": 10})
    assert unknown.status_code == 404
    assert "'feeder-dc'" in unknown.json()["detail"]
    gun = await api.client.put("/api/v1/sites/depot/limits/AC01/1", headers=WRITE, json={"limit_kw": 10})
    assert gun.status_code == 404
    assert "'AC01/1' is a gun" in gun.json()["detail"]
    series = await api.client.put(
        "/api/v1/sites/depot/limits/feeder-dc/series",
        headers=WRITE,
        json={"start": START.isoformat(), "step": "PT15M", "limit_kw": [1]},
    )
    assert series.status_code == 404
    assert api.runtime.calls == []


async def test_a_regular_series_is_stored_and_merged_with_the_static_limit(api: LiveApi) -> None:
    body = {"start": START.isoformat(), "step": "PT15M", "limit_kw": [120, 80], "limit_a": [180, 120]}
    response = await api.client.put("/api/v1/sites/depot/limits/grid/series", headers=WRITE, json=body)
    assert response.status_code == 200
    stored = (await api.runtime.store.get_limit_series("depot"))["grid"]
    assert LimitSeries.model_validate(response.json()) == stored
    assert [(step.start, step.end, step.limit_kw, step.limit_a) for step in stored.steps] == [
        (START, START + timedelta(minutes=15), 120, 180),
        (START + timedelta(minutes=15), START + timedelta(minutes=30), 80, 120),
    ]
    assert api.runtime.calls == [("site_changed", "depot")]

    window = {"start": (START - timedelta(hours=1)).isoformat(), "end": (START + timedelta(hours=1)).isoformat()}
    in_force = (await api.client.get("/api/v1/sites/depot/limits", headers=READ, params=window)).json()
    grid = next(node for node in in_force["nodes"] if node["node_id"] == "grid")
    assert (grid["static_limit_kw"], grid["static_limit_a"]) == (150, None)
    assert [(item["start"], item["limit_kw"], item["limit_a"]) for item in grid["in_force"]] == [
        ("2026-12-02T15:00:00Z", 150, None),
        ("2026-12-02T16:00:00Z", 120, 180),
        ("2026-12-02T16:15:00Z", 80, 120),
        ("2026-12-02T16:30:00Z", 150, None),
    ]
    assert grid["in_force"][-1]["end"] == "2026-12-02T17:00:00Z"
    feeder = next(node for node in in_force["nodes"] if node["node_id"] == "feeder-ac")
    assert [(item["limit_kw"], item["limit_a"]) for item in feeder["in_force"]] == [(100, None)]

    read_back = await api.client.get("/api/v1/sites/depot/limits/grid/series", headers=READ)
    assert LimitSeries.model_validate(read_back.json()) == stored


async def test_explicit_steps_in_amperes_override_only_the_static_ampere_limit(api: LiveApi) -> None:
    body = {
        "steps": [
            {"start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat(), "limit_a": 16},
            {
                "start": (START + timedelta(hours=1)).isoformat(),
                "end": (START + timedelta(hours=3)).isoformat(),
                "limit_a": 10,
            },
        ]
    }
    response = await api.client.put("/api/v1/sites/depot/limits/feeder-ac/series", headers=WRITE, json=body)
    assert response.status_code == 200
    window = {"start": START.isoformat(), "end": (START + timedelta(hours=2)).isoformat()}
    in_force = (await api.client.get("/api/v1/sites/depot/limits", headers=READ, params=window)).json()
    feeder = next(item for item in in_force["nodes"] if item["node_id"] == "feeder-ac")
    assert [(item["limit_kw"], item["limit_a"]) for item in feeder["in_force"]] == [(100, 16), (100, 10)]


async def test_limits_in_force_default_to_the_next_24_hours(api: LiveApi) -> None:
    before = datetime.now(UTC)
    response = await api.client.get("/api/v1/sites/depot/limits", headers=READ)
    body = response.json()
    start = datetime.fromisoformat(body["start"])
    assert before - timedelta(seconds=1) <= start <= datetime.now(UTC)
    assert datetime.fromisoformat(body["end"]) - start == timedelta(hours=24)
    assert {node["node_id"] for node in body["nodes"]} == {"grid", "feeder-ac"}


async def test_a_node_without_a_series_has_none_to_read(api: LiveApi) -> None:
    response = await api.client.get("/api/v1/sites/depot/limits/grid/series", headers=READ)
    assert response.status_code == 404
    assert "no limit series" in response.json()["detail"]


async def test_a_gun_takes_a_series_by_its_id_with_the_slash(api: LiveApi) -> None:
    body = {"start": START.isoformat(), "step": 900, "limit_kw": [7.4]}
    response = await api.client.put("/api/v1/sites/depot/limits/AC01/1/series", headers=WRITE, json=body)
    assert response.status_code == 200
    assert set(await api.runtime.store.get_limit_series("depot")) == {"AC01/1"}
    window = {"start": START.isoformat(), "end": (START + timedelta(hours=1)).isoformat()}
    in_force = (await api.client.get("/api/v1/sites/depot/limits", headers=READ, params=window)).json()
    gun = next(item for item in in_force["nodes"] if item["node_id"] == "AC01/1")
    assert [(item["limit_kw"], item["end"]) for item in gun["in_force"]] == [
        (7.4, "2026-12-02T16:15:00Z"),
        (None, "2026-12-02T17:00:00Z"),
    ]
    read_back = await api.client.get("/api/v1/sites/depot/limits/AC01/1/series", headers=READ)
    assert read_back.status_code == 200

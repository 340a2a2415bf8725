"""Sessions: read those in progress; overrides of departure, energy and priority are stored and re-solved."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio


async def test_the_sessions_of_a_site(api: LiveApi) -> None:
    response = await api.client.get("/api/v1/sites/depot/sessions", headers=READ)
    assert response.status_code == 200
    assert [(item["session_id"], item["gun_id"]) for item in response.json()] == [("S1", "AC01/1"), ("S2", "DC01/1")]
    assert response.json()[0]["arrival"] == "2026-12-02T07:00:00Z"
    assert (await api.client.get("/api/v1/sites/nowhere/sessions", headers=READ)).status_code == 404


async def test_an_override_is_merged_stored_and_re_solved(api: LiveApi) -> None:
    first = await api.client.patch(
        "/api/v1/sessions/S1", headers=WRITE, json={"departure": "2026-12-02T17:30:00+01:00", "priority": 2}
    )
    assert first.status_code == 200
    assert first.json() == {
        "session_id": "S1",
        "departure": "2026-12-02T16:30:00Z",
        "energy_requested_kwh": None,
        "priority": 2.0,
    }
    second = await api.client.patch("/api/v1/sessions/S1", headers=WRITE, json={"energy_requested_kwh": 12.5})
    assert second.json()["priority"] == 2.0
    stored = await api.runtime.store.get_session_override("S1")
    assert stored is not None
    assert (stored.departure, stored.energy_requested_kwh, stored.priority) == (
        datetime(2026, 12, 2, 16, 30, tzinfo=UTC),
        12.5,
        2.0,
    )
    assert api.runtime.calls == [("request_solve", "depot", "session")] * 2


async def test_an_unknown_session_is_a_404(api: LiveApi) -> None:
    response = await api.client.patch("/api/v1/sessions/S9", headers=WRITE, json={"priority": 2})
    assert response.status_code == 404
    assert "'S9'" in response.json()["detail"]
    assert api.runtime.calls == []

"""A true bug answers 500 and is logged; the service keeps serving."""

from __future__ import annotations

import logging

import pytest

from connectors.runtime import StationView
from tests.connectors.api.live import READ, LiveApi

pytestmark = pytest.mark.anyio


async def test_a_bug_is_a_logged_500_and_the_next_request_is_served(
    api: LiveApi, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(site_id: str | None = None) -> list[StationView]:
        raise RuntimeError("the runtime lost its stations")

    monkeypatch.setattr(api.runtime, "stations", broken)
    with caplog.at_level(logging.ERROR, logger="connectors.api.errors"):
        response = await api.client.get("/api/v1/stations", headers=READ)
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error (logged)"}
    assert "the runtime lost its stations" not in response.text
    logged = [record for record in caplog.records if record.name == "connectors.api.errors"]
    assert logged
    assert "GET /api/v1/stations" in logged[0].getMessage()
    assert (await api.client.get("/api/v1/sites", headers=READ)).status_code == 200

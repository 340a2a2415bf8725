"""Tariffs: a price series or a time-of-use definition per site; a write asks for a re-solve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from models import PriceSeries, TimeOfUseTariff
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio

START = datetime(2026, 12, 2, 0, 0, tzinfo=UTC)


async def test_a_price_series_from_start_step_and_values(api: LiveApi) -> None:
    assert (await api.client.get("/api/v1/sites/depot/tariff", headers=READ)).status_code == 404
    body = {"start": "2026-12-02T01:00:00+01:00", "step": "PT30M", "price_per_kwh": [0.3, 0.1, -0.02]}
    response = await api.client.put("/api/v1/sites/depot/tariff", headers=WRITE, json=body)
    assert response.status_code == 200
    stored = await api.runtime.store.get_tariff("depot")
    assert isinstance(stored, PriceSeries)
    assert [(step.start, step.price_per_kwh) for step in stored.steps] == [
        (START, 0.3),
        (START + timedelta(minutes=30), 0.1),
        (START + timedelta(minutes=60), -0.02),
    ]
    assert stored.steps[-1].end == START + timedelta(minutes=90)
    assert api.runtime.calls == [("request_solve", "depot", "tariff")]
    read_back = (await api.client.get("/api/v1/sites/depot/tariff", headers=READ)).json()
    assert read_back["kind"] == "price_series"
    assert PriceSeries.model_validate(read_back["price_series"]) == stored


async def test_a_price_series_as_explicit_steps(api: LiveApi) -> None:
    body = {
        "steps": [
            {"start": "2026-12-02T00:00:00Z", "end": "2026-12-02T06:00:00Z", "price_per_kwh": 0.1},
            {"start": "2026-12-02T06:00:00Z", "end": "2026-12-02T07:00:00Z", "price_per_kwh": 0.3},
        ]
    }
    response = await api.client.put("/api/v1/sites/depot/tariff", headers=WRITE, json=body)
    assert response.status_code == 200
    assert await api.runtime.store.get_tariff("depot") == PriceSeries.model_validate(body)


async def test_a_time_of_use_tariff_replaces_the_series(api: LiveApi) -> None:
    series = {"start": START.isoformat(), "step": 3600, "price_per_kwh": [0.2]}
    assert (await api.client.put("/api/v1/sites/depot/tariff", headers=WRITE, json=series)).status_code == 200
    body = {"default_price_per_kwh": 0.3, "bands": [{"start_hour": 0, "end_hour": 6, "price_per_kwh": 0.1}]}
    response = await api.client.put("/api/v1/sites/depot/tariff", headers=WRITE, json=body)
    assert response.status_code == 200
    assert await api.runtime.store.get_tariff("depot") == TimeOfUseTariff.model_validate(body)
    read_back = (await api.client.get("/api/v1/sites/depot/tariff", headers=READ)).json()
    assert (read_back["kind"], read_back["price_series"]) == ("time_of_use", None)
    assert TimeOfUseTariff.model_validate(read_back["time_of_use"]) == TimeOfUseTariff.model_validate(body)
    assert api.runtime.calls == [("request_solve", "depot", "tariff")] * 2

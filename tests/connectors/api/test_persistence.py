"""What the API acknowledged with a 2xx is in the store file and reads back after a restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.runtime import SessionView
from connectors.store import SqliteStore
from models import LimitSeries, Site, TimeOfUseTariff
from tests.connectors.api.live import READ, WRITE, api_on

pytestmark = pytest.mark.anyio

SERIES = {"start": "2026-12-02T16:00:00Z", "step": "PT1H", "limit_kw": [90, 60]}
TARIFF = {"default_price_per_kwh": 0.3, "bands": [{"start_hour": 1, "end_hour": 5, "price_per_kwh": 0.1}]}


async def test_limits_tariffs_overrides_and_stations_survive_a_restart(
    store_path: Path, site: Site, sessions: list[SessionView]
) -> None:
    async with api_on(store_path, site, sessions) as api:
        writes = [
            await api.client.put("/api/v1/sites/depot/limits/grid", headers=WRITE, json={"limit_kw": 60}),
            await api.client.put("/api/v1/sites/depot/limits/feeder-ac/series", headers=WRITE, json=SERIES),
            await api.client.put("/api/v1/sites/depot/tariff", headers=WRITE, json=TARIFF),
            await api.client.patch("/api/v1/sessions/S2", headers=WRITE, json={"priority": 3}),
            await api.client.put("/api/v1/stations/DC01", headers=WRITE, json={"site_id": "depot"}),
        ]
        assert all(response.is_success for response in writes), [response.text for response in writes]
        series = LimitSeries.model_validate(writes[1].json())

    async with SqliteStore(store_path) as store:
        stored_site = await store.get_site("depot")
        assert stored_site is not None
        assert stored_site.root.limit_kw == pytest.approx(60)
        assert await store.get_limit_series("depot") == {"feeder-ac": series}

    async with api_on(store_path, site, sessions) as api:
        grid = (await api.client.get("/api/v1/sites/depot", headers=READ)).json()["root"]
        assert grid["limit_kw"] == 60
        read_series = await api.client.get("/api/v1/sites/depot/limits/feeder-ac/series", headers=READ)
        assert LimitSeries.model_validate(read_series.json()) == series
        tariff = (await api.client.get("/api/v1/sites/depot/tariff", headers=READ)).json()
        assert TimeOfUseTariff.model_validate(tariff["time_of_use"]) == TimeOfUseTariff.model_validate(TARIFF)
        override = await api.runtime.store.get_session_override("S2")
        assert override is not None
        assert override.priority == 3
        stations = (await api.client.get("/api/v1/stations", headers=READ)).json()
        assert [station["station_id"] for station in stations] == ["DC01"]

"""Stations: registered with a hashed password, read with their live state, removed."""

from __future__ import annotations

import pytest

from connectors.ocpp.security import verify_password
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio

PASSWORD = "correct-horse-battery"


async def test_a_station_is_registered_with_its_password_hashed(api: LiveApi) -> None:
    response = await api.client.put(
        "/api/v1/stations/AC01", headers=WRITE, json={"site_id": "depot", "password": PASSWORD}
    )
    assert response.status_code == 201
    assert response.json() == {"station_id": "AC01", "site_id": "depot", "has_password": True}
    assert PASSWORD not in response.text
    record = await api.runtime.store.get_station("AC01")
    assert record is not None
    assert record.password_hash is not None
    assert PASSWORD not in record.password_hash
    assert verify_password(PASSWORD, record.password_hash)
    assert api.runtime.calls == [("station_registered", "AC01")]


async def test_a_password_is_kept_when_absent_and_removed_when_null(api: LiveApi) -> None:
    await api.client.put("/api/v1/stations/AC01", headers=WRITE, json={"site_id": "depot", "password": PASSWORD})
    first = await api.runtime.store.get_station("AC01")
    kept = await api.client.put("/api/v1/stations/AC01", headers=WRITE, json={"site_id": "depot"})
    assert kept.status_code == 200
    assert kept.json()["has_password"] is True
    assert await api.runtime.store.get_station("AC01") == first
    removed = await api.client.put("/api/v1/stations/AC01", headers=WRITE, json={"site_id": "depot", "password": None})
    assert removed.json()["has_password"] is False
    record = await api.runtime.store.get_station("AC01")
    assert record is not None
    assert record.password_hash is None


async def test_live_state_lists_the_stations_with_their_guns(api: LiveApi) -> None:
    for station_id in ["AC01", "DC01"]:
        await api.client.put(f"/api/v1/stations/{station_id}", headers=WRITE, json={"site_id": "depot"})
    listed = (await api.client.get("/api/v1/stations", headers=READ, params={"site_id": "depot"})).json()
    assert [station["station_id"] for station in listed] == ["AC01", "DC01"]
    one = (await api.client.get("/api/v1/stations/AC01", headers=READ)).json()
    assert (one["connected"], one["ocpp_version"]) == (False, None)
    assert [(gun["gun_id"], gun["controllable"], gun["uncontrolled_reason"]) for gun in one["guns"]] == [
        ("AC01/1", False, "not connected")
    ]
    assert (await api.client.get("/api/v1/stations", headers=READ, params={"site_id": "nowhere"})).status_code == 404
    assert (await api.client.get("/api/v1/stations/XX99", headers=READ)).status_code == 404


async def test_a_removed_station_is_forgotten(api: LiveApi) -> None:
    await api.client.put("/api/v1/stations/AC01", headers=WRITE, json={"site_id": "depot"})
    response = await api.client.delete("/api/v1/stations/AC01", headers=WRITE)
    assert response.status_code == 204
    assert await api.runtime.store.get_station("AC01") is None
    assert api.runtime.calls[-1] == ("station_removed", "AC01")
    assert (await api.client.get("/api/v1/stations/AC01", headers=READ)).status_code == 404
    again = await api.client.delete("/api/v1/stations/AC01", headers=WRITE)
    assert again.status_code == 404
    assert "'AC01'" in again.json()["detail"]

"""Sites: created and replaced from the same JSON as the YAML file, read back, one by one or all."""

from __future__ import annotations

import pytest

from models import Site
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio


def yard() -> dict[str, object]:
    return {
        "id": "yard",
        "root": {
            "id": "yard-grid",
            "limit_kw": 50,
            "guns": [{"station_id": "Y01", "max_power_kw": 11}, {"station_id": "Y02", "max_power_kw": 11}],
        },
    }


async def test_a_site_is_created_then_replaced_and_read_back(api: LiveApi) -> None:
    created = await api.client.put("/api/v1/sites/yard", headers=WRITE, json=yard())
    assert created.status_code == 201
    assert Site.model_validate(created.json()) == Site.model_validate(yard())
    assert await api.runtime.store.get_site("yard") == Site.model_validate(yard())
    assert api.runtime.calls == [("site_changed", "yard")]

    replacement = yard() | {"timezone": "Europe/Berlin"}
    replaced = await api.client.put("/api/v1/sites/yard", headers=WRITE, json=replacement)
    assert replaced.status_code == 200
    one = await api.client.get("/api/v1/sites/yard", headers=READ)
    assert Site.model_validate(one.json()) == Site.model_validate(replacement)
    listed = await api.client.get("/api/v1/sites", headers=READ)
    assert [site["id"] for site in listed.json()] == ["depot", "yard"]
    assert api.runtime.calls == [("site_changed", "yard"), ("site_changed", "yard")]


async def test_the_example_site_reads_back_as_its_yaml_file(api: LiveApi, site: Site) -> None:
    response = await api.client.get("/api/v1/sites/depot", headers=READ)
    assert Site.model_validate(response.json()) == site


async def test_an_unknown_site_is_a_404_naming_it(api: LiveApi) -> None:
    for path in ["/api/v1/sites/nowhere", "/api/v1/sites/nowhere/limits", "/api/v1/sites/nowhere/plan"]:
        response = await api.client.get(path, headers=READ)
        assert response.status_code == 404
        assert "'nowhere'" in response.json()["detail"]

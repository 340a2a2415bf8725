"""Every route but health and readiness needs a key: 401 without a valid one, 403 for a read key on a write."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.connectors.api.live import READ, STORED_READ_KEY, WRITE, LiveApi

pytestmark = pytest.mark.anyio

PATH_VALUES = {"site_id": "depot", "node_id": "grid", "station_id": "AC01", "session_id": "S1"}


async def operations(client: httpx.AsyncClient) -> list[tuple[str, str]]:
    """(method, path) of every operation the OpenAPI document lists, path parameters filled in."""
    document: dict[str, Any] = (await client.get("/api/v1/openapi.json")).json()
    return [
        (method.upper(), path.format(**PATH_VALUES))
        for path, item in document["paths"].items()
        for method in item
        if path not in {"/healthz", "/readyz"}
    ]


async def test_every_route_but_health_refuses_a_request_without_a_valid_key(api: LiveApi) -> None:
    routes = await operations(api.client)
    assert ("GET", "/metrics") in routes
    assert len(routes) >= 20
    for method, path in routes:
        for headers in [{}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic dXNlcjpwYXNz"}]:
            response = await api.client.request(method, path, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers, response.text)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert api.runtime.calls == []


async def test_a_read_key_may_read_but_not_write(api: LiveApi) -> None:
    routes = await operations(api.client)
    writes = [(method, path) for method, path in routes if method != "GET"]
    assert {method for method, _ in writes} == {"PUT", "PATCH", "DELETE"}
    for method, path in writes:
        response = await api.client.request(method, path, headers=READ, json={"limit_kw": 1})
        assert response.status_code == 403, (method, path, response.text)
        assert "read scope" in response.json()["detail"]
    assert api.runtime.calls == []
    assert (await api.client.get("/api/v1/sites/depot", headers=READ)).status_code == 200


async def test_a_key_kept_in_the_store_is_accepted_with_its_scope(api: LiveApi) -> None:
    stored = {"Authorization": f"Bearer {STORED_READ_KEY}"}
    assert (await api.client.get("/api/v1/sites", headers=stored)).status_code == 200
    assert (await api.client.get("/metrics", headers=stored)).status_code == 200
    response = await api.client.put("/api/v1/sites/depot/limits/grid", headers=stored, json={"limit_kw": 90})
    assert response.status_code == 403


async def test_health_and_readiness_need_no_key(api: LiveApi) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    assert (await api.client.get("/readyz")).json() == {"status": "ready"}
    api.runtime.is_ready = False
    not_ready = await api.client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"status": "not ready"}
    assert (await api.client.get("/healthz")).status_code == 200


async def test_metrics_are_prometheus_text(api: LiveApi) -> None:
    response = await api.client.get("/metrics", headers=READ)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.content == api.runtime.metrics()
    assert (await api.client.get("/metrics", headers=WRITE)).status_code == 200

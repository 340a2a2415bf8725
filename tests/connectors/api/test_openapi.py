"""The OpenAPI document: every route under /api/v1 (but health and metrics), every write with an example."""

from __future__ import annotations

from typing import Any

import pytest

from tests.connectors.api.live import LiveApi

pytestmark = pytest.mark.anyio


async def test_every_write_has_a_request_example_and_every_route_is_versioned(api: LiveApi) -> None:
    document: dict[str, Any] = (await api.client.get("/api/v1/openapi.json")).json()
    assert set(document["components"]["securitySchemes"]) == {"ApiKey"}
    assert {path for path in document["paths"] if not path.startswith("/api/v1/")} == {
        "/healthz",
        "/readyz",
        "/metrics",
    }
    writes = [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in {"put", "patch", "post"}
    ]
    assert len(writes) >= 7
    for method, path, operation in writes:
        content = operation["requestBody"]["content"]["application/json"]
        assert content.get("examples"), f"{method.upper()} {path} has no request example"
    docs = await api.client.get("/api/v1/docs")
    assert docs.status_code == 200

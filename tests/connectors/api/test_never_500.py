"""Whatever a client sends to a write route, the answer is not a 5xx, and every read still works after it.

Bodies are valid examples with one part replaced by arbitrary JSON (or removed), so that they reach
the validators deep inside, not only the first type check.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.api.schemas import (
    LIMIT_SERIES_EXAMPLE,
    LIMIT_STEPS_EXAMPLE,
    PRICE_SERIES_EXAMPLE,
    PRICE_STEPS_EXAMPLE,
    SITE_EXAMPLE,
    TIME_OF_USE_EXAMPLE,
)
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio

WRITES: list[tuple[str, str, dict[str, Any]]] = [
    ("PUT", "/api/v1/sites/depot", SITE_EXAMPLE | {"id": "depot"}),
    ("PUT", "/api/v1/sites/depot/limits/grid", {"limit_kw": 100, "limit_a": 160}),
    ("PATCH", "/api/v1/sites/depot/limits", {"nodes": {"grid": {"limit_kw": 120}}}),
    ("PUT", "/api/v1/sites/depot/limits/grid/series", LIMIT_SERIES_EXAMPLE),
    ("PUT", "/api/v1/sites/depot/limits/grid/series", LIMIT_STEPS_EXAMPLE),
    ("PUT", "/api/v1/sites/depot/tariff", PRICE_SERIES_EXAMPLE),
    ("PUT", "/api/v1/sites/depot/tariff", PRICE_STEPS_EXAMPLE),
    ("PUT", "/api/v1/sites/depot/tariff", TIME_OF_USE_EXAMPLE),
    ("PUT", "/api/v1/stations/AC01", {"site_id": "depot"}),
    ("PATCH", "/api/v1/sessions/S1", {"departure": "2026-12-02T17:30:00+01:00", "priority": 2}),
]
READS = [
    "/api/v1/sites",
    "/api/v1/sites/depot/limits",
    "/api/v1/sites/depot/limits/grid/series",
    "/api/v1/sites/depot/tariff",
    "/api/v1/stations",
    "/api/v1/sites/depot/sessions",
]
REMOVE = object()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
    | st.sampled_from(
        ["2026-12-02T16:00:00", "2026-12-02T16:00:00Z", "0001-01-01T00:00:00+14:00", "PT15M", "-PT1H", "P9999D"]
    ),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)


def parts(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """The path of every part of a JSON value, itself included."""
    yield path
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    for key, item in items:
        yield from parts(item, (*path, key))


def replaced(body: dict[str, Any], path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return None if new is REMOVE else new
    result = copy.deepcopy(body)
    parent = result
    for key in path[:-1]:
        parent = parent[key]
    if new is REMOVE:
        del parent[path[-1]]
    else:
        parent[path[-1]] = new
    return result


@st.composite
def mutations(draw: st.DrawFn, body: dict[str, Any]) -> Any:
    path = draw(st.sampled_from(list(parts(body))))
    return replaced(body, path, draw(json_values | st.just(REMOVE)))


requests = st.sampled_from(WRITES).flatmap(
    lambda write: mutations(write[2]).map(lambda body: (write[0], write[1], body))
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=requests)
async def test_no_body_gets_a_5xx_and_reads_keep_working(api: LiveApi, request: tuple[str, str, Any]) -> None:
    method, path, body = request
    response = await api.client.request(method, path, headers=WRITE, json=body)
    assert response.status_code < 500, (method, path, body, response.text)
    for read in READS:
        assert (await api.client.get(read, headers=READ)).status_code in {200, 404}, read

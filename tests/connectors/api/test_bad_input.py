"""Bad input gets a 4xx naming the field and the reason, changes nothing, and the service goes on."""

from __future__ import annotations

from typing import Any

import pytest

from models import Site
from tests.connectors.api.live import READ, WRITE, LiveApi

pytestmark = pytest.mark.anyio

START = "2026-12-02T16:00:00Z"


def steps(*bounds: tuple[str, str]) -> dict[str, Any]:
    return {"steps": [{"start": start, "end": end, "limit_kw": 50} for start, end in bounds]}


# (what, method, path, body, status, location of the error, words of the message)
BAD_INPUTS: list[tuple[str, str, str, Any, int, list[Any], str]] = [
    ("negative static limit", "PUT", "/api/v1/sites/depot/limits/grid", {"limit_kw": -5}, 422,
     ["body", "limit_kw"], "greater than or equal to 0"),
    ("negative ampere limit", "PATCH", "/api/v1/sites/depot/limits", {"nodes": {"grid": {"limit_a": -1}}}, 422,
     ["body", "nodes", "grid", "limit_a"], "greater than or equal to 0"),
    ("unknown node in the body", "PATCH", "/api/v1/sites/depot/limits", {"nodes": {"feeder-dc": {"limit_kw": 5}}},
     422, ["body", "nodes", "feeder-dc"], "no node 'feeder-dc'"),
    ("negative value in a series", "PUT", "/api/v1/sites/depot/limits/grid/series",
     {"start": START, "step": "PT15M", "limit_kw": [50, -1]}, 422, ["body", "regular", "limit_kw", 1],
     "greater than or equal to 0"),
    ("series with a gap", "PUT", "/api/v1/sites/depot/limits/grid/series",
     steps((START, "2026-12-02T17:00:00Z"), ("2026-12-02T18:00:00Z", "2026-12-02T19:00:00Z")), 422,
     ["body", "steps", "steps"], "steps[1].start 2026-12-02 18:00:00+00:00 leaves a gap"),
    ("series out of order", "PUT", "/api/v1/sites/depot/limits/grid/series",
     steps(("2026-12-02T18:00:00Z", "2026-12-02T19:00:00Z"), (START, "2026-12-02T17:00:00Z")), 422,
     ["body", "steps", "steps"], "out of order"),
    ("series step ending before it starts", "PUT", "/api/v1/sites/depot/limits/grid/series",
     steps(("2026-12-02T18:00:00Z", START)), 422, ["body", "steps", "steps", 0], "not after it"),
    ("series of unequal kW and A values", "PUT", "/api/v1/sites/depot/limits/grid/series",
     {"start": START, "step": "PT15M", "limit_kw": [50, 40], "limit_a": [80]}, 422, ["body", "regular"],
     "limit_kw has 2 values but limit_a 1"),
    ("series with no step length", "PUT", "/api/v1/sites/depot/limits/grid/series",
     {"start": START, "step": "PT0S", "limit_kw": [50]}, 422, ["body", "regular", "step"], "greater than"),
    ("naive timestamp in a series", "PUT", "/api/v1/sites/depot/limits/grid/series",
     {"start": "2026-12-02T16:00:00", "step": "PT15M", "limit_kw": [50]}, 422, ["body", "regular", "start"],
     "timezone"),
    ("timestamp off the calendar's safe range", "PUT", "/api/v1/sites/depot/limits/grid/series",
     {"start": "9999-12-31T20:00:00-05:00", "step": "PT15M", "limit_kw": [50]}, 422, ["body", "regular", "start"],
     "not between 1970 and 2999"),
    ("price steps with a gap", "PUT", "/api/v1/sites/depot/tariff",
     {"steps": [{"start": START, "end": "2026-12-02T17:00:00Z", "price_per_kwh": 0.1},
                {"start": "2026-12-02T18:00:00Z", "end": "2026-12-02T19:00:00Z", "price_per_kwh": 0.2}]}, 422,
     ["body", "steps", "steps"], "leaves a gap"),
    ("naive timestamp in a tariff", "PUT", "/api/v1/sites/depot/tariff",
     {"start": "2026-12-02T16:00:00", "step": "PT1H", "price_per_kwh": [0.2]}, 422, ["body", "regular", "start"],
     "timezone"),
    ("naive departure", "PATCH", "/api/v1/sessions/S1", {"departure": "2026-12-02T18:00:00"}, 422,
     ["body", "departure"], "timezone"),
    ("naive window start", "GET", "/api/v1/sites/depot/limits?start=2026-12-02T16:00:00", None, 422,
     ["query", "start"], "timezone"),
    ("window ending before it starts", "GET",
     "/api/v1/sites/depot/history?start=2026-12-02T16:00:00Z&end=2026-12-02T15:00:00Z", None, 422,
     ["query", "end"], "must be after start"),
    ("time-of-use band wrapping midnight", "PUT", "/api/v1/sites/depot/tariff",
     {"default_price_per_kwh": 0.3, "bands": [{"start_hour": 22, "end_hour": 6, "price_per_kwh": 0.1}]}, 422,
     ["body", "time_of_use", "bands", 0], "end_hour must be after start_hour"),
    ("site id not the path's", "PUT", "/api/v1/sites/depot",
     {"id": "yard", "root": {"id": "grid"}}, 422, ["body", "id"], "must match the path's 'depot'"),
    ("id twice in a site's tree", "PUT", "/api/v1/sites/depot",
     {"id": "depot", "root": {"id": "grid", "children": [{"id": "grid"}]}}, 422, ["body", "root"],
     "'grid' appears twice"),
    ("unknown time zone", "PUT", "/api/v1/sites/depot",
     {"id": "depot", "timezone": "Mars/Olympus", "root": {"id": "grid"}}, 422, ["body", "timezone"],
     "unknown IANA time zone"),
    ("station on an unknown site", "PUT", "/api/v1/stations/AC01", {"site_id": "yard"}, 422, ["body", "site_id"],
     "no site 'yard'"),
    ("short station password", "PUT", "/api/v1/stations/AC01", {"site_id": "depot", "password": "secret"}, 422,
     ["body", "password"], "at least 8"),
    ("departure before arrival", "PATCH", "/api/v1/sessions/S1", {"departure": "2026-12-02T06:00:00Z"}, 422,
     ["body", "departure"], "after the arrival"),
    ("priority out of range", "PATCH", "/api/v1/sessions/S1", {"priority": 0}, 422, ["body", "priority"],
     "greater than or equal to 0.01"),
    ("empty session patch", "PATCH", "/api/v1/sessions/S1", {}, 422, ["body"],
     "give departure, energy_requested_kwh or priority"),
    ("unknown field", "PUT", "/api/v1/sites/depot/limits/grid", {"limit_kw": 5, "limit_w": 5000}, 422,
     ["body", "limit_w"], "Extra inputs are not permitted"),
    ("not JSON", "PUT", "/api/v1/sites/depot/limits/grid", "{limit_kw: 5", 422, ["body", 1], "JSON"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "loc", "words"),
    [case[1:] for case in BAD_INPUTS],
    ids=[case[0] for case in BAD_INPUTS],
)
async def test_bad_input_is_refused_naming_the_field_and_the_service_goes_on(
    api: LiveApi, site: Site, method: str, path: str, body: Any, status: int, loc: list[Any], words: str
) -> None:
    content = body if isinstance(body, str) else None
    json = None if isinstance(body, str) else body
    response = await api.client.request(
        method, path, headers=WRITE | {"Content-Type": "application/json"}, json=json, content=content
    )
    assert response.status_code == status, response.text
    errors = response.json()["detail"]
    assert any(error["loc"] == loc and words in error["msg"] for error in errors), errors
    if isinstance(body, dict) and "password" in body:
        assert body["password"] not in response.text
    assert api.runtime.calls == []
    assert await api.runtime.store.get_site("depot") == site
    assert await api.runtime.store.get_limit_series("depot") == {}
    assert await api.runtime.store.get_tariff("depot") is None
    assert await api.runtime.store.get_session_override("S1") is None
    assert await api.runtime.store.get_station("AC01") is None
    assert (await api.client.get("/api/v1/sites/depot", headers=READ)).status_code == 200
    assert (await api.client.put("/api/v1/sites/depot/limits/grid", headers=WRITE, json={"limit_kw": 140})).is_success

"""GetCompositeSchedule answers of both versions read tolerantly as kW steps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from connectors.ocpp.composite import composite_from_v16, composite_from_v201
from tests.connectors.payloads import JSON, NOW, STAMP, ocpp_valid


def v16_composite(periods: list[dict[str, Any]], unit: str = "A", **schedule: Any) -> dict[str, Any]:
    return {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": STAMP,
        "chargingSchedule": {"chargingRateUnit": unit, "chargingSchedulePeriod": periods, **schedule},
    }


def test_a_v16_composite_in_amperes_becomes_kw_steps() -> None:
    payload = v16_composite(
        [
            {"startPeriod": 0, "limit": 16.0},
            {"startPeriod": 600, "limit": 16.0, "numberPhases": 1},
            {"startPeriod": 1200, "limit": 0},
        ],
        duration=3600,
    )
    assert ocpp_valid("GetCompositeSchedule", payload, "1.6", response=True)
    assert composite_from_v16(payload, NOW) == [
        (NOW, pytest.approx(11.04)),
        (NOW + timedelta(minutes=10), pytest.approx(3.68)),
        (NOW + timedelta(minutes=20), 0.0),
    ]


def test_untidy_composites_are_read_without_wrong_numbers() -> None:
    empty = v16_composite([])
    assert composite_from_v16(empty, NOW) == [(NOW, None)]
    no_limit = v16_composite([{"startPeriod": 0, "limit": -1}, {"startPeriod": 60, "limit": 7400}], unit="W")
    assert composite_from_v16(no_limit, NOW) == [(NOW, None), (NOW + timedelta(minutes=1), 7.4)]
    huge = v16_composite(
        [{"startPeriod": 0, "limit": 10}, {"startPeriod": 9_000_000_000_000, "limit": 6}], duration=10**13
    )
    assert composite_from_v16(huge, NOW) == [(NOW, pytest.approx(6.9))]
    assert composite_from_v16({"status": "Rejected"}, NOW) == []
    assert composite_from_v16({"status": "Accepted"}, NOW) == []
    no_start = {
        "status": "Accepted",
        "chargingSchedule": {"chargingRateUnit": "W", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "3000"}]},
    }
    assert composite_from_v16(no_start, NOW) == [(NOW, 3.0)]
    junk = v16_composite(
        [{"startPeriod": 0, "limit": 8000}, {"startPeriod": "soon"}, None, {"startPeriod": 0, "limit": 6000}], unit="W"
    )
    assert composite_from_v16(junk, NOW) == [(NOW, 6.0)]  # two periods at one instant: the smaller
    assert composite_from_v16(v16_composite([{"startPeriod": 0, "limit": 1}], unit="kW"), NOW) == []
    assert composite_from_v16("Accepted", NOW) == []  # type: ignore[arg-type]


@settings(max_examples=150, deadline=None)
@given(
    payload=JSON,
    schedule=st.dictionaries(
        st.sampled_from(["chargingRateUnit", "chargingSchedulePeriod", "scheduleStart", "startSchedule"]), JSON
    ),
)
def test_no_composite_ever_raises(payload: Any, schedule: dict[str, Any]) -> None:
    for candidate in (payload, {"status": "Accepted", "chargingSchedule": schedule, "schedule": schedule}):
        for steps in (composite_from_v16(candidate, NOW), composite_from_v201(candidate, NOW)):
            assert all(limit is None or limit >= 0 for _, limit in steps)


def test_a_v201_composite() -> None:
    payload = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 86_400,
            "scheduleStart": "2024-01-15T13:00:00+01:00",
            "chargingRateUnit": "W",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 11000.0}, {"startPeriod": 3600, "limit": -1}],
        },
    }
    assert ocpp_valid("GetCompositeSchedule", payload, "2.0.1", response=True)
    assert composite_from_v201(payload, NOW - timedelta(hours=5)) == [(NOW, 11.0), (NOW + timedelta(hours=1), None)]
    assert composite_from_v201({"status": "Rejected", "statusInfo": {"reasonCode": "NoProfile"}}, NOW) == []


def test_a_v16_composite_with_decimal_numbers_as_the_ocpp_library_hands_it_over() -> None:
    """The library parses 1.6 GetCompositeSchedule answers with `Decimal` floats to check their precision."""
    periods = [{"startPeriod": 0, "limit": Decimal("4140.0")}, {"startPeriod": 60, "limit": Decimal("-1")}]
    payload = v16_composite(periods, unit="W")
    assert composite_from_v16(payload, NOW) == [(NOW, 4.14), (NOW + timedelta(minutes=1), None)]
    assert composite_from_v16(v16_composite([{"startPeriod": 0, "limit": Decimal("NaN")}]), NOW) == [(NOW, None)]

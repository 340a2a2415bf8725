"""Shared fixtures of the OCPP translation tests: instants, guns, stations, and the wire validator.

Outbound payloads are checked against the JSON schemas shipped in the `ocpp` package, through the
package's own validator (the one its server runs on each message).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import strategies as st
from ocpp.messages import Call, CallResult, validate_payload

from models import Gun, GunKind, StationCapabilities

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
STAMP = "2024-01-15T12:00:00Z"
LATER = "2024-01-15T12:01:00Z"
QUARTER = timedelta(minutes=15)
AC3 = Gun(station_id="AC01", evse_id=1, max_power_kw=22, phases=3)
AC1 = Gun(station_id="AC02", evse_id=2, max_power_kw=7.4, phases=1)
DC = Gun(station_id="DC01", kind=GunKind.DC, max_power_kw=50, min_power_kw=5)
ROOMY = StationCapabilities(ocpp_version="1.6", max_periods_per_schedule=24, max_stack_level=8)


def ocpp_valid(action: str, payload: dict[str, Any], version: str, *, response: bool = False) -> bool:
    """Validate as the ocpp package does on the wire; raises its own error when invalid."""
    message = CallResult("1", payload, action) if response else Call("1", action, payload)
    asyncio.run(validate_payload(message, version))
    return True


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)

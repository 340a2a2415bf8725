"""2.0.1 NotifyEVChargingNeeds -> `EVChargingNeeds`: what the car says it needs, read tolerantly."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from connectors.ocpp.events import EVChargingNeeds
from connectors.ocpp.parsing import is_int, parse_time, read_number
from models.site import gun_id as make_gun_id
from models.units import WATTS_PER_KW

WH_PER_KWH = 1000.0


def charging_needs_from_v201(
    payload: Mapping[str, Any], station_id: str, received_at: datetime
) -> EVChargingNeeds | None:
    """The needs of a NotifyEVChargingNeeds request; None without a valid EVSE id.

    Energy is in Wh on the wire, AC currents in A per phase, DC power in W; a part that is missing
    or not a non-negative number stays None.
    """
    evse_id = payload.get("evseId") if isinstance(payload, Mapping) else None
    if not is_int(evse_id) or evse_id < 1:
        return None
    needs = payload.get("chargingNeeds")
    needs = needs if isinstance(needs, Mapping) else {}
    ac = needs.get("acChargingParameters")
    dc = needs.get("dcChargingParameters")
    parameters: Mapping[str, Any] = ac if isinstance(ac, Mapping) else dc if isinstance(dc, Mapping) else {}

    def positive(key: str, scale: float = 1.0) -> float | None:
        value = read_number(parameters.get(key))
        return None if value is None or value < 0 else value / scale

    return EVChargingNeeds(
        gun_id=make_gun_id(station_id, evse_id),
        at=received_at,
        departure=parse_time(needs.get("departureTime"), [], station_id),
        energy_requested_kwh=positive("energyAmount", WH_PER_KWH),
        max_power_kw=positive("evMaxPower", WATTS_PER_KW) if parameters is dc else None,
        max_current_a=positive("evMaxCurrent"),
    )

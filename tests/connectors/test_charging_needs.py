"""2.0.1 NotifyEVChargingNeeds -> `EVChargingNeeds` in our units, read tolerantly."""

from __future__ import annotations

from connectors.ocpp.charging_needs import charging_needs_from_v201
from tests.connectors.payloads import NOW


def test_ev_charging_needs_in_our_units() -> None:
    ac = {
        "evseId": 2,
        "chargingNeeds": {
            "requestedEnergyTransfer": "AC_three_phase",
            "departureTime": "2024-01-15T17:30:00Z",
            "acChargingParameters": {
                "energyAmount": 30_000,
                "evMinCurrent": 6,
                "evMaxCurrent": 16,
                "evMaxVoltage": 400,
            },
        },
    }
    needs = charging_needs_from_v201(ac, "CP1", NOW)
    assert needs is not None
    assert (needs.gun_id, needs.departure, needs.energy_requested_kwh) == ("CP1/2", NOW.replace(hour=17, minute=30), 30)
    assert (needs.max_current_a, needs.max_power_kw) == (16, None)
    dc = {
        "evseId": 1,
        "chargingNeeds": {"dcChargingParameters": {"evMaxCurrent": 200, "evMaxVoltage": 800, "evMaxPower": 150_000}},
    }
    needs = charging_needs_from_v201(dc, "CP1", NOW)
    assert needs is not None
    assert (needs.max_power_kw, needs.energy_requested_kwh, needs.departure) == (150, None, None)
    assert charging_needs_from_v201({"evseId": 0}, "CP1", NOW) is None
    assert charging_needs_from_v201({"evseId": 1, "chargingNeeds": "junk"}, "CP1", NOW) is not None

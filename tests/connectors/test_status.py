"""OCPP connector / EVSE states of both versions -> `GunStatus`."""

from __future__ import annotations

from connectors.ocpp.status import gun_status_from_v16, gun_status_from_v201
from models import GunStatus


def test_statuses_of_both_versions() -> None:
    assert gun_status_from_v16("SuspendedEVSE") is GunStatus.SUSPENDED_EVSE
    assert gun_status_from_v16("Finishing") is GunStatus.FINISHING
    assert gun_status_from_v16("Sleeping") is None
    assert gun_status_from_v16(None) is None
    assert gun_status_from_v201("Occupied") is GunStatus.OCCUPIED
    assert gun_status_from_v201("Occupied", "SuspendedEV") is GunStatus.SUSPENDED_EV
    assert gun_status_from_v201("Occupied", "Idle") is GunStatus.OCCUPIED
    assert gun_status_from_v201(3) is None

"""Connector / EVSE states of both versions -> `GunStatus`."""

from __future__ import annotations

from models import GunStatus

_V16_STATUSES = {
    "available": GunStatus.AVAILABLE,
    "preparing": GunStatus.PREPARING,
    "charging": GunStatus.CHARGING,
    "suspendedev": GunStatus.SUSPENDED_EV,
    "suspendedevse": GunStatus.SUSPENDED_EVSE,
    "finishing": GunStatus.FINISHING,
    "reserved": GunStatus.RESERVED,
    "unavailable": GunStatus.UNAVAILABLE,
    "faulted": GunStatus.FAULTED,
}
_V201_CONNECTOR_STATUSES = {
    "available": GunStatus.AVAILABLE,
    "occupied": GunStatus.OCCUPIED,
    "reserved": GunStatus.RESERVED,
    "unavailable": GunStatus.UNAVAILABLE,
    "faulted": GunStatus.FAULTED,
}
# 2.0.1 TransactionEvent chargingState; "Idle" says nothing a StatusNotification does not.
_V201_CHARGING_STATES = {
    "charging": GunStatus.CHARGING,
    "suspendedev": GunStatus.SUSPENDED_EV,
    "suspendedevse": GunStatus.SUSPENDED_EVSE,
    "evconnected": GunStatus.OCCUPIED,
}


def gun_status_from_v16(status: object) -> GunStatus | None:
    """A 1.6 StatusNotification `status` (None when it is not one)."""
    return _V16_STATUSES.get(status.lower()) if isinstance(status, str) else None


def gun_status_from_v201(connector_status: object = None, charging_state: object = None) -> GunStatus | None:
    """A 2.0.1 `connectorStatus` refined by a TransactionEvent's `chargingState` where that says more."""
    if isinstance(charging_state, str) and charging_state.lower() in _V201_CHARGING_STATES:
        return _V201_CHARGING_STATES[charging_state.lower()]
    return _V201_CONNECTOR_STATUSES.get(connector_status.lower()) if isinstance(connector_status, str) else None

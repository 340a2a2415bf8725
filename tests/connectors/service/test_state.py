"""The live state from the OCPP edge's events: sessions, energy, what asks for a re-solve."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from connectors.ocpp.events import (
    EVChargingNeeds,
    GunStatusChanged,
    MeterSampleReceived,
    SessionEnded,
    SessionStarted,
    StationBooted,
)
from connectors.runtime import SolveReason
from connectors.state import LiveState
from models import GunStatus, MeterSample

T0 = datetime(2026, 1, 5, 8, tzinfo=UTC)


def _state() -> tuple[LiveState, list[tuple[str, SolveReason]]]:
    asked: list[tuple[str, SolveReason]] = []
    return LiveState(lambda station, reason: asked.append((station, reason)), clock=lambda: T0), asked


def _sample(
    seconds: float, power_kw: float, register_kwh: float, transaction_id: str | None = None
) -> MeterSampleReceived:
    return MeterSampleReceived(
        MeterSample(
            gun_id="CP1/1",
            timestamp=T0 + timedelta(seconds=seconds),
            power_kw=power_kw,
            energy_kwh=register_kwh,
            transaction_id=transaction_id,
        )
    )


def test_a_session_counts_its_energy_from_the_register_and_asks_for_runs() -> None:
    state, asked = _state()
    state.publish(StationBooted("CP1", "1.6", T0))
    state.publish(SessionStarted("CP1/1", "42", T0, meter_start_kwh=100.0))
    state.publish(_sample(10, 11.0, 100.5))
    state.publish(_sample(20, 0.0, 100.6))  # the car stopped drawing
    gun = state.guns["CP1/1"]
    assert gun.session is not None
    assert abs(gun.session.energy_delivered_kwh - 0.6) < 1e-9
    assert gun.power_kw == 0.0
    assert asked == [("CP1", "station"), ("CP1", "plug_in"), ("CP1", "undrawn")]
    state.publish(SessionEnded("CP1/1", "42", T0 + timedelta(minutes=1)))
    assert state.guns["CP1/1"].session is None
    assert asked[-1] == ("CP1", "unplug")
    state.publish(_sample(70, 0.0, 100.6, transaction_id="42"))  # a late sample brings nothing back
    assert state.guns["CP1/1"].session is None


def test_a_transaction_from_before_a_restart_is_taken_up_and_ends_when_the_gun_is_free() -> None:
    state, asked = _state()
    state.publish(_sample(0, 7.0, 12.0, transaction_id="77"))
    state.publish(_sample(10, 7.0, 12.1, transaction_id="77"))
    session = state.guns["CP1/1"].session
    assert session is not None
    assert session.transaction_id == "77"
    assert abs(session.energy_delivered_kwh - 0.1) < 1e-9
    state.publish(GunStatusChanged("CP1/1", GunStatus.AVAILABLE, T0 + timedelta(seconds=20)))
    assert state.guns["CP1/1"].session is None
    assert [reason for _, reason in asked] == ["plug_in", "unplug"]


def test_what_a_car_says_it_needs_goes_into_its_session() -> None:
    state, asked = _state()
    state.publish(SessionStarted("CP1/1", "a1", T0))
    departure = T0 + timedelta(hours=3)
    state.publish(EVChargingNeeds("CP1/1", T0, departure=departure, energy_requested_kwh=30.0, max_power_kw=7.4))
    session = state.guns["CP1/1"].session
    assert session is not None
    assert (session.departure, session.energy_requested_kwh, session.ev_max_power_kw) == (departure, 30.0, 7.4)
    assert asked[-1] == ("CP1", "session")

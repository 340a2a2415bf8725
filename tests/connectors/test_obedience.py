"""Stations that cannot be steered: refusals, and meters that show a limit ignored.

The tracker on its own with hand-made samples, then over real websockets with the simulated
charge point, obedient and not, and with a raw station that refuses profiles.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from connectors.ocpp.events import CapabilitiesLearned, GunUncontrolled, MeterSampleReceived, ProfileAccepted
from connectors.ocpp.obedience import ObedienceSettings, ObedienceTracker, refusal_reason
from connectors.ocpp.profiles import profile_for_gun, station_cap_profile
from connectors.ocpp.server import OcppServer
from models import Gun, MeterSample, ProfilePurpose, StationCapabilities
from tests.connectors.live import VERSIONS, endpoint, run, simulated, sink_of, until
from tests.connectors.payloads import NOW, ROOMY

GUN = Gun(station_id="CP1", max_power_kw=22)
STRICT = ObedienceSettings(samples_over_limit=3, tolerance_kw=0.5, tolerance_fraction=0.1, grace_s=10)


def sample(seconds: float, power_kw: float | None, gun_id: str = "CP1/1") -> MeterSample:
    return MeterSample(gun_id=gun_id, timestamp=NOW + timedelta(seconds=seconds), power_kw=power_kw)


def tracker_with_limit(limit_kw: float, **profile: object) -> ObedienceTracker:
    tracker = ObedienceTracker("CP1", STRICT)
    schedule = profile_for_gun([(NOW, limit_kw)], GUN, ROOMY, purpose=ProfilePurpose.TX_DEFAULT)
    tracker.accepted(1, schedule, NOW)
    return tracker


def limit_at(tracker: ObedienceTracker, seconds: float) -> tuple[float, datetime] | None:
    return tracker.limit_kw(1, NOW + timedelta(seconds=seconds))


def test_a_gun_drawing_above_its_limit_for_n_samples_in_a_row_is_uncontrolled() -> None:
    tracker = tracker_with_limit(6.9)  # 10 A on 3 phases: 6.9 kW
    assert tracker.observe(sample(5, 11.0)) is None  # within the grace: not judged
    assert tracker.observe(sample(11, 11.0)) is None
    assert tracker.observe(sample(12, 11.0)) is None
    reason = tracker.observe(sample(13, 11.0))
    assert reason is not None
    assert "6.9 kW" in reason
    assert "11.0 kW" in reason
    assert tracker.uncontrolled == {"CP1/1": reason}
    assert tracker.observe(sample(14, 11.0)) is None  # told once


def test_a_sample_within_the_limit_and_tolerance_resets_the_count() -> None:
    tracker = tracker_with_limit(6.9)
    allowed = 6.9 * 1.1 + 0.5
    for seconds, power in [(11, 11.0), (12, 11.0), (13, allowed - 0.01), (14, 11.0), (15, 11.0)]:
        assert tracker.observe(sample(seconds, power)) is None
    assert tracker.observe(sample(16, 11.0)) is not None


def test_the_grace_runs_on_our_clock_and_samples_measured_before_the_limit_are_not_judged() -> None:
    tracker = tracker_with_limit(6.9)  # accepted at NOW
    after_grace = NOW + timedelta(seconds=11)
    verdicts = [tracker.observe(sample(0, 11.0), after_grace) for _ in range(3)]  # stamped to the second
    assert verdicts[-1] is not None

    replayed = ObedienceTracker("CP1", STRICT)
    schedule = profile_for_gun([(NOW, 6.9)], GUN, ROOMY, purpose=ProfilePurpose.TX_DEFAULT)
    replayed.accepted(1, schedule, NOW + timedelta(seconds=60))
    received = NOW + timedelta(seconds=100)
    assert all(replayed.observe(sample(seconds, 11.0), received) is None for seconds in range(30, 40))


def test_samples_without_power_or_without_a_limit_are_not_judged() -> None:
    tracker = ObedienceTracker("CP1", STRICT)
    assert all(tracker.observe(sample(seconds, 50.0)) is None for seconds in range(20, 30))
    limited = tracker_with_limit(6.9)
    assert all(limited.observe(sample(seconds, None)) is None for seconds in range(20, 30))
    assert all(limited.observe(sample(seconds, 50.0, "CP1/0")) is None for seconds in range(20, 30))
    assert not tracker.uncontrolled
    assert not limited.uncontrolled


def test_a_tx_profile_overrides_the_tx_default_until_its_transaction_ends() -> None:
    tracker = tracker_with_limit(4.2)
    tx = profile_for_gun([(NOW, 11.0)], GUN, ROOMY, transaction_id="7")
    tracker.accepted(1, tx, NOW)
    assert limit_at(tracker, 30) == (pytest.approx(15.9 * 0.69), NOW)  # 15.9 A on 3 phases
    tracker.transaction_ended(1)
    limit = tracker.limit_kw(1, NOW + timedelta(seconds=30))
    assert limit is not None
    assert limit[0] == pytest.approx(4.14)


def test_the_station_cap_and_period_changes_count() -> None:
    tracker = ObedienceTracker("CP1", STRICT)
    later = NOW + timedelta(minutes=15)
    schedule = profile_for_gun([(NOW, 11.0), (later, 22.0)], GUN, ROOMY, purpose=ProfilePurpose.TX_DEFAULT)
    tracker.accepted(0, schedule, NOW)  # on EVSE 0: every gun
    assert limit_at(tracker, 60) == (pytest.approx(15.9 * 0.69), NOW)
    assert limit_at(tracker, 16 * 60) == (pytest.approx(31.8 * 0.69), later)
    cap = station_cap_profile(7.0, ROOMY, NOW)
    tracker.accepted(0, cap, NOW + timedelta(seconds=5))
    found = tracker.limit_kw(1, later + timedelta(minutes=1))
    assert found == (7.0, later)
    assert tracker.limit_kw(1, NOW - timedelta(seconds=1)) is None  # before every schedule


@pytest.mark.parametrize(
    ("status", "code", "expected"),
    [
        ("Rejected", None, True),
        (None, "NotImplemented", True),
        (None, "NotSupported", True),
        (None, "InternalError", False),
        (None, None, False),  # a timeout
        ("Accepted", None, False),
    ],
)
def test_which_refusals_mean_a_station_cannot_be_steered(status: str | None, code: str | None, expected: bool) -> None:
    assert (refusal_reason(status, code, "why") is not None) is expected


# -- over the wire -------------------------------------------------------------------------------

FAST = ObedienceSettings(samples_over_limit=3, grace_s=0.1)


async def push_limit(server: OcppServer, transaction_id: str | None, limit_kw: float) -> None:
    handler = server.registry.get("CP1")
    assert handler is not None
    await sink_of(server).wait_for(CapabilitiesLearned)
    start = datetime.now(UTC) - timedelta(seconds=1)
    outcome = await handler.commands.apply_limit(
        GUN, [(start, limit_kw)], handler.capabilities, transaction_id=transaction_id
    )
    assert outcome.ok, outcome.reason


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_that_accepts_but_ignores_its_limit_is_marked_uncontrolled(version: str) -> None:
    async def scenario() -> None:
        async with endpoint(obedience=FAST) as server, simulated(server, version, obeys_profiles=False) as station:
            sink = sink_of(server)
            await sink.wait_for(MeterSampleReceived)
            await push_limit(server, station.transaction_id, 4.2)
            accepted = await sink.wait_for(ProfileAccepted)
            mark = len(sink.events)
            verdict = await sink.wait_for(GunUncontrolled, after=mark, timeout_s=3)
            assert verdict.gun_id == "CP1/1"
            assert "drew up to 11.0 kW" in verdict.reason
            samples = [event for event in sink.events[mark:] if isinstance(event, MeterSampleReceived)]
            assert len(samples) <= 3 + 0.1 / 0.05 + 3  # within a few samples of the grace
            assert verdict.at >= accepted.at
            assert server.registry.uncontrolled_of("CP1") == {"CP1/1": verdict.reason}  # kept with the station

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_that_obeys_is_not_marked(version: str) -> None:
    async def scenario() -> None:
        async with endpoint(obedience=FAST) as server, simulated(server, version):
            sink = sink_of(server)
            await sink.wait_for(MeterSampleReceived)
            await push_limit(server, None, 4.2)  # a tx default: the simulated station's transaction takes it
            mark = len(sink.events)

            def samples_since() -> list[MeterSample]:
                return [event.sample for event in sink.events[mark:] if isinstance(event, MeterSampleReceived)]

            await until(lambda: len(samples_since()) >= 10, timeout_s=3)  # the grace, then 8 judged
            later = samples_since()
            assert later[-1].power_kw == pytest.approx(4.14, abs=0.01)
            assert not sink.of_type(GunUncontrolled)
            assert server.registry.uncontrolled_of("CP1") == {}

    run(scenario())


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": "Rejected"}, "SetChargingProfile answered Rejected"),
        ("NotImplemented", "SetChargingProfile answered CALLERROR NotImplemented: no smart charging"),
    ],
)
def test_a_station_refusing_a_profile_is_marked_uncontrolled_with_the_reason(answer: object, reason: str) -> None:
    async def scenario() -> None:
        async with (
            endpoint() as server,
            connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket,
        ):
            sink = sink_of(server)
            await until(lambda: server.registry.get("CP1") is not None)
            handler = server.registry.get("CP1")
            assert handler is not None
            capabilities = StationCapabilities(ocpp_version="1.6")
            pending = handler.commands.apply_limit(GUN, [(datetime.now(UTC), 7.0)], capabilities)
            call = json.loads(await websocket.recv())
            if isinstance(answer, dict):
                await websocket.send(json.dumps([3, call[1], answer]))
            else:
                await websocket.send(json.dumps([4, call[1], answer, "no smart charging", {}]))
            assert not (await pending).ok
            verdict = await sink.wait_for(GunUncontrolled)
            assert (verdict.gun_id, verdict.reason) == ("CP1/1", reason)
            assert server.registry.uncontrolled_of("CP1") == {"CP1/1": reason}

    run(scenario())


def test_a_verdict_outlives_a_reconnection_and_is_told_once() -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            sink = sink_of(server)
            for _ in range(2):
                async with connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
                    await until(lambda: server.registry.get("CP1") is not None)
                    handler = server.registry.get("CP1")
                    assert handler is not None
                    pending = handler.commands.apply_limit(GUN, [(datetime.now(UTC), 7.0)], handler.capabilities)
                    call = json.loads(await websocket.recv())
                    await websocket.send(json.dumps([3, call[1], {"status": "Rejected"}]))
                    await pending
                    assert handler.obedience.is_uncontrolled("CP1/1")
                await until(lambda: server.registry.get("CP1") is None)
            assert len(sink.of_type(GunUncontrolled)) == 1

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_tx_profile_for_a_transaction_that_is_not_running_marks_nothing(version: str) -> None:
    """Its rejection is right (the profile crossed the transaction's end), not a sign of disobedience."""

    async def scenario() -> None:
        async with endpoint() as server, simulated(server, version):
            sink = sink_of(server)
            await sink.wait_for(CapabilitiesLearned)
            handler = server.registry.get("CP1")
            assert handler is not None
            outcome = await handler.commands.apply_limit(
                GUN, [(datetime.now(UTC), 7.0)], handler.capabilities, transaction_id="424242"
            )
            assert not outcome.ok
            assert not sink.of_type(GunUncontrolled)

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_saying_it_does_no_smart_charging_is_uncontrolled_as_a_whole(version: str) -> None:
    async def scenario() -> None:
        named = "1.6" if version == "1.6" else "2.0.1"
        dumb = StationCapabilities(ocpp_version=named, smart_charging=False)
        async with endpoint(fallback_limit_kw=11.0) as server, simulated(server, version, capabilities=dumb):
            sink = sink_of(server)
            verdict = await sink.wait_for(GunUncontrolled)
            assert (verdict.gun_id, verdict.reason) == ("CP1/0", "the station says it does no smart charging")
            handler = server.registry.get("CP1")
            assert handler is not None
            assert handler.obedience.is_uncontrolled("CP1/1")
            assert not sink.of_type(ProfileAccepted)  # no fallback sent to a station that takes none

    run(scenario())

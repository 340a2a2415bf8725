"""The OCPP endpoint over real websockets on 127.0.0.1, with the simulated charge point, both versions.

Each test runs its own event loop (`run`) with a server on a free port; meter values come every
0.05 s so that the whole file stays fast.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from connectors.ocpp.events import (
    CapabilitiesLearned,
    EVChargingNeeds,
    GunStatusChanged,
    MemorySink,
    MeterSampleReceived,
    ProfileAccepted,
    ProfileRejected,
    SessionEnded,
    SessionStarted,
    StationBooted,
    StationDisconnected,
)
from connectors.ocpp.server import REPLACED, OcppServer, ServerSettings, StationRegistry
from connectors.simulator.charge_point import SimulatedEv
from models import Gun, GunStatus, RateUnit, StationCapabilities
from tests.connectors.live import VERSIONS, endpoint, run, simulated, sink_of, until


@pytest.mark.parametrize("version", VERSIONS)
def test_boot_status_transaction_and_meter_values_become_events(version: str) -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            sink = sink_of(server)
            async with simulated(server, version, ev=SimulatedEv(max_power_kw=7.0)) as station:
                booted = await sink.wait_for(StationBooted)
                assert (booted.station_id, booted.ocpp_version, booted.vendor) == ("CP1", version, "gridcharge")
                learned = await sink.wait_for(CapabilitiesLearned)
                assert learned.capabilities == station.store.capabilities
                assert learned.warnings == ()
                available = await sink.wait_for(GunStatusChanged)
                assert (available.gun_id, available.status) == ("CP1/1", GunStatus.AVAILABLE)
                started = await sink.wait_for(SessionStarted)
                assert (started.gun_id, started.transaction_id) == ("CP1/1", station.transaction_id)
                busy = {GunStatus.CHARGING, GunStatus.OCCUPIED}
                await sink.wait_for(GunStatusChanged, lambda event: event.status in busy)
                reading = await sink.wait_for(MeterSampleReceived)
                assert reading.sample.gun_id == "CP1/1"
                assert reading.sample.power_kw == pytest.approx(7.0)
                assert reading.sample.transaction_id == station.transaction_id
                assert reading.sample.energy_kwh is not None
                assert server.registry.get("CP1") is not None
            ended = await sink.wait_for(SessionEnded)
            assert (ended.gun_id, ended.transaction_id) == ("CP1/1", started.transaction_id)
            gone = await sink.wait_for(StationDisconnected)
            assert not gone.replaced
            assert server.registry.get("CP1") is None

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_limit_pushed_to_a_gun_is_accepted_shown_in_the_composite_and_obeyed(version: str) -> None:
    async def scenario() -> None:
        async with endpoint() as server, simulated(server, version) as station:
            sink = sink_of(server)
            reading = await sink.wait_for(MeterSampleReceived)
            assert reading.sample.power_kw == pytest.approx(11.0)  # the car's own maximum: no limit yet
            handler = server.registry.get("CP1")
            assert handler is not None
            await sink.wait_for(CapabilitiesLearned)
            assert handler.capabilities.max_periods_per_schedule == 24  # learned at boot
            gun = Gun(station_id="CP1", max_power_kw=22, phases=3)
            start = datetime.now(UTC) - timedelta(seconds=1)
            outcome = await handler.commands.apply_limit(
                gun, [(start, 4.2)], handler.capabilities, transaction_id=station.transaction_id
            )
            assert outcome.ok, outcome.reason
            accepted = await sink.wait_for(ProfileAccepted)
            assert accepted.gun_id == "CP1/1"
            mark = len(sink.events)

            steps = await handler.commands.read_composite(1, 600, unit=RateUnit.W)
            assert steps, "the station should report the profile it holds"
            limit_kw = steps[0][1]
            assert limit_kw is not None
            assert 4.0 < limit_kw <= 4.2  # 6 A on 3 phases at 230 V: 4.14 kW, floored, never above the plan

            later = await sink.wait_for(MeterSampleReceived, after=mark)
            assert later.sample.power_kw is not None
            assert later.sample.power_kw <= limit_kw + 1e-9
            assert later.sample.power_kw == pytest.approx(limit_kw)

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_profile_the_station_refuses_becomes_a_rejection_event(version: str) -> None:
    async def scenario() -> None:
        async with endpoint() as server, simulated(server, version):
            sink = sink_of(server)
            await sink.wait_for(SessionStarted)
            handler = server.registry.get("CP1")
            assert handler is not None
            gun = Gun(station_id="CP1", max_power_kw=22)
            capabilities = StationCapabilities(ocpp_version=version, max_periods_per_schedule=24, max_stack_level=8)
            outcome = await handler.commands.apply_limit(
                gun,
                [(datetime.now(UTC), 7.0)],
                capabilities,
                transaction_id="123456",  # not the one running
            )
            assert not outcome.ok
            rejected = await sink.wait_for(ProfileRejected)
            assert (rejected.gun_id, rejected.reason) == ("CP1/1", "Rejected")
            assert (await handler.commands.clear_profiles()).reason == "Unknown"  # nothing to clear

    run(scenario())


def test_a_connection_offering_no_known_subprotocol_is_closed_with_a_reason() -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            async with connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.5")]) as websocket:
                assert websocket.subprotocol is None
                with pytest.raises(ConnectionClosed) as closed:
                    await websocket.recv()
            assert closed.value.rcvd is not None
            assert closed.value.rcvd.code == 1002
            assert "ocpp1.6" in closed.value.rcvd.reason
            assert "ocpp2.0.1" in closed.value.rcvd.reason
            assert server.registry.get("CP1") is None

    run(scenario())


def test_an_unknown_station_gets_404_before_the_upgrade(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        async with endpoint("CP1") as server:
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.url("STRANGER"), subprotocols=[Subprotocol("ocpp1.6")])
            assert refused.value.response.status_code == 404
            with pytest.raises(InvalidStatus) as elsewhere:
                await connect(f"ws://127.0.0.1:{server.port}/other/CP1", subprotocols=[Subprotocol("ocpp1.6")])
            assert elsewhere.value.response.status_code == 404

    with caplog.at_level(logging.WARNING, logger="connectors.ocpp.server"):
        run(scenario())
    refusals = [record for record in caplog.records if "unknown station 'STRANGER'" in record.getMessage()]
    assert len(refusals) == 1
    assert refusals[0].exc_info is None


def test_an_unknown_station_is_admitted_when_auto_registration_is_allowed() -> None:
    async def scenario() -> None:
        async with endpoint("CP9", auto_register=True) as server:
            async with connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
                assert websocket.subprotocol == "ocpp1.6"
            assert "CP1" in server.registry.known

    run(scenario())


def test_the_newest_version_offered_is_chosen() -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            offered = [Subprotocol("ocpp1.6"), Subprotocol("ocpp2.0.1")]
            async with connect(server.url("CP1"), subprotocols=offered) as websocket:
                assert websocket.subprotocol == "ocpp2.0.1"

    run(scenario())


@pytest.mark.parametrize(("version", "format_error"), [("1.6", "FormationViolation"), ("2.0.1", "FormatViolation")])
def test_malformed_frames_get_the_ocpp_error_and_the_connection_stays_up(version: str, format_error: str) -> None:
    async def scenario() -> None:
        async with (
            endpoint() as server,
            connect(server.url("CP1"), subprotocols=[Subprotocol(f"ocpp{version}")]) as websocket,
        ):
            await websocket.send("this is not JSON")
            assert json.loads(await websocket.recv())[:3] == [4, "-1", format_error]

            await websocket.send(json.dumps([2, "m1", "NoSuchAction", {}]))
            error = json.loads(await websocket.recv())
            assert error[:2] == [4, "m1"]
            assert error[2] in {"NotImplemented", "NotSupported"}

            await websocket.send(json.dumps([2, "m2", "Heartbeat", {"unexpected": 1}]))
            assert json.loads(await websocket.recv())[:3] == [4, "m2", format_error]  # schema violation

            await websocket.send(json.dumps([2, "m3", "Heartbeat", {}]))
            answer = json.loads(await websocket.recv())
            assert answer[:2] == [3, "m3"]
            assert "currentTime" in answer[2]

    run(scenario())


def test_a_second_connection_of_a_station_replaces_the_first() -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            sink = sink_of(server)
            protocols = [Subprotocol("ocpp1.6")]
            async with connect(server.url("CP1"), subprotocols=protocols) as first:
                await until(lambda: server.registry.get("CP1") is not None)
                first_handler = server.registry.get("CP1")
                async with connect(server.url("CP1"), subprotocols=protocols) as second:
                    with pytest.raises(ConnectionClosed) as closed:
                        await first.recv()
                    assert closed.value.rcvd is not None
                    assert closed.value.rcvd.code == REPLACED
                    replaced = await sink.wait_for(StationDisconnected)
                    assert replaced.replaced
                    current = server.registry.get("CP1")
                    assert current is not None
                    assert current is not first_handler
                    await second.send(json.dumps([2, "hb", "Heartbeat", {}]))
                    assert json.loads(await second.recv())[:2] == [3, "hb"]
            await sink.wait_for(StationDisconnected, lambda event: not event.replaced)
            assert server.registry.get("CP1") is None

    run(scenario())


def test_stale_statuses_and_samples_are_dropped() -> None:
    """A message of an earlier instant than one already told for the gun says nothing new."""

    def status(message_id: str, value: str, timestamp: str) -> str:
        payload = {"connectorId": 1, "errorCode": "NoError", "status": value, "timestamp": timestamp}
        return json.dumps([2, message_id, "StatusNotification", payload])

    def meter(message_id: str, watts: str, timestamp: str) -> str:
        sampled = [{"value": watts, "measurand": "Power.Active.Import", "unit": "W"}]
        payload = {"connectorId": 1, "meterValue": [{"timestamp": timestamp, "sampledValue": sampled}]}
        return json.dumps([2, message_id, "MeterValues", payload])

    async def scenario() -> None:
        async with (
            endpoint() as server,
            connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket,
        ):
            frames = [
                status("s1", "Charging", "2024-01-15T12:00:10Z"),
                status("s2", "Preparing", "2024-01-15T12:00:05Z"),  # late
                status("s3", "Finishing", "2024-01-15T12:00:10Z"),  # same instant: the later word holds
                meter("m1", "7000", "2024-01-15T12:00:10Z"),
                meter("m2", "9000", "2024-01-15T12:00:00Z"),  # late
                meter("m3", "5000", "2024-01-15T12:00:20Z"),
            ]
            for frame in frames:
                await websocket.send(frame)
                assert json.loads(await websocket.recv())[0] == 3
            sink = sink_of(server)
            assert [event.status for event in sink.of_type(GunStatusChanged)] == [
                GunStatus.CHARGING,
                GunStatus.FINISHING,
            ]
            assert [event.sample.power_kw for event in sink.of_type(MeterSampleReceived)] == [7.0, 5.0]

    run(scenario())


def test_a_callerror_and_a_silent_station_become_rejections_over_the_wire() -> None:
    async def scenario() -> None:
        async with (
            endpoint(command_timeout_s=0.2, command_retries=0) as server,
            connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket,
        ):
            sink = sink_of(server)
            await until(lambda: server.registry.get("CP1") is not None)
            handler = server.registry.get("CP1")
            assert handler is not None
            gun = Gun(station_id="CP1", max_power_kw=22)
            limits = [(datetime.now(UTC), 7.0)]

            refused = handler.commands.apply_limit(gun, limits, handler.capabilities)
            call = json.loads(await websocket.recv())
            assert call[2] == "SetChargingProfile"
            assert call[3]["csChargingProfiles"]["chargingProfilePurpose"] == "TxDefaultProfile"
            await websocket.send(json.dumps([4, call[1], "NotImplemented", "no smart charging here", {}]))
            assert (await refused).reason == "CALLERROR NotImplemented: no smart charging here"

            unanswered = handler.commands.apply_limit(gun, limits, handler.capabilities)
            assert json.loads(await websocket.recv())[2] == "SetChargingProfile"
            assert (await unanswered).reason == "no answer in 0.2 s"
            assert [event.reason for event in sink.of_type(ProfileRejected)] == [
                "CALLERROR NotImplemented: no smart charging here",
                "no answer in 0.2 s",
            ]

            odd = handler.commands.clear_profiles()
            call = json.loads(await websocket.recv())
            await websocket.send(json.dumps([4, call[1], "NoSuchCode", "?", {}]))
            assert (await odd).reason.startswith("CALLERROR Unknown: Error code 'NoSuchCode'")

            garbled = handler.commands.apply_limit(gun, limits, handler.capabilities)
            call = json.loads(await websocket.recv())
            await websocket.send(json.dumps([3, call[1], {"status": "Maybe"}]))  # not a status of the schema
            assert (await garbled).reason.startswith("CALLERROR FormatViolation")  # the answer, checked

            await websocket.send(json.dumps([2, "hb", "Heartbeat", {}]))  # the connection is still up
            assert json.loads(await websocket.recv())[:2] == [3, "hb"]

    run(scenario())


def test_a_transaction_outlives_a_reconnection() -> None:
    async def scenario() -> None:
        async with endpoint() as server:
            protocols = [Subprotocol("ocpp1.6")]
            start = {"connectorId": 2, "idTag": "CARD", "meterStart": 1500, "timestamp": "2024-01-15T12:00:00Z"}
            async with connect(server.url("CP1"), subprotocols=protocols) as websocket:
                await websocket.send(json.dumps([2, "a", "Authorize", {"idTag": "CARD"}]))
                assert json.loads(await websocket.recv())[2] == {"idTagInfo": {"status": "Accepted"}}
                await websocket.send(json.dumps([2, "s", "StartTransaction", start]))
                transaction_id = json.loads(await websocket.recv())[2]["transactionId"]
            stop = {"meterStop": 9500, "timestamp": "2024-01-15T13:00:00Z", "transactionId": transaction_id}
            async with connect(server.url("CP1"), subprotocols=protocols) as websocket:
                await websocket.send(json.dumps([2, "e", "StopTransaction", stop]))
                assert json.loads(await websocket.recv())[0] == 3
            sink = sink_of(server)
            started, ended = await sink.wait_for(SessionStarted), await sink.wait_for(SessionEnded)
            assert (started.gun_id, started.meter_start_kwh, started.id_token) == ("CP1/2", 1.5, "CARD")
            assert (ended.gun_id, ended.transaction_id, ended.meter_stop_kwh) == ("CP1/2", str(transaction_id), 9.5)

    run(scenario())


def test_v201_meter_values_and_charging_needs_become_events() -> None:
    async def scenario() -> None:
        async with (
            endpoint() as server,
            connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp2.0.1")]) as websocket,
        ):
            sampled = [
                {"value": 3.2, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W", "multiplier": 3}}
            ]
            meter = {"evseId": 1, "meterValue": [{"timestamp": "2024-01-15T12:00:00Z", "sampledValue": sampled}]}
            needs = {
                "evseId": 1,
                "chargingNeeds": {
                    "requestedEnergyTransfer": "AC_three_phase",
                    "departureTime": "2024-01-15T17:00:00Z",
                    "acChargingParameters": {
                        "energyAmount": 20000,
                        "evMinCurrent": 6,
                        "evMaxCurrent": 32,
                        "evMaxVoltage": 400,
                    },
                },
            }
            token = {"idToken": {"idToken": "CARD", "type": "ISO14443"}}
            for message_id, action, payload in [
                ("m", "MeterValues", meter),
                ("n", "NotifyEVChargingNeeds", needs),
                ("a", "Authorize", token),
            ]:
                await websocket.send(json.dumps([2, message_id, action, payload]))
                answer = json.loads(await websocket.recv())
                assert answer[:2] == [3, message_id]
            assert answer[2] == {"idTokenInfo": {"status": "Accepted"}}
            sink = sink_of(server)
            reading = await sink.wait_for(MeterSampleReceived)
            assert (reading.sample.gun_id, reading.sample.power_kw) == ("CP1/1", 3.2)
            wanted = await sink.wait_for(EVChargingNeeds)
            assert (wanted.gun_id, wanted.energy_requested_kwh, wanted.max_current_a) == ("CP1/1", 20.0, 32.0)

    run(scenario())


def test_id_tokens_are_judged_by_the_authorizer_given() -> None:
    async def scenario() -> None:
        server = OcppServer(
            MemorySink(),
            StationRegistry(["CP1"]),
            ServerSettings(host="127.0.0.1", port=0),
            authorize=lambda id_token: id_token == "GOOD",
        )
        async with server:
            async with connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp1.6")]) as websocket:
                for message_id, tag in [("g", "GOOD"), ("b", "BAD")]:
                    await websocket.send(json.dumps([2, message_id, "Authorize", {"idTag": tag}]))
                    assert json.loads(await websocket.recv())[2]["idTagInfo"]["status"] == (
                        "Accepted" if tag == "GOOD" else "Invalid"
                    )
            async with connect(server.url("CP1"), subprotocols=[Subprotocol("ocpp2.0.1")]) as websocket:
                token = {"idToken": {"idToken": "BAD", "type": "ISO14443"}}
                await websocket.send(json.dumps([2, "t", "Authorize", token]))
                assert json.loads(await websocket.recv())[2] == {"idTokenInfo": {"status": "Invalid"}}

    run(scenario())


REPORT_PROFILES = {
    "requestId": 1,
    "chargingLimitSource": "CSO",
    "evseId": 1,
    "chargingProfile": [
        {
            "id": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Absolute",
            "chargingSchedule": [
                {"id": 1, "chargingRateUnit": "A", "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}]}
            ],
        }
    ],
}
NOTICES = {
    "1.6": [
        ("DataTransfer", {"vendorId": "com.example", "messageId": "x"}, {"status": "UnknownVendorId"}),
        ("FirmwareStatusNotification", {"status": "Downloaded"}, {}),
        ("DiagnosticsStatusNotification", {"status": "Uploaded"}, {}),
    ],
    "2.0.1": [
        ("DataTransfer", {"vendorId": "com.example"}, {"status": "UnknownVendorId"}),
        ("FirmwareStatusNotification", {"status": "Installed"}, {}),
        ("NotifyChargingLimit", {"evseId": 1, "chargingLimit": {"chargingLimitSource": "EMS"}}, {}),
        ("ReportChargingProfiles", REPORT_PROFILES, {}),
        ("NotifyReport", {"requestId": 1, "generatedAt": "2026-01-01T00:00:00Z", "seqNo": 0}, {}),
        ("SecurityEventNotification", {"type": "SettingSystemTime", "timestamp": "2026-01-01T00:00:00Z"}, {}),
    ],
}


@pytest.mark.parametrize("version", VERSIONS)
def test_notices_a_station_sends_are_answered_and_logged(version: str, caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        protocols = [Subprotocol(f"ocpp{version}")]
        async with endpoint() as server, connect(server.url("CP1"), subprotocols=protocols) as websocket:
            for number, (action, payload, answer) in enumerate(NOTICES[version]):
                await websocket.send(json.dumps([2, f"n{number}", action, payload]))
                reply = json.loads(await websocket.recv())
                assert reply == [3, f"n{number}", answer], action

    with caplog.at_level(logging.INFO, logger="connectors.ocpp"):
        run(scenario())
    assert "com.example" in caplog.text
    if version == "2.0.1":
        assert "limited by EMS" in caplog.text
        assert "security event SettingSystemTime" in caplog.text

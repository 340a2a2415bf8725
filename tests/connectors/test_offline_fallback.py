"""A station's own offline-fallback setting: found at boot, set to its fallback, updated, obeyed offline.

Pure reading and writing first, then over real websockets with the failsafe's boot policy: the
simulated station that has the setting gets its fallback written there (and again when it moves),
one that has none gets nothing, and a station cut off from the endpoint draws within the value.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from connectors.failsafe import Failsafe, FallbackSender, offline_current_a
from connectors.ocpp.commands import StationCallError
from connectors.ocpp.events import OfflineFallbackWritten, ProfileAccepted
from connectors.ocpp.fallback import BootLimits
from connectors.ocpp.offline_fallback import (
    FoundSetting,
    found_setting,
    read_request,
    setting_value,
    write_request,
    write_status,
)
from connectors.ocpp.server import OcppServer
from connectors.simulator.charge_point import SimulatedEv
from connectors.simulator.offline import OfflineFallback
from models import Gun, LimitNode, RateUnit, Site, StationCapabilities
from models.station import OfflineFallbackSetting, SettingStatus
from tests.connectors.live import VERSIONS, endpoint, run, simulated, sink_of, until
from tests.connectors.payloads import ocpp_valid
from tests.connectors.test_commands import commander

KEY_A = OfflineFallbackSetting(name="SimOfflineCurrent", unit=RateUnit.A)
"""Names made up for the simulator: OCPP has no such setting and no vendor's name is assumed here."""
VARIABLE_W = OfflineFallbackSetting(name="SimCtrlr.OfflinePower", unit=RateUnit.W)
BOTH = (KEY_A, VARIABLE_W)
SETTING = {"1.6": KEY_A, "2.0.1": VARIABLE_W}
GUN = Gun(station_id="CP1", evse_id=1, max_power_kw=22.0, phases=3)
CAPABILITIES = StationCapabilities(ocpp_version="1.6", max_periods_per_schedule=24, max_stack_level=8)


def site(limit_kw: float) -> Site:
    return Site(id="depot", root=LimitNode(id="grid", limit_kw=limit_kw, guns=[GUN]))


# -- pure ---------------------------------------------------------------------------------------


def test_each_version_is_asked_for_its_own_kind_of_name() -> None:
    assert read_request("1.6", BOTH) == ("GetConfiguration", {"key": ["SimOfflineCurrent"]})
    action, payload = read_request("2.0.1", BOTH) or ("", {})
    assert action == "GetVariables"
    assert payload["getVariableData"] == [{"component": {"name": "SimCtrlr"}, "variable": {"name": "OfflinePower"}}]
    assert ocpp_valid(action, payload, "2.0.1")
    assert read_request("1.6", (VARIABLE_W,)) is None


def test_the_first_setting_reported_writable_is_found() -> None:
    other = OfflineFallbackSetting(name="OtherKey", unit=RateUnit.W)
    answer = {
        "configurationKey": [
            {"key": "SimOfflineCurrent", "readonly": True, "value": "32"},
            {"key": "OtherKey", "readonly": False, "value": "7000"},
        ]
    }
    assert found_setting("1.6", (KEY_A, other), answer) == FoundSetting(other, "7000")
    assert found_setting("1.6", (KEY_A,), answer) is None  # read-only: of no use
    v201 = {
        "getVariableResult": [
            {
                "attributeStatus": "Accepted",
                "attributeValue": "",
                "component": {"name": "SimCtrlr"},
                "variable": {"name": "OfflinePower"},
            }
        ]
    }
    assert found_setting("2.0.1", BOTH, v201) == FoundSetting(VARIABLE_W, "")
    v201["getVariableResult"][0]["attributeStatus"] = "UnknownVariable"
    assert found_setting("2.0.1", BOTH, v201) is None


def test_values_are_whole_units_rounded_down_and_writes_are_valid_ocpp() -> None:
    assert setting_value(KEY_A, 11.0, 15.94) == "15"
    assert setting_value(VARIABLE_W, 11.0, 15.94) == "11000"
    assert setting_value(VARIABLE_W, 7.0996, 10.0) == "7099"
    action, payload = write_request("1.6", KEY_A, "15")
    assert (action, payload) == ("ChangeConfiguration", {"key": "SimOfflineCurrent", "value": "15"})
    assert ocpp_valid(action, payload, "1.6")
    action, payload = write_request("2.0.1", VARIABLE_W, "11000")
    assert ocpp_valid(action, payload, "2.0.1")


def test_answers_are_read_as_setting_statuses() -> None:
    assert write_status("1.6", {"status": "RebootRequired"}) == (SettingStatus.REBOOT_REQUIRED, "")
    assert write_status("1.6", {"status": "NotSupported"}) == (SettingStatus.NOT_SUPPORTED, "")
    result = {"attributeStatus": "Rejected", "attributeStatusInfo": {"reasonCode": "OutOfRange"}}
    assert write_status("2.0.1", {"setVariableResult": [result]}) == (SettingStatus.REJECTED, "OutOfRange")
    unknown = {"setVariableResult": [{"attributeStatus": "UnknownComponent"}]}
    assert write_status("2.0.1", unknown)[0] is SettingStatus.NOT_SUPPORTED
    assert write_status("2.0.1", {})[0] is SettingStatus.FAILED


def test_a_setting_name_fits_what_ocpp_carries() -> None:
    assert OfflineFallbackSetting(name=f"{'C' * 50}.{'V' * 50}", unit=RateUnit.W).component_variable is not None
    with pytest.raises(ValueError, match="at most 50"):
        OfflineFallbackSetting(name="K" * 51, unit=RateUnit.A)


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        ({"status": "Accepted"}, SettingStatus.ACCEPTED),
        ({"status": "Rejected"}, SettingStatus.REJECTED),
        ("hang", SettingStatus.TIMEOUT),
        (StationCallError("NotImplemented"), SettingStatus.FAILED),
    ],
)
def test_every_end_of_a_write_is_an_event_with_its_status(answer: object, status: SettingStatus) -> None:
    async def scenario() -> None:
        queue, transport, sink = commander(lambda action, payload: answer)
        heard: list[object] = []
        outcome = await queue.write_offline_fallback(KEY_A, "16", heard.append)
        await queue.close()
        (event,) = sink.of_type(OfflineFallbackWritten)
        assert (event.station_id, event.outcome.value, event.outcome.status) == ("CP1", "16", status)
        assert heard == [event.outcome]
        assert outcome.ok is (status is SettingStatus.ACCEPTED)
        assert transport.sent[0] == ("ChangeConfiguration", {"key": "SimOfflineCurrent", "value": "16"})

    run(scenario())


def test_the_offline_current_keeps_every_loaded_phase_within_the_fallbacks() -> None:
    three = Gun(station_id="CP1", evse_id=1, max_power_kw=22.0, phases=3)
    on_l1 = Gun(station_id="CP1", evse_id=2, max_power_kw=7.4, phases=1, phase="L1")
    on_l2 = Gun(station_id="CP1", evse_id=3, max_power_kw=7.4, phases=1, phase="L2")
    assert offline_current_a([three], {three.id: 6.9}) == pytest.approx(10.0)
    # L1 carries 10 A + 16 A, L2 and L3 10 A: 10 A on each keeps all three within
    assert offline_current_a([three, on_l1], {three.id: 6.9, on_l1.id: 3.68}) == pytest.approx(10.0)
    # two single-phase guns on L1 and L2: 16 A each, not their 32 A together
    assert offline_current_a([on_l1, on_l2], {on_l1.id: 3.68, on_l2.id: 3.68}) == pytest.approx(16.0)
    assert offline_current_a([on_l1], {on_l1.id: 0.0}) == 0.0


def test_the_failsafe_gives_a_station_its_fallbacks_sum_for_offline() -> None:
    failsafe = Failsafe()
    failsafe.update(site(11.0), {}, datetime.now(UTC))
    limits = failsafe.boot_limits("CP1", CAPABILITIES)
    assert limits is not None
    assert limits.offline_kw == pytest.approx(11.0)
    assert limits.offline_a == pytest.approx(11_000 / 690)


def test_the_simulated_setting_scales_the_draws_down_to_its_value() -> None:
    amperes = OfflineFallback(KEY_A, 8.0)
    capped = amperes.cap({1: 11.0, 2: 3.68}, {1: 3, 2: 1})  # 15.9 A + 16 A on L1
    assert capped[1] / capped[2] == pytest.approx(11.0 / 3.68)
    assert capped[1] * 1000 / 690 + capped[2] * 1000 / 230 == pytest.approx(8.0)
    watts = OfflineFallback(VARIABLE_W)
    assert watts.cap({1: 11.0}, {1: 3}) == {1: 11.0}  # not set: no bound
    assert not watts.change("-1")
    assert not watts.change("many")
    assert watts.limit is None
    assert watts.change("5000")
    assert watts.cap({1: 11.0}, {1: 3}) == {1: pytest.approx(5.0)}


# -- over websockets ----------------------------------------------------------------------------


async def drained(server: OcppServer) -> None:
    """Return once every command queued to CP1 so far (and any it led to) has been answered."""
    handler = server.registry.get("CP1")
    assert handler is not None
    for _ in range(2):  # the second follows whatever the first one's predecessors queued
        await handler.commands.read_composite(1, 60)


@pytest.mark.parametrize("version", VERSIONS)
def test_the_fallback_is_written_at_boot_and_again_when_it_moves(version: str) -> None:
    failsafe = Failsafe()
    failsafe.update(site(11.0), {}, datetime.now(UTC))
    setting = SETTING[version]

    async def scenario() -> None:
        async with (
            endpoint(server_options={"boot_limits": failsafe.boot_limits}, offline_fallback_settings=BOTH) as server,
            simulated(server, version, offline_fallback=setting) as station,
        ):
            sink = sink_of(server)
            first = await sink.wait_for(OfflineFallbackWritten)
            expected = "15" if version == "1.6" else "11000"  # 11 kW on 3 phases at 230 V: 15.9 A
            assert (first.station_id, first.outcome.setting, first.outcome.value) == ("CP1", setting.name, expected)
            assert first.outcome.status is SettingStatus.ACCEPTED
            assert station.offline_fallback is not None
            assert station.offline_fallback.limit == float(expected)
            handler = server.registry.get("CP1")
            assert handler is not None
            assert handler.offline_fallback == first.outcome

            sender = FallbackSender(failsafe, server.registry, lambda: datetime.now(UTC))
            sender.update(site(7.0), {})
            sender.flush(site(7.0).id)
            second = await sink.wait_for(OfflineFallbackWritten, after=sink.events.index(first) + 1)
            assert second.outcome.value == ("10" if version == "1.6" else "7000")
            assert station.offline_fallback.limit == float(second.outcome.value)

            sender.update(site(7.0), {})
            sender.flush(site(7.0).id)
            await drained(server)  # nothing moved: nothing written
            assert len(sink.of_type(OfflineFallbackWritten)) == 2

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_without_the_setting_gets_no_write(version: str) -> None:
    failsafe = Failsafe()
    failsafe.update(site(11.0), {}, datetime.now(UTC))

    async def scenario() -> None:
        async with (
            endpoint(server_options={"boot_limits": failsafe.boot_limits}, offline_fallback_settings=BOTH) as server,
            simulated(server, version) as station,
        ):
            sink = sink_of(server)
            await sink.wait_for(ProfileAccepted)  # the boot tx default; the settings' read is queued behind it
            await drained(server)
            handler = server.registry.get("CP1")
            assert handler is not None
            assert handler.offline_setting is None
            assert sink.of_type(OfflineFallbackWritten) == []
            assert station.offline_fallback is None

    run(scenario())


@pytest.mark.parametrize("version", VERSIONS)
def test_a_station_cut_off_draws_within_its_offline_fallback(version: str) -> None:
    """No profiles at boot, so the car draws its 11 kW until the endpoint goes; then the setting binds."""
    setting = SETTING[version]
    policy = {"boot_limits": lambda station_id, capabilities: BootLimits(offline_kw=5.0, offline_a=8.0)}
    bound_kw = 8 * 690 / 1000 if version == "1.6" else 5.0  # 8 A on 3 phases at 230 V, or 5000 W

    async def scenario() -> None:
        async with (
            endpoint(server_options=policy, offline_fallback_settings=BOTH) as server,
            simulated(server, version, offline_fallback=setting, ev=SimulatedEv(11.0)) as station,
        ):
            written = await sink_of(server).wait_for(OfflineFallbackWritten)
            assert written.outcome.status is SettingStatus.ACCEPTED
            await until(lambda: station.power_kw > 10.0)  # online: only the car limits it
            await server.stop()
            await until(lambda: station.offline_intervals >= 2)
            assert 0 < station.power_kw <= bound_kw + 1e-9
            assert station.evses[1].transaction_id is not None  # charging on, offline

    run(scenario())

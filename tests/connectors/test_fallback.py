"""The profiles sent at boot: a tx default with each gun's share and a station cap.

Pure compilation first, then over real websockets: the simulated station's composite schedule
shows the tx default once it has booted, and its car draws no more.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from connectors.ocpp.capabilities import capabilities_from_v16_configuration
from connectors.ocpp.events import MeterSampleReceived, ProfileAccepted
from connectors.ocpp.fallback import BootLimits, boot_profiles, share_among_guns
from connectors.ocpp.profiles import to_v16_set_charging_profile, to_v201_set_charging_profile
from models import ProfilePurpose, RateUnit, StationCapabilities
from tests.connectors.live import VERSIONS, endpoint, run, simulated, sink_of
from tests.connectors.payloads import NOW, ocpp_valid

BOTH_UNITS = StationCapabilities(ocpp_version="1.6")


def test_the_default_policy_shares_the_limit_among_the_guns_the_station_has() -> None:
    policy = share_among_guns(22.0)
    two = StationCapabilities(ocpp_version="1.6", evse_count=2)
    offline = {"offline_kw": 22.0, "offline_a": pytest.approx(22_000 / 690)}  # 3 phases at 230 V
    assert policy("CP1", two) == BootLimits(station_limit_kw=22.0, gun_limit_kw=11.0, **offline)
    assert policy("CP1", BOTH_UNITS) == BootLimits(station_limit_kw=22.0, gun_limit_kw=22.0, **offline)  # count unknown


def test_the_number_of_connectors_is_read_at_boot() -> None:
    learned, warnings = capabilities_from_v16_configuration([{"key": "NumberOfConnectors", "value": "2"}])
    assert (learned.evse_count, warnings) == (2, [])


@pytest.mark.parametrize("version", VERSIONS)
def test_boot_profiles_are_a_station_cap_and_a_tx_default_for_every_gun(version: str) -> None:
    capabilities = StationCapabilities(ocpp_version=version)  # "1.6" or "2.0.1"
    cap, default = boot_profiles(BootLimits(16.0, 8.0), "CP1", capabilities, NOW)
    assert (cap.purpose, cap.rate_unit, cap.periods[0].limit) == (ProfilePurpose.STATION_MAX, RateUnit.W, 16000)
    assert (default.purpose, default.rate_unit, default.profile_id) == (ProfilePurpose.TX_DEFAULT, RateUnit.A, 2000)
    assert default.periods[0].limit == 11.5  # 8 kW on 3 phases at 230 V: 11.59 A, floored
    for schedule in (cap, default):
        if version == "1.6":
            assert ocpp_valid("SetChargingProfile", to_v16_set_charging_profile(schedule, 0), "1.6")
        else:
            assert ocpp_valid("SetChargingProfile", to_v201_set_charging_profile(schedule, 0), "2.0.1")


def test_a_watt_only_station_gets_watts_and_a_limit_below_the_minimum_pauses() -> None:
    watts = StationCapabilities(ocpp_version="1.6", rate_units=frozenset({RateUnit.W}))
    (default,) = boot_profiles(BootLimits(gun_limit_kw=3.0), "CP1", watts, NOW)
    assert (default.rate_unit, default.periods[0].limit) == (RateUnit.W, 0.0)  # 3 kW is below 6 A on 3 phases
    assert boot_profiles(BootLimits(), "CP1", watts, NOW) == []


@pytest.mark.parametrize("version", VERSIONS)
def test_after_boot_the_station_holds_the_tx_default_and_the_cap(version: str) -> None:
    """1.6 tells its connectors, so the default policy shares; 2.0.1 gets a policy of its own."""
    two_guns = StationCapabilities(
        ocpp_version="1.6" if version == "1.6" else "2.0.1",
        max_periods_per_schedule=24,
        max_stack_level=8,
        evse_count=2,
    )
    options = {} if version == "1.6" else {"boot_limits": lambda station_id, capabilities: BootLimits(16.0, 8.0)}

    async def scenario() -> None:
        async with (
            endpoint(fallback_limit_kw=16.0, server_options=options) as server,
            simulated(server, version, capabilities=two_guns) as station,
        ):
            sink = sink_of(server)
            first = await sink.wait_for(ProfileAccepted)
            second = await sink.wait_for(ProfileAccepted, after=sink.events.index(first) + 1)
            assert {first.gun_id, second.gun_id} == {"CP1/0"}
            assert {item.schedule.purpose for item in station.store.profiles(0)} == {
                ProfilePurpose.STATION_MAX,
                ProfilePurpose.TX_DEFAULT,
            }
            handler = server.registry.get("CP1")
            assert handler is not None
            steps = await handler.commands.read_composite(1, 600, unit=RateUnit.W)
            assert steps
            limit_kw = steps[0][1]
            assert limit_kw == pytest.approx(11.5 * 3 * 0.23)  # the share, in amperes; the cap (16 kW) is above
            mark = len(sink.events)
            later = await sink.wait_for(MeterSampleReceived, after=mark)
            assert later.sample.power_kw == pytest.approx(limit_kw)
            assert later.sample.timestamp - first.at < timedelta(seconds=5)

    run(scenario())

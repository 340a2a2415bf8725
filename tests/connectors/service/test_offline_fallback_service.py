"""The running service writes each station's fallback into its own offline-fallback setting, where it has one."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from connectors.app import running_service
from connectors.settings import OcppSection
from connectors.simulator.charge_point import SimulatedChargePoint, SimulatedEv
from models import RateUnit
from models.station import OfflineFallbackSetting
from tests.connectors.service.fleet import METER_INTERVAL_S, depot, fast_settings, until

KEY = "service-test-key"
CURRENT = OfflineFallbackSetting(name="SimOfflineCurrent", unit=RateUnit.A)
POWER = OfflineFallbackSetting(name="SimCtrlr.OfflinePower", unit=RateUnit.W)


def test_the_service_writes_the_fallback_updates_it_and_a_cut_station_keeps_within(tmp_path: Path) -> None:
    ocpp = OcppSection(host="127.0.0.1", port=0, command_timeout_s=2.0, offline_fallback_settings=[CURRENT, POWER])
    settings = fast_settings(tmp_path, depot(3, limit_kw=33.0), api_key=KEY, ocpp=ocpp)

    async def scenario() -> None:
        async with running_service(settings) as running:
            assert running.api_url is not None

            def station(station_id: str, version: str, setting: OfflineFallbackSetting | None) -> SimulatedChargePoint:
                return SimulatedChargePoint(
                    station_id,
                    running.station_url(station_id),
                    "1.6" if version == "1.6" else "2.0.1",
                    ev=SimulatedEv(max_power_kw=22.0),
                    meter_interval_s=METER_INTERVAL_S,
                    offline_fallback=setting,
                )

            stations = [station("CP00", "1.6", CURRENT), station("CP01", "2.0.1", POWER), station("CP02", "1.6", None)]
            await asyncio.gather(*(item.start() for item in stations))
            current, power = (item.offline_fallback for item in stations[:2])
            assert current is not None
            assert power is not None
            # 11 kW each: 15.9 A on 3 phases at 230 V
            await until(lambda: (current.limit, power.limit) == (15.0, 11_000.0), 10.0, "fallbacks written")
            state = running.runtime.state.stations
            await until(lambda: state["CP00"].offline_fallback is not None, 5.0, "the write's answer recorded")
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(base_url=running.api_url, headers=headers) as client:
                view = (await client.get("/api/v1/stations/CP00")).json()
                assert view["offline_fallback"]["setting"] == "SimOfflineCurrent"
                assert (view["offline_fallback"]["value"], view["offline_fallback"]["status"]) == ("15", "accepted")
                assert (await client.get("/api/v1/stations/CP02")).json()["offline_fallback"] is None
                answer = await client.put("/api/v1/sites/depot/limits/grid", json={"limit_kw": 16.5})
                assert answer.status_code < 300, answer.text
            # 5.5 kW each: 7.97 A
            await until(lambda: (current.limit, power.limit) == (7.0, 5_500.0), 10.0, "fallbacks updated")
        try:
            await until(lambda: stations[0].offline_intervals >= 2, 5.0, "CP00 drawing offline")
            await until(lambda: stations[1].offline_intervals >= 2, 5.0, "CP01 drawing offline")
            assert 0 < stations[0].power_kw <= 7 * 690 / 1000 + 1e-9
            assert 0 < stations[1].power_kw <= 5.5 + 1e-9
        finally:
            await asyncio.gather(*(item.stop() for item in stations))

    asyncio.run(asyncio.wait_for(scenario(), 40))

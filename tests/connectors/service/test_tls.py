"""The service's settings reach the endpoint: with a certificate and key it serves wss:// only."""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path

from connectors.app import running_service
from connectors.settings import OcppSection
from connectors.simulator.charge_point import SimulatedChargePoint
from tests.connectors.service.fleet import depot, fast_settings, until


def test_tls_settings_make_the_service_speak_wss(tmp_path: Path, certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    ocpp = OcppSection(host="127.0.0.1", port=0, command_timeout_s=2.0, tls_certificate=cert, tls_key=key)
    settings = fast_settings(tmp_path, depot(1, limit_kw=20.0), ocpp=ocpp)

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            url = running.station_url("CP00")
            assert url.startswith("wss://")
            station = SimulatedChargePoint(
                "CP00", url, "1.6", meter_interval_s=0.2, ssl_context=ssl.create_default_context(cafile=str(cert))
            )
            await station.start()
            try:
                await until(lambda: "CP00" in running.ocpp.registry.connected, 10.0, "CP00 connected over TLS")
            finally:
                await station.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))

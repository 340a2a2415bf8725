"""The REST API served by the running service: a limit given over HTTP reaches the stations."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from connectors.app import running_service
from connectors.settings import ApiSection
from tests.connectors.service.fleet import (
    INTERVAL_S,
    TOLERANCE_KW,
    depot,
    fast_settings,
    fleet,
    station_limits_kw,
    until,
)

KEY = "service-test-key"


def test_the_api_is_served_on_the_service_loop_and_a_limit_put_over_it_is_pushed(tmp_path: Path) -> None:
    site = depot(4, limit_kw=40.0)
    settings = fast_settings(tmp_path, site, api_key=KEY)

    async def scenario() -> None:
        async with running_service(settings) as running:
            assert running.api_url is not None
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(base_url=running.api_url, headers=headers) as client:
                assert (await client.get("/readyz")).status_code == 200
                async with fleet(running, ["CP00", "CP01", "CP02", "CP03"]) as stations:
                    state = running.runtime.state
                    await until(
                        lambda: all(gun.held is not None for gun in state.guns.values() if gun.session), 10.0, "steered"
                    )
                    answer = await client.put("/api/v1/sites/depot/limits/grid", json={"limit_kw": 20.0})
                    assert answer.status_code < 300, answer.text

                    def within() -> bool:
                        return sum(station_limits_kw(stations, datetime.now(UTC))) <= 20.0 + TOLERANCE_KW

                    await until(within, 2 * INTERVAL_S, "every station within the new 20 kW")
                metrics = await client.get("/metrics")
                assert metrics.status_code == 200
                assert "gridcharge_profile_push_seconds" in metrics.text
                assert 'gridcharge_site_limit_kw{site="depot"} 20.0' in metrics.text

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_port_in_use_for_the_api_is_an_os_error_naming_it(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = fast_settings(tmp_path, depot(1, limit_kw=11.0), api=ApiSection(host="127.0.0.1", port=port))

        async def start() -> None:
            async with running_service(settings):
                pass

        with pytest.raises(OSError, match=f":{port}"):
            asyncio.run(start())

"""A service on a simulated clock (the demo's): real-second settings and the runtime's instants agree."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from connectors.app import running_service
from connectors.clocks import clock_seconds
from connectors.simulator.clock import SimulatedClock
from connectors.state import utc_now
from tests.connectors.service.fleet import depot, fast_settings

KEY = "clock-test-key"


def test_real_seconds_span_more_of_a_faster_clock() -> None:
    assert clock_seconds(SimulatedClock(datetime(2026, 1, 5, tzinfo=UTC), speed=60.0), 2.5) == timedelta(seconds=150)
    assert clock_seconds(utc_now, 2.5) == timedelta(seconds=2.5)


def test_the_history_window_defaults_to_the_service_clock(tmp_path: Path) -> None:
    site = depot(1, limit_kw=11.0)
    clock = SimulatedClock(datetime.now(UTC) - timedelta(days=3), speed=60.0)  # a simulated day in the past

    async def scenario() -> None:
        async with running_service(fast_settings(tmp_path, site, api_key=KEY), clock=clock) as running:
            store = running.runtime.store
            ran: list[object] = []

            async def runs_recorded() -> None:
                while not ran:
                    ran.extend(await store.get_runs(site.id, clock.start, clock() + timedelta(minutes=1)))
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(runs_recorded(), 10.0)
            assert running.api_url is not None
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(base_url=running.api_url, headers=headers) as client:
                answer = await client.get(f"/api/v1/sites/{site.id}/history")
                assert answer.status_code == 200, answer.text
                assert answer.json()["runs"], "the runs of the simulated day are in the default window"

    asyncio.run(asyncio.wait_for(scenario(), 30.0))

"""Fixtures of the API tests: the example site, sessions on it, a real allocation, the live API."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.runtime import SessionView
from models import Allocation, Session, Site, SiteSnapshot
from optimizer import allocate
from tests.connectors.api.live import LiveApi, api_on

EXAMPLE_SITE = Path(__file__).resolve().parents[3] / "examples" / "site.yaml"
NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def site() -> Site:
    return Site.from_yaml(EXAMPLE_SITE)


@pytest.fixture(scope="session")
def sessions() -> list[SessionView]:
    """Two sessions on the example site: an AC car and a DC car."""
    return [
        SessionView(
            session_id=session_id,
            gun_id=gun_id,
            arrival=NOW - timedelta(hours=1),
            departure=NOW + timedelta(hours=3),
            energy_requested_kwh=energy_kwh,
            energy_delivered_kwh=5.0,
            power_kw=None,
            priority=1.0,
            controllable=True,
        )
        for session_id, gun_id, energy_kwh in [("S1", "AC01/1", 30.0), ("S2", "DC01/1", 60.0)]
    ]


@pytest.fixture(scope="session")
def allocation(site: Site, sessions: list[SessionView]) -> Allocation:
    """A real allocation of the optimizer for those sessions, two hours in 15-minute steps."""
    snapshot = SiteSnapshot(
        site=site,
        now=NOW,
        sessions=[
            Session(
                gun_id=view.gun_id,
                session_id=view.session_id,
                arrival=view.arrival,
                departure=view.departure,
                energy_requested_kwh=view.energy_requested_kwh,
                energy_delivered_kwh=view.energy_delivered_kwh,
            )
            for view in sessions
        ],
        horizon=timedelta(hours=2),
        step=timedelta(minutes=15),
    )
    return allocate(snapshot)


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite"


@pytest.fixture
async def api(store_path: Path, site: Site, sessions: list[SessionView]) -> AsyncIterator[LiveApi]:
    async with api_on(store_path, site, sessions) as live:
        yield live

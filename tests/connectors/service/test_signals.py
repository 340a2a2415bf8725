"""Tariffs and session overrides from the store reach the plan the stations get."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.app import running_service
from connectors.service import Service
from connectors.settings import OptimizerSection, SessionDefaults
from connectors.snapshots import read_inputs
from connectors.state import LiveState
from connectors.store.memory import SqliteStore
from connectors.store.protocol import SessionOverride
from models import LimitNode, LimitSeries, LimitStep, SiteSnapshot, TimeOfUseBand, TimeOfUseTariff
from tests.connectors.service.fleet import depot, fast_settings, fleet, until


def test_a_cheap_band_takes_the_flexible_energy(tmp_path: Path) -> None:
    site = depot(2, limit_kw=44.0)
    settings = fast_settings(
        tmp_path,
        site,
        optimizer=OptimizerSection(horizon_s=6 * 3600.0, step_s=1800.0, solver_time_limit_s=2.0),
        sessions=SessionDefaults(energy_kwh=10.0, stay_s=6 * 3600.0),
    )
    cheap_from = (datetime.now(UTC) + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    band = TimeOfUseBand(start_hour=cheap_from.hour, end_hour=min(cheap_from.hour + 2, 24), price_per_kwh=0.10)

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            await running.runtime.store.put_tariff(site.id, TimeOfUseTariff(default_price_per_kwh=0.40, bands=[band]))
            async with fleet(running, ["CP00", "CP01"]):
                await until(lambda: _planned(running.runtime, site.id, 2), 10.0, "a plan for both cars")
                plan = running.runtime.allocation(site.id)
                assert plan is not None
                cheap_end = cheap_from + timedelta(hours=band.end_hour - band.start_hour)
                in_band = (plan.power_kw.index >= cheap_from) & (plan.power_kw.index < cheap_end)
                for gun_id in site.guns():
                    energy_kwh = plan.power_kw[gun_id] * 0.5
                    assert energy_kwh[in_band].sum() >= 0.9 * energy_kwh.sum() > 0
                    assert plan.limits_now[gun_id].limit_kw < 1.0  # dear now: it waits

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_a_priority_given_over_the_store_gets_its_gun_more(tmp_path: Path) -> None:
    site = depot(2, limit_kw=15.0)
    settings = fast_settings(tmp_path, site, sessions=SessionDefaults(energy_kwh=60.0, stay_s=3600.0))

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            runtime = running.runtime
            async with fleet(running, ["CP00", "CP01"]):
                await until(lambda: _planned(runtime, site.id, 2), 10.0, "a plan for both cars")
                first = runtime.state.guns["CP00/1"].session
                assert first is not None
                await runtime.store.put_session_override(SessionOverride(first.transaction_id, priority=10.0))
                runtime.request_solve(site.id, "session")

                def favoured() -> bool:
                    held = [runtime.state.guns[gun].held for gun in ("CP00/1", "CP01/1")]
                    return held[0] is not None and held[1] is not None and held[0].limit_kw > held[1].limit_kw + 2

                await until(favoured, 5.0, "the priority gun gets more")
                views = {view.gun_id: view for view in runtime.sessions(site.id)}
                assert views["CP00/1"].priority == 10.0
                assert views["CP01/1"].priority == 1.0

    asyncio.run(asyncio.wait_for(scenario(), 30))


def _planned(runtime: Service, site_id: str, guns: int) -> bool:
    plan = runtime.allocation(site_id)
    return plan is not None and len(plan.limits_now) == guns


def test_a_series_of_a_node_a_replaced_site_dropped_no_longer_applies(tmp_path: Path) -> None:
    site = depot(2, limit_kw=44.0)
    feeder = LimitNode(id="feeder", limit_kw=30.0, guns=site.root.guns)
    with_feeder = site.model_copy(update={"root": site.root.model_copy(update={"guns": [], "children": [feeder]})})
    start = datetime.now(UTC)
    series = LimitSeries(steps=[LimitStep(start=start, end=start + timedelta(hours=1), limit_kw=10.0)])

    async def scenario() -> None:
        async with SqliteStore(tmp_path / "store.db") as store:
            await store.put_site(with_feeder)
            await store.put_limit_series(site.id, "feeder", series)
            await store.put_site(site)  # replaced: no feeder any more
            inputs = await read_inputs(store, LiveState(lambda *_: None), site.id)
            assert inputs is not None
            assert inputs.limit_series == {}
            assert await store.get_limit_series(site.id) == {"feeder": series}  # kept, should the node return
            now = datetime.now(UTC)
            SiteSnapshot(site=inputs.site, now=now, limit_series=inputs.limit_series)  # no SnapshotError

    asyncio.run(scenario())

"""The service's parts on their own: settings, the push rule, one run at a time, debounced triggers."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel
from typer.testing import CliRunner

from connectors.api.keys import hash_api_key
from connectors.cli import app
from connectors.push import LOWER_TOLERANCE_A, LOWER_TOLERANCE_KW, Deadband, needs_push
from connectors.runtime import SolveReason
from connectors.scheduler import SiteRuns, SiteScheduler
from connectors.settings import (
    ApiSection,
    OcppSection,
    OptimizerSection,
    SchedulerSection,
    SessionDefaults,
    Settings,
)
from connectors.solving import SiteSolver
from connectors.state import HeldLimit
from models import GunLimit, Session, SiteSnapshot, SolveStatus
from optimizer import OptimizerOptions
from tests.connectors.service.fleet import depot

NOW = datetime(2026, 1, 5, 12, tzinfo=UTC)
DEADBAND = Deadband(a=1.0, kw=0.5)
RENEW = timedelta(seconds=30)


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    digest = "ab" * 32
    monkeypatch.setenv("GRIDCHARGE_OCPP__PORT", "9100")
    monkeypatch.setenv("GRIDCHARGE_SCHEDULER__INTERVAL_S", "30")
    monkeypatch.setenv("GRIDCHARGE_API_KEYS", f'["read:{digest}"]')
    monkeypatch.setenv("GRIDCHARGE_API_KEY", "demo-key")
    settings = Settings()
    assert settings.ocpp.port == 9100
    assert settings.scheduler.interval_s == 30.0
    records = {(record.key_hash, record.scope) for record in settings.api_key_records()}
    assert records == {(digest, "read"), (hash_api_key("demo-key"), "write")}
    assert "demo-key" not in repr(settings)


def test_an_api_key_must_name_its_scope_and_hash() -> None:
    with pytest.raises(ValueError, match="sha256"):
        Settings(api_keys=["admin:1234"])


def test_every_setting_is_described() -> None:
    sections: list[type[BaseModel]] = [Settings, OcppSection, ApiSection, SchedulerSection, OptimizerSection]
    sections.append(SessionDefaults)
    for section in sections:
        for name, field in section.model_fields.items():
            assert field.description, f"{section.__name__}.{name} has no description"


def _held(limit_kw: float, limit_a: float | None = None, until: datetime | None = None) -> HeldLimit:
    return HeldLimit(limit_kw, limit_a, NOW - timedelta(minutes=1), until or NOW + timedelta(minutes=10), 3001)


def test_a_new_session_a_change_to_or_from_zero_and_an_ending_profile_are_pushed() -> None:
    assert needs_push(None, GunLimit(5.0, None, 3), NOW, DEADBAND, RENEW)
    assert needs_push(_held(5.0), GunLimit(0.0, None, 3), NOW, DEADBAND, RENEW)
    assert needs_push(_held(0.0), GunLimit(4.2, None, 3), NOW, DEADBAND, RENEW)
    assert needs_push(_held(5.0, until=NOW + timedelta(seconds=10)), GunLimit(5.0, None, 3), NOW, DEADBAND, RENEW)
    assert not needs_push(_held(5.0), GunLimit(5.0, None, 3), NOW, DEADBAND, RENEW)


def test_a_rise_within_the_deadband_waits_a_fall_does_not() -> None:
    assert not needs_push(_held(5.0, 8.0), GunLimit(5.5, 8.9, 3), NOW, DEADBAND, RENEW)
    assert needs_push(_held(5.0, 8.0), GunLimit(5.7, 9.0, 3), NOW, DEADBAND, RENEW)
    assert needs_push(_held(5.0, 8.0), GunLimit(4.6, 7.6, 3), NOW, DEADBAND, RENEW)


def test_a_fall_later_in_the_plan_is_pushed_at_once_and_a_held_plan_is_read_at_its_step() -> None:
    later = NOW + timedelta(minutes=5)
    held = HeldLimit(10.0, None, NOW - timedelta(minutes=1), NOW + timedelta(minutes=10), 3001, ((later, 10.0),))
    assert needs_push(held, GunLimit(10.0, None, 3), NOW, DEADBAND, RENEW, [(later, 6.0)])
    assert not needs_push(held, GunLimit(10.0, None, 3), NOW, DEADBAND, RENEW, [(later, 10.0)])
    stepping = HeldLimit(10.0, 14.4, NOW - timedelta(minutes=6), NOW + timedelta(minutes=10), 3001, ((NOW, 6.0),))
    assert stepping.kw_at(NOW) == 6.0
    assert not needs_push(stepping, GunLimit(6.0, 8.6, 3), NOW, DEADBAND, RENEW)  # what it holds now


@given(
    held_kw=st.floats(0.0, 50.0),
    new_kw=st.floats(0.0, 50.0),
    in_amperes=st.booleans(),
)
def test_a_gun_left_alone_never_holds_more_than_it_should_beyond_the_resolution(
    held_kw: float, new_kw: float, in_amperes: bool
) -> None:
    """Safety: when no profile is sent, what the gun holds exceeds the new limit by at most OCPP's resolution."""
    per_kw_a = 1000 / (3 * 230)
    held = _held(held_kw, held_kw * per_kw_a if in_amperes else None)
    new = GunLimit(new_kw, new_kw * per_kw_a if in_amperes else None, 3)
    if not needs_push(held, new, NOW, DEADBAND, RENEW):
        if in_amperes:
            assert held.limit_a is not None
            assert new.limit_a is not None
            assert held.limit_a - new.limit_a <= LOWER_TOLERANCE_A + 1e-9
        else:
            assert held.limit_kw - new.limit_kw <= LOWER_TOLERANCE_KW + 1e-9


def test_a_site_never_runs_twice_at_once_and_what_came_meanwhile_runs_after() -> None:
    async def scenario() -> list[frozenset[SolveReason]]:
        release = asyncio.Event()
        ran: list[frozenset[SolveReason]] = []
        running = 0

        async def one_run(site_id: str, reasons: frozenset[SolveReason]) -> None:
            nonlocal running
            running += 1
            assert running == 1
            ran.append(reasons)
            await release.wait()
            running -= 1

        runs = SiteRuns(one_run)
        first = asyncio.create_task(runs("depot", frozenset({"interval"})))
        await asyncio.sleep(0)
        assert runs.busy("depot")
        await runs("depot", frozenset({"plug_in"}))  # returns at once: taken up by the busy run
        await runs("depot", frozenset({"limit"}))
        release.set()
        await first
        return ran

    assert asyncio.run(scenario()) == [frozenset({"interval"}), frozenset({"plug_in", "limit"})]


def triggered_runs(reasons: list[SolveReason], debounce_s: float) -> list[frozenset[SolveReason]]:
    """Trigger `reasons` on one site in turn; the runs made within 2 s of the last (50 ms past the first)."""

    async def scenario() -> list[frozenset[SolveReason]]:
        ran: list[frozenset[SolveReason]] = []
        done = asyncio.Event()

        async def one_run(site_id: str, reasons: frozenset[SolveReason]) -> None:
            ran.append(reasons)
            done.set()

        scheduler = SiteScheduler(SiteRuns(one_run), interval_s=60.0, debounce_s=debounce_s)
        scheduler.start()
        try:
            for reason in reasons:
                scheduler.trigger("depot", reason)
            async with asyncio.timeout(2):
                await done.wait()
            await asyncio.sleep(0.05)  # a second run, had there been one
        finally:
            await scheduler.stop()
        return ran

    return asyncio.run(scenario())


def test_a_burst_of_triggers_makes_one_run_with_every_reason() -> None:
    runs = triggered_runs(["plug_in", "plug_in", "unplug", "station"], debounce_s=0.05)
    assert runs == [frozenset({"plug_in", "unplug", "station"})]


def test_a_new_limit_runs_at_once_and_takes_the_waiting_reasons_along() -> None:
    # with a debounce of 30 s, only a run at once is seen within 2 s; the debounce cancelled runs no more
    assert triggered_runs(["plug_in", "limit"], debounce_s=30.0) == [frozenset({"plug_in", "limit"})]


def test_serve_is_a_command_that_takes_the_site_file() -> None:
    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--config" in result.output


def test_a_solve_that_overruns_gives_way_to_the_greedy_rule_within_the_limits() -> None:
    site = depot(3, limit_kw=20.0)
    sessions = [
        Session(gun_id=gun_id, arrival=NOW, departure=NOW + timedelta(hours=4), energy_requested_kwh=30.0)
        for gun_id in site.guns()
    ]
    snapshot = SiteSnapshot(site=site, now=NOW, sessions=sessions, horizon=timedelta(hours=4))
    solver = SiteSolver(OptimizerOptions(time_limit_s=1e-6), overrun_s=0.0)  # no solve can finish in time
    allocation = asyncio.run(solver.allocate(snapshot))
    assert allocation.status is SolveStatus.FALLBACK
    assert any("overran" in warning for warning in allocation.warnings)
    assert sum(limit.limit_kw for limit in allocation.limits_now.values()) <= 20.0 + 1e-6
    assert sum(limit.limit_kw for limit in allocation.limits_now.values()) > 15.0

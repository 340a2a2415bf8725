"""When each site runs: every interval (an APScheduler job per site) and soon after events.

The interval job has `max_instances=1` and `coalesce=True` (missed runs are made up once) and only
starts the run as a task of ours; `SiteRuns` makes sure a run still busy when the next is due is
not started twice. Events (plug-in, unplug, a tariff) call `trigger`, which waits `debounce_s` so
that a burst of events (a fleet booting) makes one run, with every reason given meanwhile. A new
limit (`AT_ONCE`) starts the run at once, taking along the reasons waiting: a lower limit must
reach the stations as soon as it can, and limits come one by one from an operator or a DSO, not
in bursts. A triggered run that finds its site busy is taken up by the busy run when it ends
(`SiteRuns`), so no event is lost and no site runs twice at once (several limits in a row make one
run more, not one each).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler  # type: ignore[import-untyped]

from connectors.runtime import SolveReason

LOGGER = logging.getLogger(__name__)

SiteRun = Callable[[str, frozenset[SolveReason]], Awaitable[None]]
"""(site id, why) -> one run of the site."""
AT_ONCE: frozenset[SolveReason] = frozenset({"limit"})
"""Reasons that are not debounced (see the module docstring)."""


class SiteRuns:
    """Runs each site at most once at a time; what is asked during a run makes one more after it."""

    def __init__(self, run: SiteRun) -> None:
        self._run = run
        self._busy: set[str] = set()
        self._again: dict[str, set[SolveReason]] = {}

    def busy(self, site_id: str) -> bool:
        return site_id in self._busy

    async def __call__(self, site_id: str, reasons: frozenset[SolveReason]) -> None:
        if site_id in self._busy:
            self._again.setdefault(site_id, set()).update(reasons)
            return
        self._busy.add(site_id)
        try:
            while reasons:
                await self._run(site_id, reasons)
                reasons = frozenset(self._again.pop(site_id, ()))
        finally:
            self._busy.discard(site_id)


class SiteScheduler:
    """The interval jobs and the debounced triggers of every site (see the module docstring)."""

    def __init__(self, runs: SiteRuns, interval_s: float, debounce_s: float) -> None:
        self.runs = runs
        self.interval_s = interval_s
        self.debounce_s = debounce_s
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._pending: dict[str, set[SolveReason]] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        """Start on the running event loop."""
        self._scheduler.start()

    async def stop(self) -> None:
        """Stop the jobs and the triggers; a run under way is cancelled."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def add_site(self, site_id: str) -> None:
        """Run `site_id` every interval from one interval on (a site added again keeps one job)."""
        self._scheduler.add_job(
            self._interval_run,
            "interval",
            seconds=self.interval_s,
            args=[site_id],
            id=f"site:{site_id}",
            replace_existing=True,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC) + timedelta(seconds=self.interval_s),
        )

    def remove_site(self, site_id: str) -> None:
        job = self._scheduler.get_job(f"site:{site_id}")
        if job is not None:
            job.remove()

    def add_chore(self, job_id: str, chore: Callable[[], Awaitable[None]], every_s: float) -> None:
        """Another periodic job (pruning old samples), one at a time."""
        self._scheduler.add_job(
            chore, "interval", seconds=every_s, id=job_id, replace_existing=True, max_instances=1, coalesce=True
        )

    def trigger(self, site_id: str, reason: SolveReason) -> None:
        """Run `site_id` once `debounce_s` from the first trigger not yet run, or now for a reason
        in `AT_ONCE`; returns at once."""
        self._pending.setdefault(site_id, set()).add(reason)
        if reason in AT_ONCE:
            timer = self._timers.get(site_id)
            if timer is not None:
                timer.cancel()
            self._fire(site_id)
        elif site_id not in self._timers:
            loop = asyncio.get_running_loop()
            self._timers[site_id] = loop.call_later(self.debounce_s, self._fire, site_id)

    def _fire(self, site_id: str) -> None:
        self._timers.pop(site_id, None)
        self._spawn(site_id, frozenset(self._pending.pop(site_id, ())))

    async def _interval_run(self, site_id: str) -> None:
        """The job only starts the run: runs are our tasks, which `stop` cancels and awaits quietly."""
        self._spawn(site_id, frozenset({"interval"}))

    def _spawn(self, site_id: str, reasons: frozenset[SolveReason]) -> None:
        task = asyncio.get_running_loop().create_task(self.runs(site_id, reasons), name=f"run {site_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

"""History: site load, limit and per-gun power of the scheduler's runs over [start, end), for notebooks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Response

from connectors.api.deps import READ, ApiState, ExistingSite, StateDep, ordered_window
from connectors.api.schemas import History, Moment, Run
from connectors.api.tables import CSV_MEDIA_TYPE, csv_response, history_frame
from connectors.store.protocol import RunRecord
from models import Site

router = APIRouter(
    prefix="/sites/{site_id}",
    tags=["history"],
    dependencies=[READ],
    responses={404: {"description": "No such site."}},
)

DEFAULT_SPAN = timedelta(hours=24)
Start = Annotated[Moment | None, Query(description="Window start; default end - 24 h.")]
End = Annotated[Moment | None, Query(description="Window end (excluded); default the service's now.")]


@router.get("/history")
async def get_history(site: ExistingSite, state: StateDep, start: Start = None, end: End = None) -> History:
    """The runs with start <= at < end, in time order (kept for the store's retention window)."""
    begin, stop, runs = await _runs(site, state, start, end)
    return History(site_id=site.id, start=begin, end=stop, runs=[Run.model_validate(run) for run in runs])


@router.get("/history.csv", response_class=Response, responses={200: {"content": {CSV_MEDIA_TYPE: {}}}})
async def get_history_csv(site: ExistingSite, state: StateDep, start: Start = None, end: End = None) -> Response:
    """The runs as CSV: `at`, status, site load and limit, then `power_kw[<gun>]` and `limit_kw[<gun>]`."""
    _, _, runs = await _runs(site, state, start, end)
    return csv_response(history_frame(runs), f"{site.id}-history.csv")


async def _runs(
    site: Site, state: ApiState, start: datetime | None, end: datetime | None
) -> tuple[datetime, datetime, list[RunRecord]]:
    stop = end or _now(state)
    begin, stop = ordered_window(start or stop - DEFAULT_SPAN, stop)
    return begin, stop, await state.runtime.store.get_runs(site.id, begin, stop)


def _now(state: ApiState) -> datetime:
    """The service's now: runs are stamped on its clock, which the demo runs faster than real time."""
    clock = getattr(state.runtime, "clock", None)  # `Service.clock`; a runtime without one runs on real time
    return clock() if callable(clock) else datetime.now(UTC)

"""Sessions: read those in progress; override what the station does not know (departure, energy, priority)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, status

from connectors.api.deps import READ, WRITE, ExistingSite, StateDep
from connectors.api.errors import unprocessable
from connectors.api.schemas import SessionOut, SessionOverrideOut, SessionPatch
from connectors.runtime import Runtime, SessionView
from connectors.store.protocol import SessionOverride

router = APIRouter(tags=["sessions"], dependencies=[READ])


@router.get("/sites/{site_id}/sessions", responses={404: {"description": "No such site."}})
async def list_sessions(site: ExistingSite, state: StateDep) -> list[SessionOut]:
    """The site's sessions in progress, with the facts the optimizer uses (overrides applied)."""
    return [SessionOut.model_validate(view) for view in state.runtime.sessions(site.id)]


@router.patch(
    "/sessions/{session_id}",
    dependencies=[WRITE],
    responses={404: {"description": "No such session in progress."}},
)
async def patch_session(
    session_id: Annotated[str, Path(description="The session's id (OCPP transaction id).")],
    patch: Annotated[
        SessionPatch,
        Body(
            openapi_examples={
                "leaving_early": {
                    "summary": "leaves at 17:30 wanting 30 kWh, twice the priority",
                    "value": {"departure": "2026-12-02T17:30:00+01:00", "energy_requested_kwh": 30, "priority": 2},
                },
                "priority": {"summary": "only the priority", "value": {"priority": 5}},
            }
        ),
    ],
    state: StateDep,
) -> SessionOverrideOut:
    """Override a session's departure, energy wanted or priority; fields not given keep their value.
    The override is stored, then the site re-solves."""
    runtime = state.runtime
    site_id, session = await _session_in_progress(runtime, session_id)
    if patch.departure is not None and patch.departure <= session.arrival:
        raise unprocessable(("body", "departure"), f"departure must be after the arrival {session.arrival.isoformat()}")
    await runtime.store.put_session_override(
        SessionOverride(
            session_id=session_id,
            departure=patch.departure,
            energy_requested_kwh=patch.energy_requested_kwh,
            priority=patch.priority,
        )
    )
    stored = await runtime.store.get_session_override(session_id)
    runtime.request_solve(site_id, "session")
    return SessionOverrideOut.model_validate(stored)


async def _session_in_progress(runtime: Runtime, session_id: str) -> tuple[str, SessionView]:
    """The site id and view of a session in progress; 404 when no site has it."""
    for site in await runtime.store.list_sites():
        for view in runtime.sessions(site.id):
            if view.session_id == session_id:
                return site.id, view
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no session {session_id!r} in progress")

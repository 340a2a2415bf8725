"""Stations: register one (site, basic-auth password stored hashed), remove it, read its live state."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status

from connectors.api.deps import READ, WRITE, StateDep
from connectors.api.errors import unprocessable
from connectors.api.schemas import StationOut, StationRegistration, StationState
from connectors.ocpp.security import hash_password
from connectors.store.protocol import StationRecord

router = APIRouter(prefix="/stations", tags=["stations"], dependencies=[READ])

StationId = Annotated[str, Path(pattern=r"^[^/\s]+$", description="The station's OCPP identity.", examples=["AC01"])]


@router.get("", responses={404: {"description": "No such site."}})
async def list_stations(
    state: StateDep, site_id: Annotated[str | None, Query(description="Only the stations of this site.")] = None
) -> list[StationState]:
    """Every registered or connected station (of one site) as the service sees it now."""
    if site_id is not None and await state.runtime.store.get_site(site_id) is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    return [StationState.model_validate(view) for view in state.runtime.stations(site_id)]


@router.get("/{station_id}", responses={404: {"description": "No such station."}})
async def get_station(station_id: StationId, state: StateDep) -> StationState:
    """A station's live state: connection, protocol version, and per gun its status, session,
    power and limit now, last profile and whether it was accepted, controllable or not and why,
    and its fallback limit."""
    for view in state.runtime.stations():
        if view.station_id == station_id:
            return StationState.model_validate(view)
    raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id!r}")


@router.put(
    "/{station_id}",
    dependencies=[WRITE],
    status_code=status.HTTP_200_OK,
    responses={201: {"description": "Registered."}, 422: {"description": "Unknown site, or a bad password."}},
)
async def put_station(
    station_id: StationId,
    registration: Annotated[
        StationRegistration,
        Body(
            openapi_examples={
                "with_password": {
                    "summary": "with a basic-auth password (security profiles 1 and 2)",
                    "value": {"site_id": "depot", "password": "correct-horse-battery"},
                },
                "move": {"summary": "to another site, keeping its password", "value": {"site_id": "depot"}},
            }
        ),
    ],
    state: StateDep,
    response: Response,
) -> StationOut:
    """Register a station (201) or change its site or password; the service admits it from now on.

    The password is stored hashed (scrypt) and never returned. Absent, the stored one is kept;
    null removes it.
    """
    store = state.runtime.store
    if await store.get_site(registration.site_id) is None:
        raise unprocessable(("body", "site_id"), f"no site {registration.site_id!r}")
    existing = await store.get_station(station_id)
    if "password" not in registration.model_fields_set:
        password_hash = existing.password_hash if existing is not None else None
    elif registration.password is None:
        password_hash = None
    else:
        password_hash = await asyncio.to_thread(hash_password, registration.password.get_secret_value())
    record = StationRecord(station_id=station_id, site_id=registration.site_id, password_hash=password_hash)
    await store.put_station(record)
    if existing is None:
        response.status_code = status.HTTP_201_CREATED
    await state.runtime.station_registered(record)
    return StationOut(station_id=station_id, site_id=record.site_id, has_password=password_hash is not None)


@router.delete(
    "/{station_id}",
    dependencies=[WRITE],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: {"description": "No such station."}},
)
async def delete_station(station_id: StationId, state: StateDep) -> None:
    """Deregister a station: the service disconnects it and forgets its live state."""
    if not await state.runtime.store.delete_station(station_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no station {station_id!r}")
    await state.runtime.station_removed(station_id)

"""Sites: create or replace one from the same JSON as its YAML file; read them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Response, status

from connectors.api.deps import READ, WRITE, ExistingSite, SiteId, StateDep
from connectors.api.errors import unprocessable
from connectors.api.schemas import SITE_EXAMPLE
from models import Site

router = APIRouter(prefix="/sites", tags=["sites"], dependencies=[READ])


@router.get("")
async def list_sites(state: StateDep) -> list[Site]:
    """Every site, by id."""
    return await state.runtime.store.list_sites()


@router.get("/{site_id}", responses={404: {"description": "No such site."}})
async def get_site(site: ExistingSite) -> Site:
    """One site: its time zone and limit tree down to the guns, static limits included."""
    return site


@router.put(
    "/{site_id}",
    dependencies=[WRITE],
    status_code=status.HTTP_200_OK,
    responses={201: {"description": "Created."}, 422: {"description": "Invalid site, or `id` not the path's."}},
)
async def put_site(
    site_id: SiteId,
    site: Annotated[
        Site,
        Body(openapi_examples={"depot": {"summary": "A feeder with two AC guns, a DC gun", "value": SITE_EXAMPLE}}),
    ],
    state: StateDep,
    response: Response,
) -> Site:
    """Create or replace a site (201 when new). The body's `id` must be the path's.

    Limit series and tariffs given before stay; series of nodes no longer in the tree no longer apply.
    """
    if site.id != site_id:
        raise unprocessable(("body", "id"), f"the site id {site.id!r} must match the path's {site_id!r}")
    store = state.runtime.store
    async with state.site_locks[site_id]:
        created = await store.get_site(site_id) is None
        await store.put_site(site)
    if created:
        response.status_code = status.HTTP_201_CREATED
    await state.runtime.site_changed(site_id)
    return site

"""Grid limits: static limits of any node of a site's tree, limit series per node, what is in force.

A node unknown in the path is a 404 (the resource does not exist); a node unknown in a body is a
422 naming it (the request is wrong). Gun ids hold a slash (`AC01/1`): node ids in paths may too,
so the series routes (`.../{node_id}/series`) come before the static one. Every write is durable
before its 2xx and triggers `runtime.site_changed` (fallbacks recomputed, re-solve). Writes hold
the site's lock: a node checked to exist is still in the tree when its limit is written.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Path, Query, status

from connectors.api.deps import READ, WRITE, ApiState, ExistingSite, SiteId, StateDep, ordered_window
from connectors.api.errors import unprocessable
from connectors.api.limit_tree import limits_in_force, with_static_limits
from connectors.api.schemas import (
    LIMIT_SERIES_EXAMPLE,
    LIMIT_STEPS_EXAMPLE,
    LimitSeriesInput,
    LimitsInForce,
    Moment,
    NodeLimit,
    StaticLimit,
    StaticLimits,
)
from models import LimitSeries, Site

router = APIRouter(prefix="/sites/{site_id}/limits", tags=["limits"], dependencies=[READ])

NodeId = Annotated[str, Path(description="A node of the site's tree (a gun too, for series).", examples=["grid"])]
DEFAULT_AHEAD = timedelta(hours=24)


@router.get("", responses={404: {"description": "No such site."}})
async def get_limits(
    site: ExistingSite,
    state: StateDep,
    start: Annotated[Moment | None, Query(description="Window start; default now.")] = None,
    end: Annotated[Moment | None, Query(description="Window end; default start + 24 h.")] = None,
) -> LimitsInForce:
    """Per node, its static limits and the limits in force over [start, end): a series where it runs
    (its kW value overriding the static kW limit, its A value the static A limit), else the static one."""
    begin = start or datetime.now(UTC)
    window = ordered_window(begin, end or begin + DEFAULT_AHEAD)
    series = await state.runtime.store.get_limit_series(site.id)
    return limits_in_force(site, series, *window)


@router.patch(
    "",
    dependencies=[WRITE],
    responses={404: {"description": "No such site."}, 422: {"description": "A node not in the tree, a bad value."}},
)
async def patch_static_limits(
    site_id: SiteId,
    limits: Annotated[
        StaticLimits,
        Body(
            openapi_examples={
                "two_nodes": {
                    "summary": "the grid connection in kW, a feeder in A per phase",
                    "value": {"nodes": {"grid": {"limit_kw": 120}, "feeder-ac": {"limit_a": 125}}},
                }
            }
        ),
    ],
    state: StateDep,
) -> list[NodeLimit]:
    """Set the static limits of several nodes at once (others keep theirs); a node not in the
    site's tree is a 422 naming it."""
    async with state.site_locks[site_id]:
        site = await _site(state, site_id)
        nodes = site.nodes()
        for node_id in limits.nodes:
            if node_id not in nodes:
                raise unprocessable(("body", "nodes", node_id), _not_a_node(site, node_id))
        await state.runtime.store.put_site(with_static_limits(site, limits.nodes))
    await state.runtime.site_changed(site_id)
    return [_node_limit(site_id, node_id, limit) for node_id, limit in limits.nodes.items()]


@router.put(
    "/{node_id:path}/series",
    dependencies=[WRITE],
    responses={404: {"description": "No such site, or no such node or gun in it."}},
)
async def put_limit_series(
    site_id: SiteId,
    node_id: NodeId,
    series: Annotated[
        LimitSeriesInput,
        Body(
            openapi_examples={
                "regular": {"summary": "start, step and values (kW)", "value": LIMIT_SERIES_EXAMPLE},
                "steps": {"summary": "explicit steps, in order, no gaps", "value": LIMIT_STEPS_EXAMPLE},
            }
        ),
    ],
    state: StateDep,
) -> LimitSeries:
    """Replace the limit series of a node (or gun): from a DSO or an energy manager.

    Either `start`, `step` and values (`limit_kw` and/or `limit_a`, per phase), or explicit `steps`
    in order without gaps. Values are non-negative. Outside the series the static limit holds.
    """
    stored = series.to_domain()
    async with state.site_locks[site_id]:
        site = await _site(state, site_id)
        if node_id not in site.nodes() and node_id not in site.guns():
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"site {site_id!r} has no node or gun {node_id!r}")
        await state.runtime.store.put_limit_series(site_id, node_id, stored)
    await state.runtime.site_changed(site_id)
    return stored


@router.get("/{node_id:path}/series", responses={404: {"description": "No such site, node, or no series for it."}})
async def get_limit_series(site: ExistingSite, node_id: NodeId, state: StateDep) -> LimitSeries:
    """The limit series last given for a node (or gun)."""
    series = (await state.runtime.store.get_limit_series(site.id)).get(node_id)
    if series is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no limit series for {node_id!r} of site {site.id!r}")
    return series


@router.put(
    "/{node_id:path}",
    dependencies=[WRITE],
    responses={404: {"description": "No such site, or no such node in its tree."}},
)
async def put_static_limit(
    site_id: SiteId,
    node_id: NodeId,
    limit: Annotated[
        StaticLimit,
        Body(
            openapi_examples={
                "kW": {"summary": "120 kW", "value": {"limit_kw": 120}},
                "both": {"summary": "100 kW and 160 A per phase", "value": {"limit_kw": 100, "limit_a": 160}},
            }
        ),
    ],
    state: StateDep,
) -> NodeLimit:
    """Replace a node's static limits (kW and/or A per phase; null removes that kind of limit)."""
    async with state.site_locks[site_id]:
        site = await _site(state, site_id)
        if node_id not in site.nodes():
            raise HTTPException(status.HTTP_404_NOT_FOUND, _not_a_node(site, node_id))
        await state.runtime.store.put_site(with_static_limits(site, {node_id: limit}))
    await state.runtime.site_changed(site_id)
    return _node_limit(site_id, node_id, limit)


async def _site(state: ApiState, site_id: str) -> Site:
    site = await state.runtime.store.get_site(site_id)
    if site is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    return site


def _not_a_node(site: Site, node_id: str) -> str:
    if node_id in site.guns():
        return f"{node_id!r} is a gun of site {site.id!r}: guns have no static limit (give it a limit series)"
    return f"site {site.id!r} has no node {node_id!r}"


def _node_limit(site_id: str, node_id: str, limit: StaticLimit) -> NodeLimit:
    return NodeLimit(site_id=site_id, node_id=node_id, limit_kw=limit.limit_kw, limit_a=limit.limit_a)

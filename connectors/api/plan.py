"""Plan: the allocation last pushed for a site, per gun per step, as JSON and as CSV."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response, status

from connectors.api.deps import READ, ExistingSite, StateDep
from connectors.api.schemas import GunLimitNow, Plan
from connectors.api.tables import CSV_MEDIA_TYPE, csv_response
from models import Allocation, Site

router = APIRouter(
    prefix="/sites/{site_id}",
    tags=["plan"],
    dependencies=[READ],
    responses={404: {"description": "No such site, or no plan yet (the scheduler has not run for it)."}},
)


@router.get("/plan")
async def get_plan(site: ExistingSite, state: StateDep) -> Plan:
    """Power (kW) per gun per step of the allocation last pushed, the limits pushed now, and why."""
    allocation = _allocation(site, state.runtime.allocation(site.id))
    power = allocation.power_kw
    return Plan(
        site_id=site.id,
        status=allocation.status,
        step_starts=[stamp.to_pydatetime() for stamp in power.index],
        power_kw={str(gun): [float(value) for value in power[gun]] for gun in power.columns},
        limits_now={
            gun: GunLimitNow(limit_kw=limit.limit_kw, limit_a=limit.limit_a, phases=limit.phases)
            for gun, limit in allocation.limits_now.items()
        },
        explanations=dict(allocation.explanations),
        warnings=allocation.warnings,
    )


@router.get("/plan.csv", response_class=Response, responses={200: {"content": {CSV_MEDIA_TYPE: {}}}})
async def get_plan_csv(site: ExistingSite, state: StateDep) -> Response:
    """The plan as CSV: one row per step (`step`, its start), one column of kW per gun."""
    allocation = _allocation(site, state.runtime.allocation(site.id))
    return csv_response(allocation.power_kw.rename_axis("step"), f"{site.id}-plan.csv")


def _allocation(site: Site, allocation: Allocation | None) -> Allocation:
    if allocation is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, f"no plan yet for site {site.id!r}: the scheduler has not run for it"
        )
    return allocation

"""Tariffs: a price series (currency per kWh, any step) or a time-of-use definition, one per site."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from connectors.api.deps import READ, WRITE, ExistingSite, StateDep
from connectors.api.schemas import (
    PRICE_SERIES_EXAMPLE,
    PRICE_STEPS_EXAMPLE,
    TIME_OF_USE_EXAMPLE,
    TariffInput,
    TariffOut,
)
from connectors.store.protocol import Tariff
from models import PriceSeries, TimeOfUseTariff

router = APIRouter(
    prefix="/sites/{site_id}/tariff",
    tags=["tariffs"],
    dependencies=[READ],
    responses={404: {"description": "No such site."}},
)


@router.put("", dependencies=[WRITE])
async def put_tariff(
    site: ExistingSite,
    tariff: Annotated[
        TariffInput,
        Body(
            openapi_examples={
                "series": {"summary": "hourly prices from a start", "value": PRICE_SERIES_EXAMPLE},
                "steps": {"summary": "explicit steps, in order, no gaps", "value": PRICE_STEPS_EXAMPLE},
                "time_of_use": {"summary": "cheap nights, dearer weekends", "value": TIME_OF_USE_EXAMPLE},
            }
        ),
    ],
    state: StateDep,
) -> TariffOut:
    """Replace the site's tariff, then re-solve.

    A price series is `start`, `step` and `price_per_kwh` values, or explicit `steps` (each with
    `start`, `end`, `price_per_kwh`, in order without gaps); a time-of-use tariff is `default_price_per_kwh` and `bands`
    (weekdays, 0 = Monday, and hours in the site's time zone). Prices are in the site's currency.
    """
    stored = tariff if isinstance(tariff, TimeOfUseTariff) else tariff.to_domain()
    await state.runtime.store.put_tariff(site.id, stored)
    state.runtime.request_solve(site.id, "tariff")
    return _tariff_out(site.id, stored)


@router.get("", responses={404: {"description": "No such site, or no tariff set."}})
async def get_tariff(site: ExistingSite, state: StateDep) -> TariffOut:
    """The site's tariff as given (a time-of-use tariff is not expanded)."""
    tariff = await state.runtime.store.get_tariff(site.id)
    if tariff is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no tariff set for site {site.id!r}")
    return _tariff_out(site.id, tariff)


def _tariff_out(site_id: str, tariff: Tariff) -> TariffOut:
    if isinstance(tariff, PriceSeries):
        return TariffOut(site_id=site_id, kind="price_series", price_series=tariff)
    return TariffOut(site_id=site_id, kind="time_of_use", time_of_use=tariff)

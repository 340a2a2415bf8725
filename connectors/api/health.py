"""Liveness, readiness and Prometheus metrics, outside /api/v1 where probes and scrapers look."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST

from connectors.api.deps import READ, StateDep
from connectors.api.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Health:
    """200 while the process serves requests; no key needed."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, responses={503: {"model": Health, "description": "Not ready yet."}})
async def readyz(state: StateDep) -> JSONResponse:
    """200 once the store is open, the OCPP endpoint listens and the scheduler runs; 503 before. No key needed."""
    if state.runtime.ready():
        return JSONResponse(Health(status="ready").model_dump())
    return JSONResponse(Health(status="not ready").model_dump(), status_code=status.HTTP_503_SERVICE_UNAVAILABLE)


@router.get(
    "/metrics",
    dependencies=[READ],
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}},
)
async def metrics(state: StateDep) -> Response:
    """Prometheus text exposition: connected stations, site load vs limit, solve time, profile pushes."""
    return Response(state.runtime.metrics(), media_type=CONTENT_TYPE_LATEST)

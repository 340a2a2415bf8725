"""Error answers: 422 naming the field for bad input, 500 (logged) only for true bugs.

Every error body has FastAPI's shape, `{"detail": [{"loc": [...], "msg": ..., "type": ...}]}`
for 422 and `{"detail": "..."}` otherwise. The offending input is not echoed back (it may be a
password).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from models import SiteDefinitionError

logger = logging.getLogger(__name__)

Location = tuple[str | int, ...]


def unprocessable(loc: Location, msg: str, kind: str = "value_error") -> RequestValidationError:
    """A 422 for a fact that only the route can check (an id that does not match, an unknown node)."""
    return RequestValidationError([{"loc": loc, "msg": msg, "type": kind}])


def _details(errors: Sequence[Any]) -> list[dict[str, Any]]:
    return [{"loc": list(error["loc"]), "msg": error["msg"], "type": error["type"]} for error in errors]


async def _invalid_request(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    return JSONResponse({"detail": _details(error.errors())}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _inconsistent_site(request: Request, error: Exception) -> JSONResponse:
    """A site body whose tree breaks a rule spanning several nodes (an id twice): `Site` raises
    `SiteDefinitionError` from its validator, which pydantic passes through as it is."""
    detail = [{"loc": ["body", "root"], "msg": str(error), "type": "site_definition"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _bug(request: Request, error: Exception) -> JSONResponse:
    logger.error("unhandled error answering %s %s", request.method, request.url.path, exc_info=error)
    return JSONResponse({"detail": "internal error (logged)"}, status_code=status.HTTP_500_INTERNAL_SERVER_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(SiteDefinitionError, _inconsistent_site)
    app.add_exception_handler(Exception, _bug)

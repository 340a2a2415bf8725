"""Dependencies of the routes: the runtime and its store, the caller's API key, the site asked for.

`create_app` puts one `ApiState` on `app.state.api`; routes reach it only through these.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any, cast

from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from connectors.api.errors import unprocessable
from connectors.api.keys import hash_api_key
from connectors.runtime import Runtime
from connectors.store.protocol import ApiKeyRecord, Store
from models import Site


@dataclass
class ApiState:
    """What the API holds: the runtime, the keys from the settings, and a lock per site.

    The lock serialises read-modify-write of a site's tree (a static limit rewrites the tree), so
    two limits acknowledged at once are both kept.
    """

    runtime: Runtime
    api_keys: Mapping[str, ApiKeyRecord]
    site_locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))


def get_state(request: Request) -> ApiState:
    return cast(ApiState, request.app.state.api)


StateDep = Annotated[ApiState, Depends(get_state)]


def get_runtime(state: StateDep) -> Runtime:
    return state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_store(runtime: RuntimeDep) -> Store:
    return runtime.store


StoreDep = Annotated[Store, Depends(get_store)]

# --- authentication -------------------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key with read or write scope: `Authorization: Bearer <key>`.",
)


async def authenticated_key(
    state: StateDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ApiKeyRecord:
    """The caller's key, from the settings or the store; 401 when missing or unknown."""
    if credentials is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing API key: send `Authorization: Bearer <key>`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    key_hash = hash_api_key(credentials.credentials)
    record = state.api_keys.get(key_hash) or await state.runtime.store.get_api_key(key_hash)
    if record is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "unknown API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return record


async def _read_scope(key: Annotated[ApiKeyRecord, Depends(authenticated_key)]) -> ApiKeyRecord:
    """Every valid key may read."""
    return key


async def _write_scope(key: Annotated[ApiKeyRecord, Depends(authenticated_key)]) -> ApiKeyRecord:
    if key.scope != "write":
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this API key has read scope only; writing needs a write key")
    return key


AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "Missing or unknown API key."},
    403: {"description": "A read key on a route that writes."},
}
READ = Depends(_read_scope)
"""Put in a route's or router's `dependencies` to require a key with read (or write) scope."""
WRITE = Depends(_write_scope)
"""Put in a route's `dependencies` to require a key with write scope."""

# --- the resources asked for ----------------------------------------------------------------------

SiteId = Annotated[str, Path(min_length=1, description="The site's id.", examples=["depot"])]


async def existing_site(site_id: SiteId, store: StoreDep) -> Site:
    """The site named in the path; 404 when there is none."""
    site = await store.get_site(site_id)
    if site is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no site {site_id!r}")
    return site


ExistingSite = Annotated[Site, Depends(existing_site)]


def ordered_window(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """[start, end) in UTC; 422 naming `end` unless it is after `start`."""
    if end <= start:
        raise unprocessable(("query", "end"), f"end {end.isoformat()} must be after start {start.isoformat()}")
    return start.astimezone(UTC), end.astimezone(UTC)

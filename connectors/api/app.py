"""The REST API application: routes under /api/v1, plus /healthz, /readyz and /metrics.

The service builds it once with its runtime and the API keys of its settings and serves it with
uvicorn on its own event loop; the app starts and stops nothing itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import version

from fastapi import FastAPI

from connectors.api import health, history, limits, plan, sessions, sites, stations, tariffs
from connectors.api.deps import AUTH_RESPONSES, ApiState
from connectors.api.errors import install_error_handlers
from connectors.runtime import Runtime
from connectors.store.protocol import ApiKeyRecord

API_PREFIX = "/api/v1"
DOCS_PATH = f"{API_PREFIX}/docs"

DESCRIPTION = """
Smart charging of EV sites: give sites, grid limits and tariffs; read the plan and the history.

Every route but `/healthz` and `/readyz` needs an API key (`Authorization: Bearer <key>`): a read
key for GET, a write key for the rest. A missing or unknown key is a 401, a read key on a write
route a 403. Unknown ids in the path are a 404; a bad body or query a 422 naming the field (a node
unknown in the path is a 404, one named in a body a 422). Timestamps carry a time zone.
"""


def create_app(runtime: Runtime, settings_api_keys: Sequence[ApiKeyRecord] = ()) -> FastAPI:
    """The API over `runtime`; a key is valid if its hash is in `settings_api_keys` or in the store."""
    app = FastAPI(
        title="gridcharge",
        version=version("gridcharge"),
        description=DESCRIPTION,
        docs_url=DOCS_PATH,
        redoc_url=f"{API_PREFIX}/redoc",
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.api = ApiState(runtime=runtime, api_keys={key.key_hash: key for key in settings_api_keys})
    install_error_handlers(app)
    for module in (sites, limits, tariffs, stations, sessions, plan, history):
        app.include_router(module.router, prefix=API_PREFIX, responses=AUTH_RESPONSES)
    app.include_router(health.router)
    return app

"""The `store` fixture, parametrized over every kind of store; each kind must pass the contract suite.

`open_store` opens a store of that kind on fresh backing data private to the test; every call opens
the same data again, which is how the durability tests reopen a store after closing it. To add a
kind (Redis), add its name to `STORE_KINDS` and a branch to `open_store`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from connectors.store import SqliteStore, Store

STORE_KINDS = ["sqlite"]

StoreOpener = Callable[[], AbstractAsyncContextManager[Store]]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=STORE_KINDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreOpener:
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite"
        return lambda: SqliteStore(path)
    raise ValueError(f"no store of kind {request.param!r}")


@pytest.fixture
async def store(open_store: StoreOpener) -> AsyncIterator[Store]:
    async with open_store() as opened:
        yield opened

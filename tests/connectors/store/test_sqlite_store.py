"""What only the SQLite store promises: WAL, a versioned schema, compact JSON columns, opening rules."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from connectors.store import RunRecord, SqliteStore, StationRecord, StoreSchemaError
from connectors.store.memory import SCHEMA_VERSION

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
ROOT = Path(__file__).resolve().parents[3]


def read(path: Path, query: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query).fetchall()
    finally:
        connection.close()


async def test_a_new_file_is_in_wal_mode_with_the_current_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    async with SqliteStore(path):
        pass
    assert read(path, "PRAGMA journal_mode") == [("wal",)]
    assert read(path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_reopening_keeps_one_schema_version_row(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    for _ in range(2):
        async with SqliteStore(path):
            pass
    assert read(path, "SELECT version FROM schema_version") == [(SCHEMA_VERSION,)]


async def test_a_file_from_a_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    async with SqliteStore(path):
        pass
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))
    connection.close()
    with pytest.raises(StoreSchemaError, match="newer"):
        await SqliteStore(path).open()


async def test_run_dicts_are_kept_as_compact_json(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    async with SqliteStore(path) as store:
        await store.add_run(RunRecord("depot", T0, "fallback", 3.5, 40.0, {"CP1/1": 3.5}, {"CP1/1": 4.14}))
    assert read(path, "SELECT gun_power_kw_json, gun_limit_kw_json FROM runs") == [('{"CP1/1":3.5}', '{"CP1/1":4.14}')]


async def test_a_store_in_memory_works_until_closed() -> None:
    store = SqliteStore(":memory:")
    with pytest.raises(RuntimeError, match="not open"):
        await store.get_station("CP1")
    await store.open()
    await store.put_station(StationRecord("CP1", "depot"))
    assert await store.get_station("CP1") == StationRecord("CP1", "depot")
    await store.close()
    await store.close()
    with pytest.raises(RuntimeError, match="not open"):
        await store.get_station("CP1")


async def test_a_write_survives_a_process_that_dies_without_closing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite"
    writer = textwrap.dedent(
        f"""
        import asyncio, os
        from connectors.store import SqliteStore, StationRecord

        async def main() -> None:
            store = SqliteStore({str(path)!r})
            await store.open()
            await store.put_station(StationRecord("CP1", "depot", "hash-1"))
            os._exit(0)  # no close, no checkpoint: only what was committed remains

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", writer], cwd=ROOT, check=True, timeout=60)
    async with SqliteStore(path) as store:
        assert await store.get_station("CP1") == StationRecord("CP1", "depot", "hash-1")

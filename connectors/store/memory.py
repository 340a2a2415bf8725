"""The embedded store: everything the service must not forget, in one SQLite file.

Use it as

    store = SqliteStore(path)      # a file path, or ":memory:" for tests of pure logic
    await store.open()             # connects, turns on WAL, creates or migrates the schema
    ...
    await store.close()

or as `async with SqliteStore(path) as store: ...`, which does both.

One connection, in autocommit mode with `synchronous=FULL`: every write method commits (and the
WAL is synced) before it returns, so a 2xx from the REST API means what it wrote survives a crash.
The SQLite calls are local and short, so they run directly on the event loop; no method awaits
between its statements, which keeps each method atomic without a lock.

Domain models are kept as their pydantic JSON; every instant the store is queried by is kept
beside it as UTC epoch microseconds (exact for `datetime`), and every datetime comes back aware,
in UTC. A meter sample is identified by its gun and instant, a run by its site and instant: writing
the same one again replaces it, so a replayed message is not counted twice. Meter samples and
runs stay until `prune` drops them; the service calls it with `now - retention`.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from connectors.store.protocol import (
    AcknowledgedProfile,
    ApiKeyRecord,
    RunRecord,
    SessionOverride,
    StationRecord,
    Tariff,
)
from models import ChargingLimitSchedule, LimitSeries, MeterSample, PriceSeries, Site, TimeOfUseTariff

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_GUN_ID = re.compile(r"^([^/\s]+)/(\d+)$")

_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # version 1: the first schema
    (
        "CREATE TABLE sites (site_id TEXT PRIMARY KEY, site_json TEXT NOT NULL)",
        """CREATE TABLE limit_series (
            site_id TEXT NOT NULL, node_id TEXT NOT NULL, series_json TEXT NOT NULL,
            PRIMARY KEY (site_id, node_id))""",
        """CREATE TABLE tariffs (
            site_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('price_series', 'time_of_use')),
            tariff_json TEXT NOT NULL)""",
        """CREATE TABLE stations (
            station_id TEXT PRIMARY KEY, site_id TEXT NOT NULL, password_hash TEXT)""",
        "CREATE INDEX stations_by_site ON stations (site_id, station_id)",
        """CREATE TABLE session_overrides (
            session_id TEXT PRIMARY KEY, departure_us INTEGER, energy_requested_kwh REAL, priority REAL)""",
        """CREATE TABLE acknowledged_profiles (
            gun_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, evse_id INTEGER NOT NULL,
            schedule_json TEXT NOT NULL, at_us INTEGER NOT NULL)""",
        "CREATE INDEX acknowledged_profiles_by_station ON acknowledged_profiles (station_id, evse_id)",
        """CREATE TABLE api_keys (
            key_hash TEXT PRIMARY KEY, scope TEXT NOT NULL CHECK (scope IN ('read', 'write')), label TEXT NOT NULL)""",
        """CREATE TABLE meter_samples (
            gun_id TEXT NOT NULL, timestamp_us INTEGER NOT NULL, sample_json TEXT NOT NULL,
            PRIMARY KEY (gun_id, timestamp_us)) WITHOUT ROWID""",
        "CREATE INDEX meter_samples_by_time ON meter_samples (timestamp_us)",
        """CREATE TABLE runs (
            site_id TEXT NOT NULL, at_us INTEGER NOT NULL, status TEXT NOT NULL,
            site_load_kw REAL NOT NULL, site_limit_kw REAL,
            gun_power_kw_json TEXT NOT NULL, gun_limit_kw_json TEXT NOT NULL,
            snapshot_s REAL NOT NULL, solve_s REAL NOT NULL, push_s REAL NOT NULL,
            PRIMARY KEY (site_id, at_us)) WITHOUT ROWID""",
        "CREATE INDEX runs_by_time ON runs (at_us)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)
"""The schema this code writes; `_MIGRATIONS[n]` takes a file from version n to n + 1."""


class StoreSchemaError(RuntimeError):
    """The file was written by a newer gridcharge (its schema version is above ours)."""


def _to_us(instant: datetime) -> int:
    """UTC epoch microseconds of an aware datetime; a naive one is refused (its zone is a guess)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant!r}: the store takes time-zone aware datetimes only")
    return (instant - _EPOCH) // _MICROSECOND


def _from_us(epoch_us: int) -> datetime:
    return _EPOCH + epoch_us * _MICROSECOND


def _compact_json(values: dict[str, float]) -> str:
    return json.dumps(values, separators=(",", ":"), sort_keys=True)


def _station_and_evse(gun_id: str) -> tuple[str, int]:
    match = _GUN_ID.match(gun_id)
    if match is None:
        raise ValueError(f"gun id {gun_id!r} is not of the form 'station/evse'")
    return match.group(1), int(match.group(2))


def _session_override(
    session_id: str, departure_us: int | None, energy_requested_kwh: float | None, priority: float | None
) -> SessionOverride:
    departure = None if departure_us is None else _from_us(departure_us)
    return SessionOverride(session_id, departure, energy_requested_kwh, priority)


def _profile_row(profile: AcknowledgedProfile) -> tuple[str, str, int, str, int]:
    """An acknowledged profile as a row of `acknowledged_profiles`."""
    station_id, evse_id = _station_and_evse(profile.gun_id)
    return profile.gun_id, station_id, evse_id, profile.schedule.model_dump_json(), _to_us(profile.at)


def _in_utc(sample: MeterSample) -> MeterSample:
    return sample.model_copy(update={"timestamp": sample.timestamp.astimezone(UTC)})


@contextmanager
def _transaction(connection: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One write transaction, committed on leaving (rolled back on an error)."""
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")


def _migrate(connection: sqlite3.Connection) -> None:
    """Bring the file's schema to `SCHEMA_VERSION`, in one transaction; refuse a newer file."""
    with _transaction(connection):
        connection.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        rows = connection.execute("SELECT version FROM schema_version").fetchall()
        current = rows[0][0] if rows else 0
        if current > SCHEMA_VERSION:
            raise StoreSchemaError(f"schema version {current} is newer than this gridcharge's ({SCHEMA_VERSION})")
        for statements in _MIGRATIONS[current:]:
            for statement in statements:
                connection.execute(statement)
        if rows:
            connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
        else:
            connection.execute("INSERT INTO schema_version VALUES (?)", (SCHEMA_VERSION,))


class SqliteStore:
    """The `Store` on one SQLite file (see the module docstring for how to open and close it)."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._connection: sqlite3.Connection | None = None

    async def open(self) -> None:
        """Connect, turn on WAL and full sync, and bring the schema to `SCHEMA_VERSION`."""
        if self._connection is not None:
            return
        connection = sqlite3.connect(self.path, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")
            _migrate(connection)
        except BaseException:
            connection.close()
            raise
        self._connection = connection

    async def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError(f"the store at {self.path} is not open: await open() first")
        return self._connection

    def _write(self, statement: str, parameters: Sequence[Any] = ()) -> None:
        """Run one statement, autocommitted: durable when this returns."""
        self._db.execute(statement, parameters)

    def _read(self, query: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._db.execute(query, parameters).fetchall()

    # --- sites and their signals -------------------------------------------------------------
    async def put_site(self, site: Site) -> None:
        self._write("INSERT OR REPLACE INTO sites VALUES (?, ?)", (site.id, site.model_dump_json()))

    async def get_site(self, site_id: str) -> Site | None:
        rows = self._read("SELECT site_json FROM sites WHERE site_id = ?", (site_id,))
        return Site.model_validate_json(rows[0][0]) if rows else None

    async def list_sites(self) -> list[Site]:
        return [
            Site.model_validate_json(text) for (text,) in self._read("SELECT site_json FROM sites ORDER BY site_id")
        ]

    async def put_limit_series(self, site_id: str, node_id: str, series: LimitSeries) -> None:
        self._write(
            "INSERT OR REPLACE INTO limit_series VALUES (?, ?, ?)", (site_id, node_id, series.model_dump_json())
        )

    async def get_limit_series(self, site_id: str) -> dict[str, LimitSeries]:
        rows = self._read(
            "SELECT node_id, series_json FROM limit_series WHERE site_id = ? ORDER BY node_id", (site_id,)
        )
        return {node_id: LimitSeries.model_validate_json(text) for node_id, text in rows}

    async def put_tariff(self, site_id: str, tariff: Tariff) -> None:
        kind = "price_series" if isinstance(tariff, PriceSeries) else "time_of_use"
        self._write("INSERT OR REPLACE INTO tariffs VALUES (?, ?, ?)", (site_id, kind, tariff.model_dump_json()))

    async def get_tariff(self, site_id: str) -> Tariff | None:
        rows = self._read("SELECT kind, tariff_json FROM tariffs WHERE site_id = ?", (site_id,))
        if not rows:
            return None
        kind, text = rows[0]
        model: type[PriceSeries] | type[TimeOfUseTariff] = PriceSeries if kind == "price_series" else TimeOfUseTariff
        return model.model_validate_json(text)

    # --- stations, sessions, profiles ----------------------------------------------------------
    async def put_station(self, station: StationRecord) -> None:
        self._write(
            "INSERT OR REPLACE INTO stations VALUES (?, ?, ?)",
            (station.station_id, station.site_id, station.password_hash),
        )

    async def get_station(self, station_id: str) -> StationRecord | None:
        rows = self._read("SELECT station_id, site_id, password_hash FROM stations WHERE station_id = ?", (station_id,))
        return StationRecord(*rows[0]) if rows else None

    async def list_stations(self, site_id: str | None = None) -> list[StationRecord]:
        rows = self._read(
            "SELECT station_id, site_id, password_hash FROM stations"
            " WHERE ?1 IS NULL OR site_id = ?1 ORDER BY station_id",
            (site_id,),
        )
        return [StationRecord(*row) for row in rows]

    async def delete_station(self, station_id: str) -> bool:
        """Forget a station and the profiles it acknowledged (registered again, it starts afresh)."""
        with _transaction(self._db) as db:
            db.execute("DELETE FROM acknowledged_profiles WHERE station_id = ?", (station_id,))
            return db.execute("DELETE FROM stations WHERE station_id = ?", (station_id,)).rowcount > 0

    async def put_session_override(self, override: SessionOverride) -> None:
        departure_us = None if override.departure is None else _to_us(override.departure)
        self._write(
            """INSERT INTO session_overrides VALUES (?, ?, ?, ?)
            ON CONFLICT (session_id) DO UPDATE SET
                departure_us = coalesce(excluded.departure_us, departure_us),
                energy_requested_kwh = coalesce(excluded.energy_requested_kwh, energy_requested_kwh),
                priority = coalesce(excluded.priority, priority)""",
            (override.session_id, departure_us, override.energy_requested_kwh, override.priority),
        )

    async def get_session_override(self, session_id: str) -> SessionOverride | None:
        rows = self._read(
            "SELECT departure_us, energy_requested_kwh, priority FROM session_overrides WHERE session_id = ?",
            (session_id,),
        )
        if not rows:
            return None
        return _session_override(session_id, *rows[0])

    async def get_session_overrides(self, session_ids: Sequence[str]) -> dict[str, SessionOverride]:
        """One query for any number of ids: they go in as one JSON array (`json_each`), not one
        variable each, so SQLite's limit on variables does not apply."""
        if not session_ids:
            return {}
        rows = self._read(
            """SELECT session_id, departure_us, energy_requested_kwh, priority FROM session_overrides
            WHERE session_id IN (SELECT value FROM json_each(?))""",
            (json.dumps(list(session_ids)),),
        )
        return {row[0]: _session_override(*row) for row in rows}

    async def put_acknowledged_profile(self, profile: AcknowledgedProfile) -> None:
        """Keep `profile` as the last one its gun accepted (replacing the one before)."""
        self._write("INSERT OR REPLACE INTO acknowledged_profiles VALUES (?, ?, ?, ?, ?)", _profile_row(profile))

    async def put_acknowledged_profiles(self, profiles: Sequence[AcknowledgedProfile]) -> None:
        """Keep each as `put_acknowledged_profile` does, in one transaction: one commit (one sync) for all."""
        rows = [_profile_row(profile) for profile in profiles]  # a bad gun id or instant fails before writing
        if not rows:
            return
        with _transaction(self._db) as db:
            db.executemany("INSERT OR REPLACE INTO acknowledged_profiles VALUES (?, ?, ?, ?, ?)", rows)

    async def get_acknowledged_profiles(self, station_id: str) -> list[AcknowledgedProfile]:
        """The last acknowledged profile of each gun of the station, by EVSE number (0 first)."""
        rows = self._read(
            "SELECT gun_id, schedule_json, at_us FROM acknowledged_profiles WHERE station_id = ? ORDER BY evse_id",
            (station_id,),
        )
        return [
            AcknowledgedProfile(gun_id, ChargingLimitSchedule.model_validate_json(text), _from_us(at_us))
            for gun_id, text, at_us in rows
        ]

    # --- API keys ----------------------------------------------------------------------------
    async def put_api_key(self, key: ApiKeyRecord) -> None:
        self._write("INSERT OR REPLACE INTO api_keys VALUES (?, ?, ?)", (key.key_hash, key.scope, key.label))

    async def get_api_key(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self._read("SELECT key_hash, scope, label FROM api_keys WHERE key_hash = ?", (key_hash,))
        return ApiKeyRecord(*rows[0]) if rows else None

    # --- the recent past, kept for the retention window -------------------------------------
    async def add_meter_samples(self, samples: Sequence[MeterSample]) -> None:
        """Keep the samples; one of the same gun and instant as a kept one replaces it."""
        rows = [(sample.gun_id, _to_us(sample.timestamp), _in_utc(sample).model_dump_json()) for sample in samples]
        with _transaction(self._db) as db:
            db.executemany("INSERT OR REPLACE INTO meter_samples VALUES (?, ?, ?)", rows)

    async def get_meter_samples(self, gun_ids: Sequence[str], start: datetime, end: datetime) -> list[MeterSample]:
        """Samples of those guns with start <= timestamp < end, in time order (then by gun id)."""
        rows = self._read(
            """SELECT sample_json FROM meter_samples
            WHERE gun_id IN (SELECT value FROM json_each(?)) AND timestamp_us >= ? AND timestamp_us < ?
            ORDER BY timestamp_us, gun_id""",
            (json.dumps(list(gun_ids)), _to_us(start), _to_us(end)),
        )
        return [MeterSample.model_validate_json(text) for (text,) in rows]

    async def add_run(self, run: RunRecord) -> None:
        """Keep a run; one of the same site and instant as a kept one replaces it."""
        self._write(
            "INSERT OR REPLACE INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.site_id,
                _to_us(run.at),
                run.status,
                run.site_load_kw,
                run.site_limit_kw,
                _compact_json(run.gun_power_kw),
                _compact_json(run.gun_limit_kw),
                run.snapshot_s,
                run.solve_s,
                run.push_s,
            ),
        )

    async def get_runs(self, site_id: str, start: datetime, end: datetime) -> list[RunRecord]:
        rows = self._read(
            """SELECT site_id, at_us, status, site_load_kw, site_limit_kw, gun_power_kw_json, gun_limit_kw_json,
                snapshot_s, solve_s, push_s
            FROM runs WHERE site_id = ? AND at_us >= ? AND at_us < ? ORDER BY at_us""",
            (site_id, _to_us(start), _to_us(end)),
        )
        return [
            RunRecord(
                site_id=site,
                at=_from_us(at_us),
                status=status,
                site_load_kw=site_load_kw,
                site_limit_kw=site_limit_kw,
                gun_power_kw=json.loads(gun_power),
                gun_limit_kw=json.loads(gun_limit),
                snapshot_s=snapshot_s,
                solve_s=solve_s,
                push_s=push_s,
            )
            for (
                site,
                at_us,
                status,
                site_load_kw,
                site_limit_kw,
                gun_power,
                gun_limit,
                snapshot_s,
                solve_s,
                push_s,
            ) in rows
        ]

    async def prune(self, before: datetime) -> int:
        before_us = _to_us(before)
        with _transaction(self._db) as db:
            samples = db.execute("DELETE FROM meter_samples WHERE timestamp_us < ?", (before_us,)).rowcount
            runs = db.execute("DELETE FROM runs WHERE at_us < ?", (before_us,)).rowcount
        return samples + runs

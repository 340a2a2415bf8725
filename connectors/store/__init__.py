"""State stores behind one interface (`protocol.Store`): embedded SQLite (`memory`), Redis later."""

from connectors.store.memory import SqliteStore, StoreSchemaError
from connectors.store.protocol import (
    AcknowledgedProfile,
    ApiKeyRecord,
    RunRecord,
    Scope,
    SessionOverride,
    StationRecord,
    Store,
    Tariff,
)

__all__ = [
    "AcknowledgedProfile",
    "ApiKeyRecord",
    "RunRecord",
    "Scope",
    "SessionOverride",
    "SqliteStore",
    "StationRecord",
    "Store",
    "StoreSchemaError",
    "Tariff",
]

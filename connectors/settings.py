"""The service's settings: built once (from `GRIDCHARGE_*` environment variables) and injected.

Nested sections take a double underscore: `GRIDCHARGE_OCPP__PORT=9000`,
`GRIDCHARGE_SCHEDULER__INTERVAL_S=30`. Lists are JSON: `GRIDCHARGE_API_KEYS='["write:<sha256>"]'`.
The site tree itself lives in the YAML site file (`site_file`) and then in the store.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.api.keys import hash_api_key
from connectors.store.protocol import ApiKeyRecord, Scope
from models.station import OfflineFallbackSetting

_SCOPES: tuple[Scope, ...] = ("read", "write")


class OcppSection(BaseModel):
    """The OCPP-J endpoint stations connect to."""

    host: str = Field(default="0.0.0.0", description="Interface the OCPP endpoint listens on.")
    port: int = Field(default=9000, ge=0, le=65535, description="OCPP port; 0 picks a free one.")
    path_prefix: str = Field(
        default="/ocpp/", description="Stations connect to ws://host:port{path_prefix}{station_id}."
    )
    command_timeout_s: float = Field(default=10.0, gt=0, description="How long a station has to answer a call.")
    heartbeat_interval_s: int = Field(default=300, gt=0, description="Heartbeat interval told to stations at boot.")
    auto_register: bool = Field(
        default=False,
        description="Admit stations not registered (not in a site file or the REST API) on first connection.",
    )
    require_password: bool = Field(
        default=False, description="Refuse stations that have no basic-auth password (security profile 1)."
    )
    tls_certificate: Path | None = Field(
        default=None, description="PEM certificate chain; with `tls_key` the endpoint speaks wss:// only (profile 2)."
    )
    tls_key: Path | None = Field(default=None, description="PEM private key of `tls_certificate`.")
    offline_fallback_settings: list[OfflineFallbackSetting] = Field(
        default_factory=list,
        description="A station's own settings of what it draws once it lost the service (vendor-specific; OCPP has "
        'none), as a JSON list of {"name": a 1.6 key or a 2.0.1 "Component.Variable", "unit": "A" (per phase) or '
        '"W"}. The first one a station reports at boot gets its fallback, again whenever that moves.',
    )


class ApiSection(BaseModel):
    """The REST API (FastAPI on uvicorn)."""

    host: str = Field(default="127.0.0.1", description="Interface the REST API listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="REST API port; 0 picks a free one.")


class SchedulerSection(BaseModel):
    """When the optimizer runs and what it pushes."""

    interval_s: float = Field(default=60.0, gt=0, description="Real seconds between the scheduled runs of each site.")
    debounce_s: float = Field(
        default=2.0,
        ge=0,
        description="A plug-in, unplug or tariff change re-solves this many real seconds later, once "
        "(a new limit re-solves at once).",
    )
    deadband_a: float = Field(
        default=1.0, ge=0, description="Ampere-steered guns get a new profile only when it differs by this much."
    )
    deadband_kw: float = Field(
        default=0.5, ge=0, description="Watt-steered guns get a new profile only when it differs by this much."
    )
    ack_timeout_s: float = Field(
        default=15.0, gt=0, description="Real seconds a run waits for stations to acknowledge their profiles."
    )
    follow_s: float = Field(
        default=5.0,
        ge=0,
        description="Real seconds a car is given to follow a new limit before its meter may say it draws less.",
    )
    profile_hold_s: float = Field(
        default=900.0,
        gt=0,
        description="Seconds (of the service's clock) a pushed plan stays in force on a station; after it, the "
        "station falls back to its fallback limit, so a dead service leaves the site within its limits. Renewed "
        "every run.",
    )


class OptimizerSection(BaseModel):
    """The optimizer's horizon and solver."""

    horizon_s: float = Field(default=86_400.0, gt=0, description="How far ahead each run plans, in seconds.")
    step_s: float = Field(default=900.0, gt=0, description="Length of a plan step, in seconds.")
    solver_time_limit_s: float = Field(
        default=5.0, gt=0, description="Solver time limit; past it (or on a failure) the fallback rule decides."
    )

    @property
    def horizon(self) -> timedelta:
        return timedelta(seconds=self.horizon_s)

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=self.step_s)


class SessionDefaults(BaseModel):
    """What is assumed of a session its station does not describe (OCPP 1.6, mostly)."""

    energy_kwh: float = Field(default=20.0, ge=0, description="Energy a car is assumed to want, in kWh.")
    stay_s: float = Field(default=8 * 3600.0, gt=0, description="How long a car is assumed to stay, in seconds.")
    priority: float = Field(default=1.0, ge=0.01, le=100, description="Priority of a session nobody set.")


class Settings(BaseSettings):
    """Everything `gridcharge serve` reads; see the README's settings table."""

    model_config = SettingsConfigDict(env_prefix="GRIDCHARGE_", env_nested_delimiter="__", extra="ignore")

    site_file: Path | None = Field(
        default=None,
        description="YAML site file loaded at start; a site already in the store (changed over the REST API) is kept.",
    )
    store_path: Path = Field(default=Path("gridcharge.db"), description="SQLite file of the embedded store.")
    ocpp: OcppSection = Field(default_factory=OcppSection, description="The OCPP endpoint.")
    api: ApiSection = Field(default_factory=ApiSection, description="The REST API.")
    scheduler: SchedulerSection = Field(default_factory=SchedulerSection, description="Runs and pushes.")
    optimizer: OptimizerSection = Field(default_factory=OptimizerSection, description="Horizon and solver.")
    sessions: SessionDefaults = Field(default_factory=SessionDefaults, description="Session defaults.")
    site_sessions: dict[str, SessionDefaults] = Field(
        default_factory=dict,
        description="Session defaults of particular sites, by site id (JSON); other sites use `sessions`.",
    )
    meter_retention_s: float = Field(
        default=7 * 86_400.0, gt=0, description="How long meter samples and run records are kept, in seconds."
    )
    api_keys: list[str] = Field(
        default_factory=list, description='API keys as "read:<sha256 hex>" or "write:<sha256 hex>" (JSON list).'
    )
    api_key: SecretStr | None = Field(
        default=None, description="One plain API key accepted with write scope (for the demo and scripts)."
    )
    authorization_allowlist: list[str] | None = Field(
        default=None, description="Id tokens allowed to charge (JSON list); unset: every token is accepted."
    )

    @field_validator("api_keys")
    @classmethod
    def _scoped_hashes(cls, keys: list[str]) -> list[str]:
        for key in keys:
            scope, _, digest = key.partition(":")
            if scope not in _SCOPES or len(digest) != 64 or any(char not in "0123456789abcdef" for char in digest):
                raise ValueError(f'an API key is "read:<sha256 hex>" or "write:<sha256 hex>", not {key[:12]!r}...')
        return keys

    def session_defaults(self, site_id: str) -> SessionDefaults:
        """What is assumed of the sessions of `site_id` that their stations do not describe."""
        return self.site_sessions.get(site_id, self.sessions)

    def api_key_records(self) -> list[ApiKeyRecord]:
        """`api_keys` and `api_key` as the records the REST API checks bearer tokens against."""
        records = []
        for key in self.api_keys:
            scope, _, digest = key.partition(":")
            scoped: Scope = "read" if scope == "read" else "write"
            records.append(ApiKeyRecord(key_hash=digest, scope=scoped, label="settings"))
        if self.api_key is not None:
            digest = hash_api_key(self.api_key.get_secret_value())
            records.append(ApiKeyRecord(key_hash=digest, scope="write", label="GRIDCHARGE_API_KEY"))
        return records

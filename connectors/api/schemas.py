"""The REST API's request and response shapes (API shapes, not domain types).

Where the API's shape is the domain's, the route uses the domain model itself (a site is `Site`,
a time-of-use tariff `TimeOfUseTariff`, a stored series `LimitSeries`). The models here are the
shapes the domain does not have: series given as start + step + values, partial updates, and views
of the live service. Every datetime in or out is time-zone aware (naive ones are refused).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, Protocol, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    SecretStr,
    Tag,
    field_validator,
    model_validator,
)

from models import GunStatus, LimitSeries, LimitStep, PriceSeries, PriceStep, RateUnit, SolveStatus, TimeOfUseTariff
from models.station import SettingStatus

MAX_SERIES_STEPS = 10_000
"""More steps than a year of 1-hour values: a bound on what one request may ask the store to keep."""

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
"""Timestamps given to the API lie in [EARLIEST, LATEST): far from the calendar's ends, so that no
conversion to UTC and no window or series built from them can fall off it."""


def _in_range(moment: datetime) -> datetime:
    if not EARLIEST <= moment < LATEST:
        raise ValueError(f"timestamp {moment.isoformat()} is not between 1970 and 2999")
    return moment


Moment = Annotated[AwareDatetime, AfterValidator(_in_range)]
"""A time-zone aware timestamp (naive ones are refused) between 1970 and 2999."""
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Step = Annotated[
    timedelta,
    Field(
        gt=timedelta(0),
        le=timedelta(days=31),
        description="Step length, up to 31 days: ISO 8601 duration (`PT15M`) or seconds.",
        examples=["PT15M"],
    ),
]


class _Input(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _Output(BaseModel):
    model_config = ConfigDict(frozen=True, from_attributes=True)


def _regular_steps(start: datetime, step: timedelta, count: int) -> list[tuple[datetime, datetime]]:
    return [(start + index * step, start + (index + 1) * step) for index in range(count)]


class _Span(Protocol):
    """What a step of a series has (the domain's `LimitStep` and `PriceStep` do)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


def _check_explicit_steps(steps: Sequence[_Span]) -> None:
    """Explicit steps given to the API: within the timestamp range, in order and without gaps."""
    for index, step in enumerate(steps):
        for moment in (step.start, step.end):
            if not EARLIEST <= moment < LATEST:
                raise ValueError(f"steps[{index}]: timestamp {moment.isoformat()} is not between 1970 and 2999")
    for index, (before, after) in enumerate(itertools.pairwise(steps), start=1):
        if after.start < before.end:
            raise ValueError(f"steps[{index}].start {after.start} is before steps[{index - 1}].end: out of order")
        if after.start > before.end:
            raise ValueError(f"steps[{index}].start {after.start} leaves a gap after steps[{index - 1}].end")


# --- sites ----------------------------------------------------------------------------------------

SITE_EXAMPLE: dict[str, Any] = {
    "id": "depot",
    "timezone": "Europe/Amsterdam",
    "root": {
        "id": "grid",
        "limit_kw": 150,
        "children": [
            {
                "id": "feeder-ac",
                "limit_kw": 100,
                "guns": [
                    {"station_id": "AC01", "max_power_kw": 22, "phases": 3, "phase": "L1"},
                    {"station_id": "AC02", "max_power_kw": 22, "phases": 3, "phase": "L2"},
                ],
            }
        ],
        "guns": [{"station_id": "DC01", "kind": "DC", "max_power_kw": 50}],
    },
}

# --- grid limits ----------------------------------------------------------------------------------


class StaticLimit(_Input):
    """A node's static limits; each replaces the node's, and null (or absent) removes that kind."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"limit_kw": 120}, {"limit_kw": 100, "limit_a": 160}]})

    limit_kw: NonNegative | None = Field(default=None, description="Limit in kW.")
    limit_a: NonNegative | None = Field(default=None, description="Limit in A on each phase.")


class StaticLimits(_Input):
    """Static limits of several nodes at once, by node id; nodes not named keep theirs."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"nodes": {"grid": {"limit_kw": 120}, "feeder-ac": {"limit_a": 125}}}]}
    )

    nodes: dict[str, StaticLimit] = Field(min_length=1)


class NodeLimit(_Output):
    """A node's static limits after a change."""

    site_id: str
    node_id: str
    limit_kw: float | None
    limit_a: float | None


LIMIT_SERIES_EXAMPLE: dict[str, Any] = {
    "start": "2026-12-02T16:00:00Z",
    "step": "PT15M",
    "limit_kw": [120, 80, 80, 100],
}
LIMIT_STEPS_EXAMPLE: dict[str, Any] = {
    "steps": [
        {"start": "2026-12-02T16:00:00Z", "end": "2026-12-02T17:00:00Z", "limit_kw": 80},
        {"start": "2026-12-02T17:00:00Z", "end": "2026-12-02T20:00:00Z", "limit_a": 100},
    ]
}


class RegularLimitSeries(_Input):
    """Limits from `start`, one value per `step`, in kW and/or in A per phase (then both as long)."""

    model_config = ConfigDict(json_schema_extra={"examples": [LIMIT_SERIES_EXAMPLE]})

    start: Moment
    step: Step
    limit_kw: list[NonNegative] | None = Field(default=None, min_length=1, max_length=MAX_SERIES_STEPS)
    limit_a: list[NonNegative] | None = Field(default=None, min_length=1, max_length=MAX_SERIES_STEPS)

    @model_validator(mode="after")
    def _values_given(self) -> Self:
        if self.limit_kw is None and self.limit_a is None:
            raise ValueError("give limit_kw or limit_a (or both)")
        if self.limit_kw is not None and self.limit_a is not None and len(self.limit_kw) != len(self.limit_a):
            raise ValueError(f"limit_kw has {len(self.limit_kw)} values but limit_a {len(self.limit_a)}")
        return self

    def to_domain(self) -> LimitSeries:
        count = len(self.limit_kw if self.limit_kw is not None else self.limit_a or [])
        return LimitSeries(
            steps=[
                LimitStep(
                    start=start,
                    end=end,
                    limit_kw=None if self.limit_kw is None else self.limit_kw[index],
                    limit_a=None if self.limit_a is None else self.limit_a[index],
                )
                for index, (start, end) in enumerate(_regular_steps(self.start, self.step, count))
            ]
        )


class ExplicitLimitSeries(_Input):
    """Limits as explicit steps, in time order and without gaps (each starts where the one before ends)."""

    model_config = ConfigDict(json_schema_extra={"examples": [LIMIT_STEPS_EXAMPLE]})

    steps: list[LimitStep] = Field(min_length=1, max_length=MAX_SERIES_STEPS)

    @field_validator("steps")
    @classmethod
    def _contiguous(cls, steps: list[LimitStep]) -> list[LimitStep]:
        _check_explicit_steps(steps)
        return steps

    def to_domain(self) -> LimitSeries:
        return LimitSeries(steps=self.steps)


def _series_form(value: Any) -> str:
    if isinstance(value, dict):
        return "steps" if "steps" in value else "regular"
    return "steps" if isinstance(value, ExplicitLimitSeries) else "regular"


LimitSeriesInput = Annotated[
    Annotated[RegularLimitSeries, Tag("regular")] | Annotated[ExplicitLimitSeries, Tag("steps")],
    Discriminator(_series_form),
]


class LimitSegment(_Output):
    """Limits in force over [start, end): the series where it runs, the static limit elsewhere."""

    start: AwareDatetime
    end: AwareDatetime
    limit_kw: float | None
    limit_a: float | None


class NodeLimitsInForce(_Output):
    node_id: str
    static_limit_kw: float | None
    static_limit_a: float | None
    in_force: list[LimitSegment]


class LimitsInForce(_Output):
    site_id: str
    start: AwareDatetime
    end: AwareDatetime
    nodes: list[NodeLimitsInForce]


# --- tariffs --------------------------------------------------------------------------------------


PRICE_SERIES_EXAMPLE: dict[str, Any] = {
    "start": "2026-12-02T00:00:00Z",
    "step": "PT1H",
    "price_per_kwh": [0.21, 0.18, 0.12, 0.11],
}
PRICE_STEPS_EXAMPLE: dict[str, Any] = {
    "steps": [
        {"start": "2026-12-02T00:00:00Z", "end": "2026-12-02T06:00:00Z", "price_per_kwh": 0.11},
        {"start": "2026-12-02T06:00:00Z", "end": "2026-12-02T09:00:00Z", "price_per_kwh": 0.27},
    ]
}
TIME_OF_USE_EXAMPLE: dict[str, Any] = {
    "default_price_per_kwh": 0.30,
    "bands": [
        {"start_hour": 0, "end_hour": 7, "price_per_kwh": 0.12},
        {"weekdays": [5, 6], "start_hour": 7, "end_hour": 24, "price_per_kwh": 0.22},
    ],
}


class RegularPriceSeries(_Input):
    """Prices (currency per kWh) from `start`, one per `step`."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRICE_SERIES_EXAMPLE]})

    start: Moment
    step: Step
    price_per_kwh: list[Finite] = Field(min_length=1, max_length=MAX_SERIES_STEPS)

    def to_domain(self) -> PriceSeries:
        return PriceSeries(
            steps=[
                PriceStep(start=start, end=end, price_per_kwh=price)
                for (start, end), price in zip(
                    _regular_steps(self.start, self.step, len(self.price_per_kwh)), self.price_per_kwh, strict=True
                )
            ]
        )


class ExplicitPriceSeries(_Input):
    """Prices as explicit steps, in time order and without gaps."""

    model_config = ConfigDict(json_schema_extra={"examples": [PRICE_STEPS_EXAMPLE]})

    steps: list[PriceStep] = Field(min_length=1, max_length=MAX_SERIES_STEPS)

    @field_validator("steps")
    @classmethod
    def _contiguous(cls, steps: list[PriceStep]) -> list[PriceStep]:
        _check_explicit_steps(steps)
        return steps

    def to_domain(self) -> PriceSeries:
        return PriceSeries(steps=self.steps)


def _tariff_form(value: Any) -> str:
    if isinstance(value, dict):
        if "bands" in value or "default_price_per_kwh" in value:
            return "time_of_use"
        return "steps" if "steps" in value else "regular"
    if isinstance(value, TimeOfUseTariff):
        return "time_of_use"
    return "steps" if isinstance(value, ExplicitPriceSeries) else "regular"


TariffInput = Annotated[
    Annotated[RegularPriceSeries, Tag("regular")]
    | Annotated[ExplicitPriceSeries, Tag("steps")]
    | Annotated[TimeOfUseTariff, Tag("time_of_use")],
    Discriminator(_tariff_form),
]


class TariffOut(_Output):
    """The site's tariff: a price series or a time-of-use definition (the other is null)."""

    site_id: str
    kind: Literal["price_series", "time_of_use"]
    price_series: PriceSeries | None = None
    time_of_use: TimeOfUseTariff | None = None


# --- stations -------------------------------------------------------------------------------------


class StationRegistration(_Input):
    """A station's site and, for OCPP security profiles 1 and 2, its basic-auth password.

    `password` absent keeps the stored one (none for a new station); null removes it.
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"site_id": "depot", "password": "correct-horse-battery"}]}
    )

    site_id: str = Field(min_length=1)
    password: SecretStr | None = Field(default=None, min_length=8, max_length=64)


class StationOut(_Output):
    station_id: str
    site_id: str
    has_password: bool


class GunState(_Output):
    gun_id: str
    status: GunStatus | None
    session_id: str | None
    power_kw: float | None
    limit_kw: float | None
    fallback_limit_kw: float | None
    last_profile_id: int | None
    last_profile_accepted: bool | None
    controllable: bool
    uncontrolled_reason: str | None


class OfflineFallbackState(_Output):
    """The last write of a station's own offline-fallback setting (vendor-specific)."""

    setting: str = Field(description="1.6 configuration key or 2.0.1 Component.Variable.")
    value: str = Field(description="The value written: whole A per phase, or W.")
    unit: RateUnit
    status: SettingStatus = Field(description="The station's answer, or timeout / failed.")
    at: datetime
    reason: str


class StationState(_Output):
    """A station as the service sees it now: connection, protocol version and each gun."""

    station_id: str
    site_id: str
    connected: bool
    ocpp_version: str | None
    guns: list[GunState]
    offline_fallback: OfflineFallbackState | None = None


# --- sessions -------------------------------------------------------------------------------------


class SessionOut(_Output):
    """A session in progress with the facts the optimizer uses (overrides applied)."""

    session_id: str
    gun_id: str
    arrival: AwareDatetime
    departure: AwareDatetime
    energy_requested_kwh: float
    energy_delivered_kwh: float
    power_kw: float | None
    priority: float
    controllable: bool


class SessionPatch(_Input):
    """Facts the station does not know; fields absent (or null) keep their value."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"departure": "2026-12-02T17:30:00+01:00", "energy_requested_kwh": 30, "priority": 2}]
        }
    )

    departure: Moment | None = None
    energy_requested_kwh: NonNegative | None = None
    priority: float | None = Field(default=None, ge=0.01, le=100, description="Weight of a kWh short; 1 is normal.")

    @model_validator(mode="after")
    def _something_given(self) -> Self:
        if self.departure is None and self.energy_requested_kwh is None and self.priority is None:
            raise ValueError("give departure, energy_requested_kwh or priority")
        return self


class SessionOverrideOut(_Output):
    """What the API has overridden for a session (null: the station's or the default value holds)."""

    session_id: str
    departure: AwareDatetime | None
    energy_requested_kwh: float | None
    priority: float | None


# --- plan and history -----------------------------------------------------------------------------


class GunLimitNow(_Output):
    limit_kw: float
    limit_a: float | None
    phases: int


class Plan(_Output):
    """The allocation last pushed: kW per gun per step (index-aligned with `step_starts`)."""

    site_id: str
    status: SolveStatus
    step_starts: list[AwareDatetime]
    power_kw: dict[str, list[float]]
    limits_now: dict[str, GunLimitNow]
    explanations: dict[str, str]
    warnings: list[str]


class Run(_Output):
    """One scheduler run: site load and the limit then, per gun the power measured and the limit pushed."""

    at: AwareDatetime
    status: str
    site_load_kw: float
    site_limit_kw: float | None
    gun_power_kw: dict[str, float]
    gun_limit_kw: dict[str, float]


class History(_Output):
    site_id: str
    start: AwareDatetime
    end: AwareDatetime
    runs: list[Run]


# --- health ---------------------------------------------------------------------------------------


class Health(_Output):
    status: Literal["ok", "ready", "not ready"]

"""What stations tell and what they can do, in our own words (no OCPP field names here).

`MeterSample` is one reading of a gun's meter: the ground truth of what a car draws. `GunStatus`
is the state of a gun as the protocol adapters report it. `StationCapabilities` is what a station
said it can hold at boot (rate units, schedule periods, stack levels). `ChargingLimitSchedule` is a
version-neutral charging profile: the adapters compile it from an allocation for one station's
capabilities and write it as OCPP 1.6 or 2.0.1; the charge point simulator applies it.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from enum import StrEnum
from typing import Literal, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.site import Phase, RateUnit

GUN_ID_PATTERN = r"^[^/\s]+/\d+$"
"""`"{station_id}/{evse_id}"`; EVSE 0 is the station's own (main) meter."""


class GunStatus(StrEnum):
    """The state of a gun: OCPP 1.6 connector states plus 2.0.1's coarser `occupied`."""

    AVAILABLE = "available"
    PREPARING = "preparing"
    CHARGING = "charging"
    SUSPENDED_EV = "suspended_ev"
    SUSPENDED_EVSE = "suspended_evse"
    FINISHING = "finishing"
    RESERVED = "reserved"
    UNAVAILABLE = "unavailable"
    FAULTED = "faulted"
    OCCUPIED = "occupied"


class MeterSample(BaseModel):
    """One reading of a gun's meter at one instant; every measurement may be missing.

    Power and current are drawn from the grid (import), so never negative. Currents are RMS per
    phase of the gun (its own L1/L2/L3). `energy_kwh` is the meter's register, not the energy of a
    session. `power_inferred` says that `power_kw` was not measured but computed from the phase
    currents and voltages (power factor 1).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gun_id: str = Field(pattern=GUN_ID_PATTERN)
    timestamp: AwareDatetime
    power_kw: float | None = Field(default=None, ge=0)
    current_l1_a: float | None = Field(default=None, ge=0)
    current_l2_a: float | None = Field(default=None, ge=0)
    current_l3_a: float | None = Field(default=None, ge=0)
    offered_current_a: float | None = Field(default=None, ge=0)
    energy_kwh: float | None = Field(default=None, ge=0, description="Energy register (import).")
    soc_percent: float | None = Field(default=None, ge=0, le=100)
    transaction_id: str | None = None
    power_inferred: bool = False

    @property
    def current_a(self) -> dict[Phase, float]:
        """The phase currents that were measured, by phase."""
        measured: dict[Phase, float | None] = {
            "L1": self.current_l1_a,
            "L2": self.current_l2_a,
            "L3": self.current_l3_a,
        }
        return {phase: value for phase, value in measured.items() if value is not None}


class StationCapabilities(BaseModel):
    """What a station can hold, learned at boot; the defaults are the least any station offers.

    `max_periods_per_schedule` and `max_stack_level` bound every profile sent to the station;
    `rate_units` are the units its schedules accept (a watt-only station rejects ampere profiles).
    `smart_charging` is false for a station that takes no charging profiles at all: its guns are
    then reserved at what they may draw instead of steered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    ocpp_version: Literal["1.6", "2.0.1"]
    rate_units: frozenset[RateUnit] = Field(default=frozenset({RateUnit.A, RateUnit.W}), min_length=1)
    max_periods_per_schedule: int = Field(default=1, ge=1)
    max_stack_level: int = Field(default=0, ge=0)
    meter_sample_interval_s: int | None = Field(default=None, ge=0, description="0: the station sends none.")
    smart_charging: bool = True
    evse_count: int | None = Field(default=None, ge=1, description="Guns the station says it has (1.6 only).")

    def without_rate_unit(self, unit: RateUnit) -> StationCapabilities:
        """These capabilities once the station rejected a profile in `unit` (never empty)."""
        remaining = self.rate_units - {unit}
        return self if not remaining else self.model_copy(update={"rate_units": frozenset(remaining)})


class ProfilePurpose(StrEnum):
    """What a profile is for, in precedence order of the OCPP rules.

    station_max  caps the whole station (OCPP ChargePointMaxProfile / ChargingStationMaxProfile)
    tx_default   applies to every transaction that has no tx profile of its own
    tx           applies to one running transaction and overrides tx_default
    """

    TX = "tx"
    TX_DEFAULT = "tx_default"
    STATION_MAX = "station_max"


class ScheduleKind(StrEnum):
    """absolute: from `start`; relative: from the start of charging; recurring: daily or weekly from `start`."""

    ABSOLUTE = "absolute"
    RELATIVE = "relative"
    RECURRING = "recurring"


class Recurrency(StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"


class ChargingLimitPeriod(BaseModel):
    """A limit in force from `start_offset_s` after the schedule's start until the next period.

    `limit` is in the schedule's rate unit: W in total, or A on each phase used. `number_phases`
    is how many phases may be used (None: the station assumes 3).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_offset_s: int = Field(ge=0)
    limit: float = Field(ge=0)
    number_phases: Literal[1, 2, 3] | None = None


class ChargingLimitSchedule(BaseModel):
    """A charging profile, whatever the OCPP version: purpose, precedence, timing and periods.

    `start` anchors absolute and recurring schedules (a relative one starts when charging starts).
    A schedule without `duration_s` keeps its last period until it is replaced or, for a tx
    profile, until the transaction ends. `transaction_id` binds a tx profile to one transaction.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    profile_id: int = Field(ge=1)
    purpose: ProfilePurpose
    stack_level: int = Field(ge=0)
    kind: ScheduleKind = ScheduleKind.ABSOLUTE
    recurrency: Recurrency | None = None
    start: AwareDatetime | None = None
    duration_s: int | None = Field(default=None, gt=0)
    rate_unit: RateUnit
    periods: list[ChargingLimitPeriod] = Field(min_length=1)
    valid_from: AwareDatetime | None = None
    valid_to: AwareDatetime | None = None
    transaction_id: str | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        offsets = [period.start_offset_s for period in self.periods]
        if offsets[0] != 0:
            raise ValueError(f"profile {self.profile_id}: the first period must start at offset 0, not {offsets[0]}")
        if any(later <= earlier for earlier, later in itertools.pairwise(offsets)):
            raise ValueError(f"profile {self.profile_id}: period offsets must increase: {offsets}")
        if self.kind is ScheduleKind.RELATIVE and self.start is not None:
            raise ValueError(f"profile {self.profile_id}: a relative schedule has no start")
        if self.kind is not ScheduleKind.RELATIVE and self.start is None:
            raise ValueError(f"profile {self.profile_id}: an {self.kind} schedule needs a start")
        if (self.kind is ScheduleKind.RECURRING) != (self.recurrency is not None):
            raise ValueError(f"profile {self.profile_id}: recurrency goes with recurring schedules only")
        if self.transaction_id is not None and self.purpose is not ProfilePurpose.TX:
            raise ValueError(f"profile {self.profile_id}: only a tx profile is bound to a transaction")
        if self.valid_from is not None and self.valid_to is not None and self.valid_to <= self.valid_from:
            raise ValueError(f"profile {self.profile_id}: valid_to {self.valid_to} is not after {self.valid_from}")
        return self

    def valid_at(self, instant: datetime) -> bool:
        """Whether `instant` lies in [valid_from, valid_to)."""
        if self.valid_from is not None and instant < self.valid_from:
            return False
        return self.valid_to is None or instant < self.valid_to


class OfflineFallbackSetting(BaseModel):
    """A station's own setting of what it may draw once it has lost its backend, where it has one.

    OCPP names no such setting: it is vendor-specific. `name` is a 1.6 configuration key (no dot),
    or a 2.0.1 `Component.Variable` (split at the first dot); `unit` is what its value counts: A on
    each phase, or W in all.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, pattern=r"^\S+$")
    unit: RateUnit

    @model_validator(mode="after")
    def _fits_ocpp(self) -> Self:
        parts = self.component_variable or (self.name,)
        if any(len(part) > 50 for part in parts):  # CiString50 in both versions
            raise ValueError(f"{self.name!r}: a key, component or variable name has at most 50 characters")
        return self

    @property
    def component_variable(self) -> tuple[str, str] | None:
        """(component, variable) of a 2.0.1 name; None for a 1.6 key."""
        component, dot, variable = self.name.partition(".")
        return (component, variable) if dot and component and variable else None


class SettingStatus(StrEnum):
    """How a station took a change of one of its settings: its answer, or none."""

    ACCEPTED = "accepted"
    REBOOT_REQUIRED = "reboot_required"
    """Taken, in force after the station's next reboot (which we do not ask for)."""
    REJECTED = "rejected"
    NOT_SUPPORTED = "not_supported"
    TIMEOUT = "timeout"
    FAILED = "failed"
    """An error answer, or the connection closed first."""


class OfflineFallbackOutcome(BaseModel):
    """The last write of a station's offline-fallback setting: which, the value written, how it ended."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    setting: str
    value: str
    unit: RateUnit
    status: SettingStatus
    at: AwareDatetime
    reason: str = ""

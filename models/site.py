"""A site: one grid connection and its limit tree down to the guns.

The tree's root is the grid connection; inner nodes are feeders, transformers or stations; the
leaves are guns (one EVSE each). Every node may carry a static limit in kW and/or a per-phase
current limit in A; a time series of limits for any node (guns included) arrives separately in the
snapshot and overrides the static limit while it runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from models.errors import SiteDefinitionError
from models.units import WATTS_PER_KW, current_to_power_kw

Phase = Literal["L1", "L2", "L3"]
PHASES: tuple[Phase, ...] = ("L1", "L2", "L3")


class GunKind(StrEnum):
    AC = "AC"
    DC = "DC"


class RateUnit(StrEnum):
    """The unit a station accepts in charging schedules (OCPP `chargingRateUnit`)."""

    W = "W"
    A = "A"


class Gun(BaseModel):
    """One EVSE: the capability a session on it can use.

    `phase` is the grid phase the gun's own L1 is wired to (phase rotation). A single-phase gun
    loads only that phase; a single-phase car on a three-phase gun loads it too.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    station_id: str = Field(min_length=1, pattern=r"^[^/\s]+$")
    evse_id: int = Field(default=1, ge=1)
    kind: GunKind = GunKind.AC
    max_power_kw: float = Field(gt=0, description="Rated power of the gun in kW.")
    phases: Literal[1, 3] = 3
    phase: Phase = "L1"
    voltage_v: float = Field(default=230.0, gt=0, description="Phase-to-neutral voltage.")
    min_current_a: float = Field(default=6.0, ge=0, description="AC minimum (IEC 61851: 6 A).")
    min_power_kw: float = Field(default=0.0, ge=0, description="DC minimum power.")
    rate_unit: RateUnit | None = Field(
        default=None, description="W or A; default A for AC and W for DC until the station says."
    )

    @property
    def id(self) -> str:
        return gun_id(self.station_id, self.evse_id)

    @property
    def charging_rate_unit(self) -> RateUnit:
        if self.rate_unit is not None:
            return self.rate_unit
        return RateUnit.A if self.kind is GunKind.AC else RateUnit.W

    def phases_used(self, ev_phases: int | None) -> int:
        """How many phases a session draws from: the car's, where it is known and fewer."""
        if self.kind is GunKind.DC:
            return 3
        if ev_phases is None:
            return self.phases
        return min(self.phases, ev_phases)

    def max_current_a(self) -> float:
        """Per-phase current at rated power (AC); DC guns are limited in kW only."""
        return self.max_power_kw * WATTS_PER_KW / (self.voltage_v * self.phases)

    def min_kw(self, ev_phases: int | None) -> float:
        """The smallest non-zero limit the gun may be given, in kW."""
        if self.kind is GunKind.DC:
            return self.min_power_kw
        return current_to_power_kw(self.min_current_a, self.voltage_v, self.phases_used(ev_phases))

    def max_kw(self, ev_phases: int | None) -> float:
        """Rated power, reduced when a car uses fewer phases than the gun has."""
        if self.kind is GunKind.DC:
            return self.max_power_kw
        phases = self.phases_used(ev_phases)
        return min(self.max_power_kw, current_to_power_kw(self.max_current_a(), self.voltage_v, phases))

    def phase_current_a_per_kw(self, ev_phases: int | None) -> dict[Phase, float]:
        """Upper bound of the current on each grid phase per kW drawn through this gun.

        A three-phase or DC load is balanced. A single-phase load sits on the phase the gun's L1
        is wired to. When the car's phases are unknown on a three-phase AC gun, an ampere-rate
        station caps each phase at the commanded current (balanced is the bound), but a watt-rate
        station lets a single-phase car put all of it on L1: we take the worst case per phase.
        """
        balanced = WATTS_PER_KW / (3 * self.voltage_v)
        single = WATTS_PER_KW / self.voltage_v
        if self.kind is GunKind.DC or (ev_phases is not None and self.phases_used(ev_phases) == 3):
            return dict.fromkeys(PHASES, balanced)
        if self.phases == 1 or ev_phases == 1:
            return {phase: (single if phase == self.phase else 0.0) for phase in PHASES}
        if self.charging_rate_unit is RateUnit.A:
            return dict.fromkeys(PHASES, balanced)
        return {phase: (single if phase == self.phase else balanced) for phase in PHASES}

    @model_validator(mode="after")
    def _minimum_below_maximum(self) -> Gun:
        if self.min_kw(None) > self.max_power_kw:
            raise ValueError(
                f"gun {self.id}: minimum {self.min_kw(None):.2f} kW exceeds max_power_kw {self.max_power_kw}"
            )
        return self


def gun_id(station_id: str, evse_id: int = 1) -> str:
    """The id of a gun: `"{station_id}/{evse_id}"`; a station known only by id is EVSE 1."""
    return f"{station_id}/{evse_id}"


class LimitNode(BaseModel):
    """A node of the limit tree: grid connection, feeder, transformer or station."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    limit_kw: float | None = Field(default=None, ge=0, description="Static limit in kW.")
    limit_a: float | None = Field(default=None, ge=0, description="Static limit in A on each phase.")
    voltage_v: float = Field(default=230.0, gt=0)
    children: list[LimitNode] = Field(default_factory=list)
    guns: list[Gun] = Field(default_factory=list)

    def walk(self) -> Iterator[LimitNode]:
        yield self
        for child in self.children:
            yield from child.walk()


class Site(BaseModel):
    """A grid connection, its limit tree and its time zone (tariff bands and reports use it)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1)
    timezone: str = "UTC"
    root: LimitNode

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown IANA time zone {value!r}") from error
        return value

    @model_validator(mode="after")
    def _unique_ids(self) -> Site:
        seen: set[str] = set()
        for node in self.root.walk():
            for item_id in [node.id, *(gun.id for gun in node.guns)]:
                if item_id in seen:
                    raise SiteDefinitionError(f"site {self.id}: id {item_id!r} appears twice in the limit tree")
                seen.add(item_id)
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def nodes(self) -> dict[str, LimitNode]:
        return {node.id: node for node in self.root.walk()}

    def guns(self) -> dict[str, Gun]:
        return {gun.id: gun for node in self.root.walk() for gun in node.guns}

    def ancestors(self) -> dict[str, list[str]]:
        """For every gun, the ids of the nodes above it, root first."""
        result: dict[str, list[str]] = {}

        def visit(node: LimitNode, path: list[str]) -> None:
            here = [*path, node.id]
            for gun in node.guns:
                result[gun.id] = here
            for child in node.children:
                visit(child, here)

        visit(self.root, [])
        return result

    @classmethod
    def from_yaml(cls, path: str | Path) -> Site:
        """Load a site from a YAML (or JSON, a subset of YAML) file."""
        text = Path(path).read_text(encoding="utf-8")
        data: Any = yaml.safe_load(text)
        if not isinstance(data, dict):
            raise SiteDefinitionError(f"{path}: expected a mapping at the top level")
        return cls.model_validate(data)

    def to_json(self) -> str:
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), indent=2)

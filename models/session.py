"""A session: one EV on one gun, with what we know and what we assume of it."""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator


class Session(BaseModel):
    """An EV plugged into (or expected at) a gun.

    `energy_requested_kwh` may be unknown (OCPP 1.6 rarely tells); the snapshot's default then
    applies. `offered_power_kw` is the limit the gun was last given: with `observed_power_kw` it
    tells whether the car leaves power unused. An uncontrollable gun (its station rejects or
    ignores profiles) is not steered; the optimizer reserves its draw as fixed load instead.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    gun_id: str = Field(min_length=3, pattern=r"^[^/\s]+/\d+$")
    arrival: AwareDatetime
    departure: AwareDatetime
    energy_requested_kwh: float | None = Field(default=None, ge=0)
    energy_delivered_kwh: float = Field(default=0.0, ge=0)
    observed_power_kw: float | None = Field(default=None, ge=0)
    offered_power_kw: float | None = Field(default=None, ge=0)
    held_limit_kw: float | None = Field(
        default=None,
        ge=0,
        description="The limit the gun holds now (its station accepted it); the optimizer keeps it among equal plans.",
    )
    ev_phases: Literal[1, 3] | None = None
    ev_max_power_kw: float | None = Field(default=None, gt=0)
    priority: float = Field(default=1.0, ge=0.01, le=100, description="Weight of a kWh short.")
    controllable: bool = True
    session_id: str | None = None

    @model_validator(mode="after")
    def _departure_after_arrival(self) -> Session:
        if self.departure.timestamp() <= self.arrival.timestamp():
            raise ValueError(
                f"session on {self.gun_id}: departure {self.departure} is not after arrival {self.arrival}"
            )
        return self

"""SiteSnapshot: everything the optimizer needs at `now`, frozen."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from models.errors import SnapshotError
from models.session import Session
from models.site import Site
from models.tariff import LimitSeries, PriceSeries


class SiteSnapshot(BaseModel):
    """The world as the optimizer may see it: no clock, store or socket behind it.

    Steps start at `now` and last `step` each; `horizon` is rounded up to whole steps.
    `limit_series` maps node ids (or gun ids) to series overriding their static limits.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    site: Site
    now: AwareDatetime
    sessions: list[Session] = Field(default_factory=list)
    limit_series: dict[str, LimitSeries] = Field(default_factory=dict)
    tariff: PriceSeries | None = None
    horizon: timedelta = timedelta(hours=24)
    step: timedelta = timedelta(minutes=15)
    default_energy_kwh: float = Field(
        default=20.0, ge=0, description="Energy assumed wanted when a session does not say."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.step <= timedelta(0):
            raise SnapshotError("step must be positive")
        if self.horizon < self.step:
            raise SnapshotError("horizon must be at least one step")
        guns = self.site.guns()
        nodes = self.site.nodes()
        busy: set[str] = set()
        for session in self.sessions:
            if session.gun_id not in guns:
                raise SnapshotError(f"session on unknown gun {session.gun_id!r}")
            if session.gun_id in busy:
                raise SnapshotError(f"two sessions on gun {session.gun_id!r} in one snapshot")
            busy.add(session.gun_id)
        for node_id in self.limit_series:
            if node_id not in nodes and node_id not in guns:
                raise SnapshotError(f"limit series for unknown node {node_id!r}")
        return self

    @property
    def step_count(self) -> int:
        return -(-self.horizon // self.step)

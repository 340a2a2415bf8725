"""The simulated station's own offline-fallback setting: what it draws at most once it lost its backend.

Real stations name such a setting as their vendor pleases (OCPP has none), so its name and unit are
given (`OfflineFallbackSetting`). The station reports it in GetConfiguration / GetVariables, takes
changes to it, and while disconnected scales its cars' draws down (after its profiles) so that the
current on each phase (unit A) or the power in all (unit W) stays within it. Every EVSE's L1 is
taken to be on the same grid phase, which is where single-phase cars add up: the bound is kept
there, so on every phase.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V
from models import RateUnit
from models.station import OfflineFallbackSetting
from models.units import WATTS_PER_KW


@dataclass
class OfflineFallback:
    """The setting and its value, in its unit (None: not set, no bound)."""

    setting: OfflineFallbackSetting
    limit: float | None = None

    def reported(self) -> str:
        """The value as the station reports it ('' while not set)."""
        return "" if self.limit is None else f"{self.limit:g}"

    def change(self, value: str) -> bool:
        """Take a new value; False (and unchanged) when it is not a number >= 0."""
        try:
            limit = float(value)
        except ValueError:
            return False
        if not math.isfinite(limit) or limit < 0:
            return False
        self.limit = limit
        return True

    def cap(self, draws_kw: Mapping[int, float], phases: Mapping[int, int]) -> dict[int, float]:
        """`draws_kw` (per EVSE) scaled down in proportion where they exceed the limit."""
        if self.limit is None:
            return dict(draws_kw)
        if self.setting.unit is RateUnit.W:
            used = sum(draws_kw.values()) * WATTS_PER_KW
        else:  # the current on L1, which every EVSE loads
            used = sum(
                power_kw * WATTS_PER_KW / (NOMINAL_VOLTAGE_V * phases[evse_id])
                for evse_id, power_kw in draws_kw.items()
            )
        if used <= self.limit:
            return dict(draws_kw)
        share = self.limit / used
        return {evse_id: power_kw * share for evse_id, power_kw in draws_kw.items()}

"""Simulated time for the fleet: a day compressed into minutes.

The simulated clock starts at a chosen instant and runs `speed` times faster than the real
(monotonic) clock, so a car that stays eight hours leaves after 8 h / speed of real time. Give the
same clock to the CSMS under test when its own timing (meter ages, plan steps) must agree.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta


class SimulatedClock:
    """`clock()` is the simulated now: `start` at creation, then `speed` simulated s per real s."""

    def __init__(self, start: datetime, speed: float = 1.0) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulated clock needs a timezone-aware start")
        if speed <= 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.start = start
        self.speed = speed
        self._origin_s = time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=(time.monotonic() - self._origin_s) * self.speed)

    def real_seconds_until(self, instant: datetime) -> float:
        """Real seconds from now until the simulated `instant` (0 when it has passed)."""
        return max(0.0, (instant - self()).total_seconds() / self.speed)

"""The service's clock and the settings given in real seconds.

Instants (profiles' ends, sample ages, run records) are on the service's clock, which the demo runs
faster than real time (`simulator.clock.SimulatedClock`). Intervals, timeouts and the cars' time to
follow are settings in real seconds, slept or waited; `clock_seconds` turns them into spans of the
clock where they are compared with its instants.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol, runtime_checkable


@runtime_checkable
class ScaledClock(Protocol):
    """A clock that runs `speed` times real time."""

    speed: float

    def __call__(self) -> datetime: ...


def clock_seconds(clock: Callable[[], datetime], real_s: float) -> timedelta:
    """`real_s` real seconds as a span of `clock`'s time: longer on a clock that runs faster."""
    speed = clock.speed if isinstance(clock, ScaledClock) else 1.0
    return timedelta(seconds=real_s * speed)

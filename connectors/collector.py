"""The service process's garbage collection: what a full collection found alive is frozen, so the
next full collection scans only what came since; an hourly sweep reclaims the cycles among it.

    async with Collector():   # running_service does this around the OCPP endpoint
        ...

Why: with 5,000 stations connected the endpoint holds some 450 MB of long-lived objects (the
connections), and CPython's full (generation 2) collection scans all of them every time it runs:
0.42-0.49 s on this machine, collecting nothing, every minute or two under 1,000 MeterValues/s, each
delaying some 400 messages (bench/ocpp_ingest.py: p99 265-325 ms in the 20 s windows that held one,
against a target of 50 ms). While the stations connect (a restart's reconnection storm) there were
ten or so more, growing to 0.38 s.

What: a `gc` callback freezes (`gc.freeze()`: moves to the permanent generation, which no collection
scans) everything alive at the end of each full collection. Those objects were just proven reachable,
so no garbage is frozen; the next full collection (CPython 3.11 starts one when the objects promoted
since the last exceed a quarter of what the last one kept) merges and scans generations 0-2 only,
which now hold what came since. In the same bench at 5,000 stations: full collections of 15-100 ms
while they connect, none over 5 ms in five 20 s windows and one of 127 ms in a 120 s window (p99 13-20
ms in the undisturbed runs; see README, "OCPP ingest"). Freezing is a list splice (4 us).

The price: objects still die by reference counting once frozen, but not in reference cycles, and a
closed connection's objects are cycles (websockets' connection, protocol and transport): up to 125 KiB
a closed connection (both ends measured in one process) stays until the sweep. Every `sweep_every_s`
the sweep unfreezes and collects everything, one pause as long as a full collection was (0.45 s at
5,000 stations: once an hour instead of every minute or two), and the callback freezes the survivors
again. Where stations come and go often, sweep more often. Counting the frozen objects to sweep on
growth instead would cost a pause itself (`gc.get_freeze_count()` walks them: 34 ms for 3 M).

Tried first, and dropped: `gc.freeze()` on a timer (every 60 s). It freezes whatever is alive at that
instant, young garbage included, and it has to guess when the heap has settled: in the bench the first
freeze came after the full collection it was meant to prevent (0.40 s, p99 234 ms).

Frozen objects are missing from `gc.get_objects()`; leaving the context unfreezes them.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from types import TracebackType
from typing import Any

LOGGER = logging.getLogger(__name__)
SWEEP_EVERY_S = 3600.0
"""How often cycles among frozen objects are reclaimed, at the cost of one full scan of the heap."""
OLDEST_GENERATION = 2


def freeze_survivors(phase: str, info: dict[str, Any]) -> None:
    """The `gc` callback: after a full collection, freeze every object it left alive."""
    if phase == "stop" and info["generation"] == OLDEST_GENERATION:
        gc.freeze()


def sweep() -> int:
    """Unfreeze, collect everything, freeze the survivors again (the callback, if installed, does);
    returns the number of objects collected."""
    gc.unfreeze()
    started_s = time.perf_counter()
    collected = gc.collect()
    LOGGER.info(
        "swept the frozen objects: %d collected in %.0f ms", collected, 1000 * (time.perf_counter() - started_s)
    )
    return collected


class Collector:
    """The policy while in the context: the callback installed, and a task sweeping every `sweep_every_s`;
    leaving removes both and unfreezes, so the process collects as before."""

    def __init__(self, sweep_every_s: float = SWEEP_EVERY_S) -> None:
        self.sweep_every_s = sweep_every_s
        self._sweeper: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Collector:
        gc.callbacks.append(freeze_survivors)
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep_forever(), name="collector")
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sweeper
            self._sweeper = None
        gc.callbacks.remove(freeze_survivors)
        gc.unfreeze()

    async def _sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(self.sweep_every_s)
            sweep()

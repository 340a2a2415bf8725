"""The optimizer off the event loop, with a wall-clock bound and the greedy rule behind it.

`allocate` already falls back to the greedy rule (`SolveStatus.FALLBACK`) when the LP fails or
finds nothing in time. Two failures remain for the service to catch: an exception outside the
solver (building the problem), and a solve that overruns the time limit by far (the thread is then
left to finish on its own, with its own `Allocator`). Both end in the same greedy rule, which
respects every limit of the snapshot.
"""

from __future__ import annotations

import asyncio
import logging

from models import Allocation, SiteSnapshot
from optimizer import Allocator, OptimizerOptions, fallback_allocation

LOGGER = logging.getLogger(__name__)


class SiteSolver:
    """One site's `Allocator` (it keeps its model between runs), called in a worker thread."""

    def __init__(self, options: OptimizerOptions, overrun_s: float) -> None:
        """`overrun_s`: how long past the solver's time limit a solve may run before it is given up."""
        self.options = options
        self.overrun_s = overrun_s
        self._allocator = Allocator(options)

    async def allocate(self, snapshot: SiteSnapshot) -> Allocation:
        try:
            async with asyncio.timeout(self.options.time_limit_s + self.overrun_s):
                return await asyncio.to_thread(self._allocator.allocate, snapshot)
        except TimeoutError:
            self._allocator = Allocator(self.options)  # the old one is still busy in its thread
            why = f"the solve overran {self.options.time_limit_s + self.overrun_s:g} s"
        except Exception as error:  # the limits must hold even when the optimizer breaks
            LOGGER.exception("optimizer failed")
            self._allocator = Allocator(self.options)
            why = f"the optimizer failed: {error!r}"
        return await asyncio.to_thread(fallback_allocation, snapshot, self.options, reason=why)

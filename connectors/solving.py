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
import time

import numpy as np

from models import Allocation, SiteSnapshot, SolveStatus
from models.allocation import SolverOutcome
from optimizer import Allocator, OptimizerOptions
from optimizer.fallback import greedy_allocation
from optimizer.lp import assemble, objective_of
from optimizer.problem import build_problem
from optimizer.result import build_allocation

LOGGER = logging.getLogger(__name__)


def greedy_fallback(snapshot: SiteSnapshot, options: OptimizerOptions, why: str) -> Allocation:
    """The greedy rule's allocation of `snapshot`, as `allocate` makes it when the LP gives none."""
    began = time.perf_counter()
    data = build_problem(snapshot, options)
    lp = assemble(data, options)
    built = time.perf_counter()
    power = greedy_allocation(data)
    data.warnings.append(f"{why}; greedy fallback used")
    return build_allocation(
        data,
        power,
        SolveStatus.FALLBACK,
        SolverOutcome.ERROR,
        objective_of(lp, data, power),
        float("nan"),
        objective_of(lp, data, np.zeros(lp.layout.power_count)),
        built - began,
        time.perf_counter() - built,
    )


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
        return await asyncio.to_thread(greedy_fallback, snapshot, self.options, why)

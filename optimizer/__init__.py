"""The optimizer: a pure function from a site snapshot to per-gun power limits.

`allocate` is the service's entry point (`fallback_allocation` its greedy rule alone, for when a
solve fails outside it); `plan` and `simulate` are the planners' (pandas) ones.
Nothing here reads a clock, a setting, a store or a socket.
"""

from optimizer.allocate import Allocator, allocate, fallback_allocation
from optimizer.fallback_limits import fallback_limits
from optimizer.options import OptimizerOptions, Weights
from optimizer.planner import plan
from optimizer.simulate import SimulationResult, simulate

__all__ = [
    "Allocator",
    "OptimizerOptions",
    "SimulationResult",
    "Weights",
    "allocate",
    "fallback_allocation",
    "fallback_limits",
    "plan",
    "simulate",
]

"""The optimizer: a pure function from a site snapshot to per-gun power limits.

`allocate` is the service's entry point; `plan` and `simulate` are the planners' (pandas) ones.
Nothing here reads a clock, a setting, a store or a socket.
"""

from optimizer.allocate import Allocator, allocate
from optimizer.options import OptimizerOptions, Weights
from optimizer.planner import plan

__all__ = ["Allocator", "OptimizerOptions", "Weights", "allocate", "plan"]

"""A kept HiGHS model gives every solve the whole time limit, however many it ran before.

HiGHS's own `time_limit` bounds the run time of the object since it was made, all runs together:
a live loop that keeps its model between runs (`Allocator`) would otherwise see its solves stop
at once, and fall back to the greedy rule, once the runs so far add up to the limit.
"""

from __future__ import annotations

from datetime import timedelta

from models import LimitNode, SolveStatus
from optimizer import Allocator, OptimizerOptions
from tests.optimizer.test_stability import twenty_guns


def test_each_solve_of_a_kept_model_gets_the_whole_time_limit() -> None:
    snapshot = twenty_guns()
    allocator = Allocator(OptimizerOptions(time_limit_s=0.25))
    statuses = []
    for run in range(150):  # a few ms each: together well past 0.25 s of HiGHS run time
        limit_kw = 80.0 if run % 2 else 100.0  # a new limit: the kept model re-solves in place
        root = LimitNode(id="grid", limit_kw=limit_kw, guns=snapshot.site.root.guns)
        changed = snapshot.model_copy(
            update={
                "site": snapshot.site.model_copy(update={"root": root}),
                "now": snapshot.now + timedelta(seconds=run),
            }
        )
        statuses.append(allocator.allocate(changed).status)
    assert set(statuses) == {SolveStatus.OPTIMAL}

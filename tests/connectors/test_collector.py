"""The collection policy: full collections freeze what they keep, the sweep reclaims frozen cycles,
and leaving the context puts the process back as it was."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import Iterator

import pytest

from connectors.collector import Collector, freeze_survivors, sweep


class Cycle:
    def __init__(self) -> None:
        self.me = self


def _tracked(thing: object) -> bool:
    """In one of the collected generations (a frozen object is in none)."""
    return any(each is thing for each in gc.get_objects())


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    """Every test starts and ends with the collector's usual state: nothing frozen, no callback of ours."""
    gc.unfreeze()
    yield
    while freeze_survivors in gc.callbacks:
        gc.callbacks.remove(freeze_survivors)
    gc.unfreeze()


def test_a_full_collection_freezes_what_it_kept_and_leaving_unfreezes_it() -> None:
    async def scenario() -> None:
        async with Collector():
            kept = Cycle()
            gc.collect()
            assert gc.get_freeze_count() > 0
            assert not _tracked(kept)  # frozen: no generation holds it
            young = Cycle()
            gc.collect(1)
            assert _tracked(young)  # a young collection freezes nothing
        assert gc.get_freeze_count() == 0
        assert _tracked(kept)
        assert freeze_survivors not in gc.callbacks

    asyncio.run(scenario())


def test_a_cycle_that_dies_after_the_freeze_lives_until_the_sweep() -> None:
    async def scenario() -> None:
        async with Collector():
            cycle = Cycle()
            gc.collect()  # alive: frozen with the rest
            died = weakref.ref(cycle)
            del cycle
            gc.collect()
            assert died() is not None  # a full collection does not scan the frozen objects
            assert sweep() >= 1
            assert died() is None
            assert gc.get_freeze_count() > 0  # the survivors frozen again

    asyncio.run(scenario())


def test_the_task_sweeps_every_interval_and_stops_with_the_context() -> None:
    async def scenario() -> None:
        async with Collector(sweep_every_s=0.01):
            gc.collect()
            cycle = Cycle()
            gc.collect()
            died = weakref.ref(cycle)
            del cycle
            await asyncio.sleep(0.05)
            assert died() is None
        assert [task for task in asyncio.all_tasks() if task.get_name() == "collector"] == []

    asyncio.run(scenario())

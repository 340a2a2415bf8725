"""The sample writer batches: what arrives within `batch_s` of a batch's first sample is one write."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from connectors.state import SampleWriter
from connectors.store.memory import SqliteStore
from models import MeterSample

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 12, 2, 12, tzinfo=UTC)


class CountingStore(SqliteStore):
    """The real SQLite store, counting its sample writes."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.writes: list[int] = []

    async def add_meter_samples(self, samples: Sequence[MeterSample]) -> None:
        self.writes.append(len(samples))
        await super().add_meter_samples(samples)


def sample(seconds: int) -> MeterSample:
    return MeterSample(gun_id="CP1/1", timestamp=T0 + timedelta(seconds=seconds), power_kw=7.0)


async def test_samples_within_a_batch_window_are_one_write_and_none_is_lost(tmp_path: Path) -> None:
    async with CountingStore(tmp_path / "store.db") as store:
        writer = SampleWriter(batch_s=0.2)
        task = asyncio.create_task(writer.run(store))
        for seconds in range(20):  # a burst, well within one window
            writer.put(sample(seconds))
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.4)
        assert store.writes == [20]
        writer.put(sample(20))  # a later one starts a window of its own ...
        writer.put(sample(21))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await writer.flush(store)  # ... and what is queued when the service closes is written then
        assert store.writes == [20, 2]
        kept = await store.get_meter_samples(["CP1/1"], T0, T0 + timedelta(minutes=1))
        assert [kept_sample.timestamp for kept_sample in kept] == [sample(second).timestamp for second in range(22)]

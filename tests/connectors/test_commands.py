"""The per-station command queue on a scripted transport: order, one CALL in flight, every failure said."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.ocpp.commands import StationCallError, StationCommander
from connectors.ocpp.events import CommandFailed, MemorySink, ProfileAccepted, ProfileRejected
from connectors.ocpp.parsing import OcppVersion
from connectors.ocpp.profiles import station_cap_profile
from models import Gun, ProfilePurpose, StationCapabilities

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)
GUN = Gun(station_id="CP1", evse_id=2, max_power_kw=22)
Answer = Callable[[str, dict[str, Any]], Any]


class ScriptedTransport:
    """Answers each CALL with `answer(action, payload)`: a payload, or an exception to raise; never: hang."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.in_flight = 0
        self.most_in_flight = 0

    async def request(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        self.sent.append((action, payload))
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            async with asyncio.timeout(timeout_s):
                await asyncio.sleep(0.01)
                result = self.answer(action, payload)
                if result == "hang":
                    await asyncio.Event().wait()
                if isinstance(result, Exception):
                    raise result
                return dict(result)
        finally:
            self.in_flight -= 1


def commander(answer: Answer, version: OcppVersion = "1.6") -> tuple[StationCommander, ScriptedTransport, MemorySink]:
    transport, sink = ScriptedTransport(answer), MemorySink()
    queue = StationCommander("CP1", version, transport, sink, timeout_s=0.1, clock=lambda: NOW)
    queue.start()
    return queue, transport, sink


def capabilities(version: OcppVersion = "1.6") -> StationCapabilities:
    return StationCapabilities(ocpp_version=version, max_periods_per_schedule=4, max_stack_level=2)


def test_commands_go_in_order_one_call_at_a_time() -> None:
    async def scenario() -> None:
        queue, transport, sink = commander(lambda action, payload: {"status": "Accepted"})
        outcomes = await asyncio.gather(
            queue.apply_limit(GUN, [(NOW, 11.0)], capabilities(), transaction_id="7"),
            queue.clear_profiles(purpose=ProfilePurpose.TX_DEFAULT),
            queue.set_profile(0, station_cap_profile(40, capabilities(), NOW)),
        )
        await queue.close()
        assert [outcome.ok for outcome in outcomes] == [True, True, True]
        assert [action for action, _ in transport.sent] == [
            "SetChargingProfile",
            "ClearChargingProfile",
            "SetChargingProfile",
        ]
        assert transport.most_in_flight == 1
        assert transport.sent[0][1]["connectorId"] == 2
        assert transport.sent[0][1]["csChargingProfiles"]["transactionId"] == 7
        assert [event.gun_id for event in sink.of_type(ProfileAccepted)] == ["CP1/2", "CP1/0"]

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        ({"status": "Rejected"}, "Rejected"),
        ({"status": "Rejected", "statusInfo": {"reasonCode": "TxNotFound"}}, "Rejected: TxNotFound"),
        (StationCallError("InternalError", "boom"), "CALLERROR InternalError: boom"),
        ("hang", "no answer in 0.1 s"),
        (RuntimeError("socket gone"), "failed: socket gone"),
    ],
)
def test_every_failure_of_a_profile_becomes_a_rejection_and_the_queue_goes_on(answer: Any, reason: str) -> None:
    async def scenario() -> None:
        replies = iter([answer, {"status": "Accepted"}])
        queue, _, sink = commander(lambda action, payload: next(replies), "2.0.1")
        failed = queue.apply_limit(GUN, [(NOW, 11.0)], capabilities("2.0.1"), transaction_id="tx-1")
        then = queue.apply_limit(GUN, [(NOW, 7.0)], capabilities("2.0.1"), transaction_id="tx-1")
        assert (await failed).reason == reason
        assert (await then).ok
        await queue.close()
        rejected = sink.of_type(ProfileRejected)
        assert [(event.gun_id, event.reason) for event in rejected] == [("CP1/2", reason)]
        assert len(sink.of_type(ProfileAccepted)) == 1

    asyncio.run(scenario())


def test_a_composite_schedule_is_read_as_kw_steps_and_a_failed_read_is_said() -> None:
    async def scenario() -> None:
        answers: list[Any] = [
            {
                "status": "Accepted",
                "connectorId": 2,
                "scheduleStart": "2024-01-15T12:00:00Z",
                "chargingSchedule": {
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7400}],
                },
            },
            StationCallError("NotSupported"),
        ]
        queue, transport, sink = commander(lambda action, payload: answers.pop(0))
        assert await queue.read_composite(2, 3600) == [(NOW, 7.4)]
        assert transport.sent[0] == ("GetCompositeSchedule", {"connectorId": 2, "duration": 3600})
        assert await queue.read_composite(2, 3600) == []
        await queue.close()
        assert [(event.action, event.reason) for event in sink.of_type(CommandFailed)] == [
            ("GetCompositeSchedule", "CALLERROR NotSupported")
        ]

    asyncio.run(scenario())


def test_a_wrong_profile_never_leaves_and_closing_fails_what_is_queued() -> None:
    async def scenario() -> None:
        queue, transport, _ = commander(lambda action, payload: "hang")
        with pytest.raises(ValueError, match="station max"):
            queue.set_profile(1, station_cap_profile(40, capabilities(), NOW))
        first = queue.clear_profiles()
        second = queue.clear_profiles(evse_id=1)
        await asyncio.sleep(0.02)  # the first is in flight, the second waits behind it
        await queue.close()
        assert (await first).reason == "connection closed"
        assert (await second).reason == "connection closed"
        assert [action for action, _ in transport.sent] == ["ClearChargingProfile"]

    asyncio.run(scenario())


def test_a_command_without_an_answer_is_sent_again_as_often_as_allowed() -> None:
    async def scenario() -> None:
        replies = iter(["hang", {"status": "Accepted"}, "hang", "hang"])
        transport, sink = ScriptedTransport(lambda action, payload: next(replies)), MemorySink()
        queue = StationCommander("CP1", "1.6", transport, sink, timeout_s=0.05, retries_on_timeout=1, clock=lambda: NOW)
        queue.start()
        assert (await queue.clear_profiles()).ok
        assert (await queue.clear_profiles()).reason == "no answer in 0.05 s (2 attempts)"
        await queue.close()
        assert len(transport.sent) == 4
        assert transport.sent[0] == transport.sent[1]

    asyncio.run(scenario())

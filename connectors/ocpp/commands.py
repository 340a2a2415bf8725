"""Calls from us to one station: an ordered queue with one outstanding CALL and a timeout on each.

OCPP-J allows one CALL in flight per direction, and the receive loop must never wait on one of
ours (STYLE.md), so every call goes through a `StationCommander`: enqueueing is synchronous and
returns a future; one worker task per station sends them in order, each again after a timeout as
many times as `retries_on_timeout` allows (every command is idempotent). Every outcome is recorded: a
Rejected answer, a CALLERROR or a timeout becomes an event (`ProfileRejected`, `CommandFailed`),
and an accepted profile a `ProfileAccepted`. A failed command does not stop the ones behind it.

Payloads are built and read with the pure functions of `profiles` and `composite`, for the version
the station negotiated; the transport speaks camelCase wire payloads.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.ocpp.capabilities import (
    capabilities_from_v16_configuration,
    capabilities_from_v201_variables,
    get_configuration_v16,
    get_variables_v201,
)
from connectors.ocpp.composite import (
    LimitSteps,
    composite_from_v16,
    composite_from_v201,
    get_composite_schedule_v16,
    get_composite_schedule_v201,
)
from connectors.ocpp.events import (
    CommandFailed,
    EventSink,
    OfflineFallbackWritten,
    ProfileAccepted,
    ProfileRejected,
)
from connectors.ocpp.offline_fallback import FoundSetting, found_setting, read_request, write_request, write_status
from connectors.ocpp.parsing import NOMINAL_VOLTAGE_V, OcppVersion
from connectors.ocpp.profiles import (
    clear_charging_profile_v16,
    clear_charging_profile_v201,
    profile_for_gun,
    to_v16_set_charging_profile,
    to_v201_set_charging_profile,
)
from models import ChargingLimitSchedule, Gun, ProfilePurpose, RateUnit, StationCapabilities
from models.site import gun_id as make_gun_id
from models.station import OfflineFallbackOutcome, OfflineFallbackSetting, SettingStatus

LOGGER = logging.getLogger(__name__)
DEFAULT_TIMEOUT_S = 10.0


class StationCallError(Exception):
    """The station answered a CALL with a CALLERROR."""

    def __init__(self, code: str, description: str = "") -> None:
        super().__init__(f"CALLERROR {code}: {description}" if description else f"CALLERROR {code}")
        self.code = code
        self.description = description


class Transport(Protocol):
    """Sends one CALL and returns the CALLRESULT payload (camelCase, as on the wire).

    Raises `StationCallError` on a CALLERROR and `TimeoutError` when no answer comes in time.
    """

    async def request(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CommandOutcome:
    """How one command ended: `ok` with the station's answer, or not and why."""

    action: str
    ok: bool
    response: dict[str, Any] | None = None
    reason: str = ""
    error_code: str | None = None
    """The CALLERROR code, when the station answered with one."""
    timed_out: bool = False
    """No answer came in time (after every retry)."""


ProfileObserver = Callable[[int, ChargingLimitSchedule, CommandOutcome], None]
"""Told (EVSE id, profile, outcome) of each SetChargingProfile as it ends."""


@dataclass
class _Command:
    action: str
    payload: dict[str, Any]
    timeout_s: float
    on_outcome: Callable[[CommandOutcome], None]
    judge: Callable[[dict[str, Any]], str]
    done: asyncio.Future[CommandOutcome] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class StationCommander:
    """The outbound queue of one station connection (see the module docstring)."""

    def __init__(
        self,
        station_id: str,
        version: OcppVersion,
        transport: Transport,
        sink: EventSink,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        retries_on_timeout: int = 0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_profile: ProfileObserver | None = None,
    ) -> None:
        """`on_profile` hears how each SetChargingProfile ended, with the profile sent (obedience)."""
        self.station_id = station_id
        self._on_profile = on_profile
        self.version = version
        self.timeout_s = timeout_s
        self.retries_on_timeout = retries_on_timeout
        self._transport = transport
        self._sink = sink
        self._clock = clock
        self._queue: asyncio.Queue[_Command] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self._unfinished = 0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run(), name=f"commands {self.station_id}")

    async def close(self) -> None:
        """Stop sending; commands still queued end as failed ("connection closed")."""
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        while not self._queue.empty():
            command = self._queue.get_nowait()
            self._finish(command, CommandOutcome(command.action, False, reason="connection closed"))

    @property
    def unfinished(self) -> int:
        """How many commands are queued or in flight."""
        return self._unfinished

    # -- commands in -------------------------------------------------------------------------

    def set_profile(self, evse_id: int, schedule: ChargingLimitSchedule) -> Awaitable[CommandOutcome]:
        """SetChargingProfile of `schedule` on `evse_id` (0: the station); raises ValueError on a wrong profile."""
        if self.version == "1.6":
            payload = to_v16_set_charging_profile(schedule, evse_id)
        else:
            payload = to_v201_set_charging_profile(schedule, evse_id)
        gun = make_gun_id(self.station_id, evse_id)

        def record(outcome: CommandOutcome) -> None:
            if self._on_profile is not None:
                self._on_profile(evse_id, schedule, outcome)
            if outcome.ok:
                self._sink.publish(ProfileAccepted(gun, schedule.profile_id, self._clock()))
            else:
                self._sink.publish(ProfileRejected(gun, schedule.profile_id, self._clock(), outcome.reason))

        return self._enqueue("SetChargingProfile", payload, record, accepted_when=_status_accepted)

    def apply_limit(
        self,
        gun: Gun,
        limits_kw: Sequence[tuple[datetime, float]],
        capabilities: StationCapabilities,
        *,
        transaction_id: str | None = None,
        ev_phases: int | None = None,
        stack_level: int = 0,
    ) -> Awaitable[CommandOutcome]:
        """Send a gun its planned limits: a tx profile for its transaction, else its tx default profile."""
        purpose = ProfilePurpose.TX if transaction_id is not None else ProfilePurpose.TX_DEFAULT
        schedule = profile_for_gun(
            limits_kw,
            gun,
            capabilities,
            purpose=purpose,
            stack_level=stack_level,
            transaction_id=transaction_id,
            ev_phases=ev_phases,
        )
        return self.set_profile(gun.evse_id, schedule)

    def clear_profiles(
        self,
        *,
        profile_id: int | None = None,
        evse_id: int | None = None,
        purpose: ProfilePurpose | None = None,
        stack_level: int | None = None,
    ) -> Awaitable[CommandOutcome]:
        """ClearChargingProfile by id, or else of every profile matching the criteria given (none: all)."""
        if self.version == "1.6":
            payload = clear_charging_profile_v16(
                profile_id=profile_id, connector_id=evse_id, purpose=purpose, stack_level=stack_level
            )
        else:
            payload = clear_charging_profile_v201(
                profile_id=profile_id, evse_id=evse_id, purpose=purpose, stack_level=stack_level
            )
        return self._enqueue("ClearChargingProfile", payload, self._record_failure, accepted_when=_status_accepted)

    async def read_composite(
        self,
        evse_id: int,
        duration_s: int,
        *,
        unit: RateUnit | None = None,
        voltage_v: float = NOMINAL_VOLTAGE_V,
        phases: int = 3,
    ) -> LimitSteps:
        """GetCompositeSchedule as (start, kW or None) steps; [] when rejected, failed or timed out."""
        requested_at = self._clock()
        if self.version == "1.6":
            payload = get_composite_schedule_v16(evse_id, duration_s, unit)
        else:
            payload = get_composite_schedule_v201(evse_id, duration_s, unit)
        outcome = await self._enqueue(
            "GetCompositeSchedule", payload, self._record_failure, accepted_when=_status_accepted
        )
        if not outcome.ok or outcome.response is None:
            return []
        read = composite_from_v16 if self.version == "1.6" else composite_from_v201
        return read(outcome.response, requested_at, voltage_v=voltage_v, phases=phases)

    async def read_capabilities(self) -> tuple[StationCapabilities, list[str]] | None:
        """GetConfiguration (1.6) / GetVariables (2.0.1) read as capabilities; None when the read failed."""
        if self.version == "1.6":
            action, payload = "GetConfiguration", get_configuration_v16()
        else:
            action, payload = "GetVariables", get_variables_v201()
        outcome = await self._enqueue(action, payload, self._record_failure, accepted_when=lambda _: "")
        if not outcome.ok or outcome.response is None:
            return None
        if self.version == "1.6":
            return capabilities_from_v16_configuration(outcome.response.get("configurationKey"))
        return capabilities_from_v201_variables(outcome.response.get("getVariableResult"))

    async def read_offline_fallback(self, settings: Sequence[OfflineFallbackSetting]) -> FoundSetting | None:
        """The first of `settings` the station has (see `offline_fallback`); None: none, or the read failed."""
        request = read_request(self.version, settings)
        if request is None:
            return None
        action, payload = request
        outcome = await self._enqueue(action, payload, self._record_failure, accepted_when=lambda _: "")
        if not outcome.ok or outcome.response is None:
            return None
        return found_setting(self.version, settings, outcome.response)

    def write_offline_fallback(
        self,
        setting: OfflineFallbackSetting,
        value: str,
        on_written: Callable[[OfflineFallbackOutcome], None] | None = None,
    ) -> Awaitable[CommandOutcome]:
        """ChangeConfiguration / SetVariables of `value` into `setting`; its outcome becomes an event."""
        action, payload = write_request(self.version, setting, value)

        def judge(response: dict[str, Any]) -> str:
            status, reason = write_status(self.version, response)
            taken = status in {SettingStatus.ACCEPTED, SettingStatus.REBOOT_REQUIRED}
            return "" if taken else f"{status}: {reason}" if reason else str(status)

        def record(outcome: CommandOutcome) -> None:
            if outcome.response is not None:
                status, reason = write_status(self.version, outcome.response)
            else:
                status = SettingStatus.TIMEOUT if outcome.timed_out else SettingStatus.FAILED
                reason = outcome.reason
            written = OfflineFallbackOutcome(
                setting=setting.name, value=value, unit=setting.unit, status=status, at=self._clock(), reason=reason
            )
            self._sink.publish(OfflineFallbackWritten(self.station_id, written))
            if on_written is not None:
                on_written(written)

        return self._enqueue(action, payload, record, accepted_when=judge)

    def _record_failure(self, outcome: CommandOutcome) -> None:
        if not outcome.ok:
            self._sink.publish(CommandFailed(self.station_id, outcome.action, self._clock(), outcome.reason))

    # -- the queue ---------------------------------------------------------------------------

    def _enqueue(
        self,
        action: str,
        payload: dict[str, Any],
        on_outcome: Callable[[CommandOutcome], None],
        *,
        accepted_when: Callable[[dict[str, Any]], str],
    ) -> asyncio.Future[CommandOutcome]:
        """Queue one CALL; `accepted_when` reads its answer: '' when done, else why not."""
        command = _Command(action, payload, self.timeout_s, on_outcome, accepted_when)
        self._queue.put_nowait(command)
        self._unfinished += 1
        return command.done

    async def _run(self) -> None:
        while True:
            command = await self._queue.get()
            try:
                response = await self._send(command)
            except StationCallError as error:
                outcome = CommandOutcome(command.action, False, reason=str(error), error_code=error.code)
            except TimeoutError:
                attempts = f" ({self.retries_on_timeout + 1} attempts)" if self.retries_on_timeout else ""
                reason = f"no answer in {command.timeout_s:g} s{attempts}"
                outcome = CommandOutcome(command.action, False, reason=reason, timed_out=True)
            except asyncio.CancelledError:
                self._finish(command, CommandOutcome(command.action, False, reason="connection closed"))
                raise
            except Exception as error:  # noqa: BLE001 - a broken send must not stop the queue
                LOGGER.warning("%s: %s failed: %r", self.station_id, command.action, error)
                outcome = CommandOutcome(command.action, False, reason=f"failed: {error}")
            else:
                refusal = command.judge(response)
                outcome = CommandOutcome(command.action, not refusal, response, refusal)
            if not outcome.ok:
                LOGGER.info("%s: %s not done: %s", self.station_id, command.action, outcome.reason)
            self._finish(command, outcome)

    async def _send(self, command: _Command) -> dict[str, Any]:
        """One command, sent again after a timeout as many times as allowed.

        Safe because every command is idempotent: a profile replaces the one with its id, a
        clear or a read done twice does no harm. A late answer to an earlier attempt is ignored.
        """
        retries_left = self.retries_on_timeout
        while True:
            try:
                return await self._transport.request(command.action, command.payload, command.timeout_s)
            except TimeoutError:
                if retries_left == 0:
                    raise
                retries_left -= 1
                LOGGER.info("%s: no answer to %s; sending it again", self.station_id, command.action)

    def _finish(self, command: _Command, outcome: CommandOutcome) -> None:
        self._unfinished -= 1
        command.on_outcome(outcome)
        if not command.done.done():
            command.done.set_result(outcome)


def _status_accepted(response: dict[str, Any]) -> str:
    """'' when the answer's status is Accepted, else the status and any reason the station gave."""
    status = response.get("status")
    if status == "Accepted":
        return ""
    info = response.get("statusInfo")
    reason = info.get("reasonCode") if isinstance(info, dict) else None
    return f"{status}: {reason}" if reason else str(status)

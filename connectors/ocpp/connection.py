"""What the 1.6 and 2.0.1 handlers share: the station's identity, its sink and clock, its command queue.

A `StationHandler` is a mobilityhouse `ChargePoint` (CSMS side) for one websocket. The version
modules subclass it together with the library's `ocpp.v16.ChargePoint` / `ocpp.v201.ChargePoint`
and add only their `@on` handlers, which translate with the pure functions into domain events and
answer at once. Outbound calls go through `commands` (a `StationCommander` over `request`).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ocpp.charge_point import ChargePoint, remove_nones  # type: ignore[import-untyped]
from ocpp.exceptions import OCPPError, UnknownCallErrorCodeError  # type: ignore[import-untyped]
from ocpp.messages import Call, CallError, MessageType, unpack  # type: ignore[import-untyped]

from connectors.ocpp.calls import QuickCalls
from connectors.ocpp.commands import DEFAULT_TIMEOUT_S, CommandOutcome, StationCallError, StationCommander
from connectors.ocpp.events import (
    CapabilitiesLearned,
    EventSink,
    GunStatusChanged,
    GunUncontrolled,
    MeterSampleReceived,
)
from connectors.ocpp.fallback import BootLimits, BootLimitsPolicy, boot_profiles
from connectors.ocpp.meter_values import MeterReadings
from connectors.ocpp.obedience import ObedienceSettings, ObedienceTracker, refusal_reason
from connectors.ocpp.offline_fallback import FoundSetting, setting_value
from connectors.ocpp.parsing import OcppVersion, camel_case, parse_time, to_iso
from connectors.ocpp.validation import check_payload
from models import ChargingLimitSchedule, GunStatus, StationCapabilities
from models.site import gun_id as make_gun_id
from models.station import OfflineFallbackOutcome, OfflineFallbackSetting, SettingStatus

LOGGER = logging.getLogger(__name__)
DEFAULT_HEARTBEAT_S = 300


def wire(fields: Mapping[str, Any]) -> dict[str, Any]:
    """A handler's keyword arguments back as the camelCase payload the pure functions read.

    The library hands `@on` handlers snake_case keywords; the translations read the payload as
    the spec spells it, which this restores (the library's own conversion, both ways lossless for
    the messages handled here).
    """
    return dict(camel_case(dict(fields)))


Authorizer = Callable[[str], bool]
"""Whether an id tag / id token may charge."""


def accept_all(id_token: str) -> bool:
    """The default: gridcharge steers power; who may charge is the CSMS's call (or nobody's)."""
    return True


class StationHandler(QuickCalls, ChargePoint):
    """The CSMS side of one station connection (see the module docstring)."""

    ocpp_version: OcppVersion

    def __init__(
        self,
        station_id: str,
        connection: Any,
        sink: EventSink,
        *,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        command_timeout_s: float = DEFAULT_TIMEOUT_S,
        command_retries: int = 0,
        heartbeat_interval_s: int = DEFAULT_HEARTBEAT_S,
        transaction_ids: Iterator[int] | None = None,
        evse_of_transaction: dict[str, int] | None = None,
        authorize: Authorizer = accept_all,
        obedience: ObedienceSettings | None = None,
        uncontrolled: dict[str, str] | None = None,
        boot_limits: BootLimitsPolicy | None = None,
        offline_fallback_settings: Sequence[OfflineFallbackSetting] = (),
    ) -> None:
        """`evse_of_transaction` maps each running transaction to its EVSE; pass the station's own
        (kept across its connections) so that a transaction outlives a reconnection. Likewise
        `uncontrolled` (gun id -> why it cannot be steered). `boot_limits` decides the profiles
        sent once the capabilities are known (None: none), and the value written into the first of
        `offline_fallback_settings` the station has (see `offline_fallback`)."""
        super().__init__(station_id, connection, response_timeout=command_timeout_s)
        self.station_id = station_id
        self.sink = sink
        self.clock = clock
        self.heartbeat_interval_s = heartbeat_interval_s
        self.transaction_ids = transaction_ids if transaction_ids is not None else itertools.count(1)
        self.evse_of_transaction = evse_of_transaction if evse_of_transaction is not None else {}
        self.authorize = authorize
        self.commands = StationCommander(
            station_id,
            self.ocpp_version,
            self,
            sink,
            timeout_s=command_timeout_s,
            retries_on_timeout=command_retries,
            clock=clock,
            on_profile=self._profile_outcome,
        )
        self.obedience = ObedienceTracker(station_id, obedience, uncontrolled)
        self.boot_limits = boot_limits
        self.capabilities = StationCapabilities(ocpp_version=self.ocpp_version)
        """The least any station offers until the station says more (see `learn_capabilities`)."""
        self.offline_fallback_settings = tuple(offline_fallback_settings)
        self.offline_setting: FoundSetting | None = None
        """The station's own offline-fallback setting, once read (None: it has none, or not yet known)."""
        self.offline_fallback: OfflineFallbackOutcome | None = None
        """How the last write of that setting ended."""
        self._offline_sent: str | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._status_at: dict[str, datetime] = {}
        self._sample_at: dict[str, datetime] = {}

    def in_background(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the receive loop (which must never wait on an outbound call)."""
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)  # keep a reference: the loop holds tasks only weakly
        task.add_done_callback(self._background.discard)

    async def learn_capabilities(self) -> None:
        """Read what the station can hold (through the command queue) and tell the sink; send the
        boot limits; then look for its own offline-fallback setting and write the fallback there."""
        learned = await self.commands.read_capabilities()
        if learned is not None:  # else the failure is already an event; the defaults (the least) stay
            self.capabilities, warnings = learned
            for warning in warnings:
                LOGGER.info("%s: %s", self.station_id, warning)
            self.sink.publish(CapabilitiesLearned(self.station_id, self.capabilities, self.clock(), tuple(warnings)))
            if not self.capabilities.smart_charging:
                self.mark_uncontrolled(make_gun_id(self.station_id, 0), "the station says it does no smart charging")
        self.send_boot_limits()
        if self.offline_fallback_settings and self.boot_limits is not None:
            self.offline_setting = await self.commands.read_offline_fallback(self.offline_fallback_settings)
            limits = self.boot_limits(self.station_id, self.capabilities) if self.offline_setting else None
            if limits is not None:
                self._write_offline_fallback(limits)

    def send_boot_limits(self) -> None:
        """Queue the fallback tx default and the station cap (see `fallback`), and the station's own
        offline-fallback setting where it has one and its value moved, if a policy is set."""
        limits = self.boot_limits(self.station_id, self.capabilities) if self.boot_limits is not None else None
        if limits is None:
            return
        if self.capabilities.smart_charging:
            try:
                profiles = boot_profiles(limits, self.station_id, self.capabilities, self.clock())
            except ValueError as error:
                LOGGER.warning("%s: no fallback profiles sent: %s", self.station_id, error)
                profiles = []
            for schedule in profiles:
                self.commands.set_profile(0, schedule)  # outcomes become events; nobody waits here
        self._write_offline_fallback(limits)

    def _write_offline_fallback(self, limits: BootLimits) -> None:
        """Queue the write of the station's offline fallback, unless it was sent already."""
        found = self.offline_setting
        if found is None or limits.offline_kw is None or limits.offline_a is None:
            return
        value = setting_value(found.setting, limits.offline_kw, limits.offline_a)
        if value == self._offline_sent:
            return
        self._offline_sent = value
        self.commands.write_offline_fallback(found.setting, value, self._offline_written)

    def _offline_written(self, outcome: OfflineFallbackOutcome) -> None:
        self.offline_fallback = outcome
        if outcome.status in {SettingStatus.ACCEPTED, SettingStatus.REBOOT_REQUIRED}:
            LOGGER.info(
                "%s: offline fallback %s = %s (%s)", self.station_id, outcome.setting, outcome.value, outcome.status
            )
            return
        LOGGER.warning(
            "%s: offline fallback %s = %s not taken: %s %s",
            self.station_id,
            outcome.setting,
            outcome.value,
            outcome.status,
            outcome.reason,
        )
        if outcome.status in {SettingStatus.TIMEOUT, SettingStatus.FAILED} and self._offline_sent == outcome.value:
            self._offline_sent = None  # sent again with the next fallback (or the next connection)

    def _profile_outcome(self, evse_id: int, schedule: ChargingLimitSchedule, outcome: CommandOutcome) -> None:
        """Remember an accepted limit for judging the meter; a refusal makes the gun uncontrolled."""
        gun = make_gun_id(self.station_id, evse_id)
        if outcome.ok:
            self.obedience.accepted(evse_id, schedule, self.clock())
            return
        status = outcome.response.get("status") if outcome.response else None
        reason = refusal_reason(status, outcome.error_code, outcome.reason)
        if reason is None:
            return
        ended = schedule.transaction_id is not None and schedule.transaction_id not in self.evse_of_transaction
        if ended:  # a tx profile that crossed its transaction's end is rightly rejected
            LOGGER.info(
                "%s: profile %s refused, its transaction has ended: %s", self.station_id, schedule.profile_id, reason
            )
            return
        self.mark_uncontrolled(gun, reason)

    def mark_uncontrolled(self, gun_id: str, reason: str) -> None:
        """Record that `gun_id` cannot be steered and tell the sink, once."""
        if self.obedience.refused(gun_id, reason) is not None:
            self._publish_uncontrolled(gun_id, reason)

    def _publish_uncontrolled(self, gun_id: str, reason: str) -> None:
        LOGGER.warning("%s: %s is uncontrolled: %s", self.station_id, gun_id, reason)
        self.sink.publish(GunUncontrolled(gun_id, self.clock(), reason))

    def publish_status(self, gun_id: str, status: GunStatus, at: datetime) -> None:
        """A gun's status, unless one of a later instant was already told (a stale one is dropped)."""
        if at < self._status_at.get(gun_id, at):
            LOGGER.info("%s: stale %s status %s of %s dropped", self.station_id, gun_id, status, at)
            return
        self._status_at[gun_id] = at
        self.sink.publish(GunStatusChanged(gun_id, status, at))

    def publish_samples(self, readings: MeterReadings) -> None:
        """The samples read from one message, but none older than one already told for its gun.

        A station replays queued messages in order, so only a stray late message is dropped.
        """
        for warning in readings.warnings:
            LOGGER.debug("%s: %s", self.station_id, warning)
        for sample in readings.samples:
            if sample.timestamp < self._sample_at.get(sample.gun_id, sample.timestamp):
                LOGGER.info("%s: stale sample of %s at %s dropped", self.station_id, sample.gun_id, sample.timestamp)
                continue
            self._sample_at[sample.gun_id] = sample.timestamp
            self.sink.publish(MeterSampleReceived(sample))
            verdict = self.obedience.observe(sample, self.clock())
            if verdict is not None:
                self._publish_uncontrolled(sample.gun_id, verdict)

    def id_token_info(self, id_token: object) -> dict[str, str]:
        """The answer to an id tag (1.6 `idTagInfo`) or token (2.0.1 `idTokenInfo`): the same shape in both."""
        accepted = isinstance(id_token, str) and self.authorize(id_token)
        return {"status": "Accepted" if accepted else "Invalid"}

    async def disconnect(self, code: int, reason: str) -> None:
        """Close this station's websocket (the receive loop then ends)."""
        await self._connection.close(code, reason)

    def now_iso(self) -> str:
        return to_iso(self.clock())

    def instant(self, value: object) -> datetime:
        """The station's timestamp where it is readable, else now."""
        return parse_time(value, [], self.station_id) or self.clock()

    # -- outbound: the Transport of the command queue ----------------------------------------

    async def request(self, action: str, payload: dict[str, Any], timeout_s: float) -> dict[str, Any]:
        """One CALL, schema-validated both ways, camelCase in and out.

        As the library's `ChargePoint.call`, but the payload goes out as given (it is in the spec's
        spelling already: `wire`) and the answer comes back as received: the library turns both
        into its dataclasses and back, converting every key's case twice each way, which cost more
        than the call's own send (bench/reaction.py, a limit change at 1,000 stations).
        """
        call = Call(unique_id=str(self._unique_id_generator()), action=action, payload=remove_nones(payload))
        try:
            await check_payload(call, self._ocpp_version)  # a wrong request must not reach a station
            async with asyncio.timeout(timeout_s), self._call_lock:
                await self._send(call.to_json())
                answer = await self._get_specific_response(call.unique_id, timeout_s)
            if answer.message_type_id == MessageType.CallError:
                raise answer.to_exception()
            answer.action = action
            await check_payload(answer, self._ocpp_version)
        except OCPPError as error:  # the station's CALLERROR, or its answer broke the schema
            raise StationCallError(getattr(error, "code", type(error).__name__), error.description) from error
        except UnknownCallErrorCodeError as error:  # a CALLERROR with a code OCPP does not define
            raise StationCallError("Unknown", str(error)) from error
        return dict(answer.payload)

    # -- inbound: frames the library would drop silently --------------------------------------

    async def route_message(self, raw_msg: str | bytes) -> None:
        """Route one frame as the library does, but answer every malformed one, in one log line.

        The library drops a frame that is not an OCPP message (logging a traceback), which
        leaves a station waiting for an answer until it times out; OCPP-J wants a CALLERROR,
        with the message id when it can be read, else "-1". A CALL the library refuses (unknown
        action, schema violation) is answered by its CALLERROR as before, logged as a warning
        rather than a traceback: it is the station's mistake, not ours. The connection stays up.
        """
        try:
            message = unpack(raw_msg)
        except OCPPError as error:
            LOGGER.warning("%s: malformed frame (%s): %.200r", self.station_id, _cause(error), raw_msg)
            await self._connection.send(self._call_error(_message_id(raw_msg), error))
            return
        if message.message_type_id != MessageType.Call:
            await super().route_message(raw_msg)  # an answer to one of our calls
            return
        try:
            await self._handle_call(message)
        except OCPPError as error:
            LOGGER.warning("%s: %s refused with %s: %s", self.station_id, message.action, error.code, _cause(error))
            await self._connection.send(self._call_error(message.unique_id, error))

    def _call_error(self, message_id: str, error: Exception) -> str:
        """The CALLERROR frame for `error`, with the error code as this version spells it."""
        code = getattr(error, "code", "ProtocolError")
        if self.ocpp_version == "1.6" and code == "FormatViolation":
            code = "FormationViolation"  # as OCPP-J 1.6 spells it
        description = getattr(error, "description", "")
        return str(CallError(message_id, code, description, {"cause": _cause(error)}).to_json())


def _cause(error: Exception) -> str:
    details = getattr(error, "details", None)
    cause = details.get("cause") if isinstance(details, dict) else None
    return str(cause or error)


def _message_id(raw: str | bytes) -> str:
    try:
        message = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return "-1"
    if isinstance(message, list) and len(message) > 1 and isinstance(message[1], str):
        return message[1]
    return "-1"

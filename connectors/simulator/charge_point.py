"""A simulated charge point on the `ocpp` library's client side, speaking 1.6 or 2.0.1.

It boots, reports its EVSE available, plugs a car in and starts a transaction, then reports its
meter every `meter_interval_s`: the car draws min(its maximum, the limit its profiles set now, by
`ProfileStore`), or its maximum whatever its profiles say when the station is made to disobey
(`obeys_profiles=False`: it still answers Accepted and reports the profiles it holds). It can
authenticate with a password (basic auth, security profile 1) and connect over TLS (`wss://`).

It answers SetChargingProfile, GetCompositeSchedule and ClearChargingProfile from that store,
rejecting what a real station with its capabilities would. One EVSE; enough for the tests and
the demo, several of these make a site.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocpp.charge_point import snake_to_camel_case  # type: ignore[import-untyped]
from ocpp.routing import on  # type: ignore[import-untyped]
from ocpp.v16 import ChargePoint as V16ChargePoint  # type: ignore[import-untyped]
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as V201ChargePoint  # type: ignore[import-untyped]
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from connectors.ocpp.parsing import OcppVersion, to_iso
from connectors.simulator.profiles import ProfileStore
from connectors.simulator.requests import (
    PURPOSES,
    composite_answer_v16,
    composite_answer_v201,
    configuration_answer_v16,
    schedule_from_v16,
    schedule_from_v201,
    variables_answer_v201,
)
from models import ChargingLimitSchedule, RateUnit, StationCapabilities
from models.units import WATTS_PER_KW

LOGGER = logging.getLogger(__name__)
WH_PER_KWH = 1000.0


@dataclass
class SimulatedEv:
    """The car: it draws up to `max_power_kw` and counts what it got."""

    max_power_kw: float = 11.0
    energy_kwh: float = 0.0

    def draw_kw(self, limit_w: float | None) -> float:
        """What the car draws under a limit in W (None: no limit)."""
        if limit_w is None:
            return self.max_power_kw
        return max(0.0, min(self.max_power_kw, limit_w / WATTS_PER_KW))


class _Station:
    """What both versions' clients share: the store, the EV, the meter."""

    def __init__(self, store: ProfileStore, ev: SimulatedEv, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.ev = ev
        self.clock = clock
        self.register_kwh = 0.0
        self.power_kw = 0.0

    def install(self, evse_id: int, read: Callable[[], ChargingLimitSchedule]) -> str:
        try:
            schedule = read()
        except ValueError as error:
            LOGGER.info("simulator: unreadable profile rejected: %s", error)
            return "Rejected"
        verdict = self.store.install(evse_id, schedule)
        if not verdict.accepted:
            LOGGER.info("simulator: profile %s rejected: %s", schedule.profile_id, verdict.reason)
        return "Accepted" if verdict.accepted else "Rejected"


class _V16Client(V16ChargePoint):
    station: _Station

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        answer = configuration_answer_v16(self.station.store.capabilities, key)
        return result16.GetConfiguration(
            configuration_key=answer["configurationKey"], unknown_key=answer.get("unknownKey")
        )

    @on("SetChargingProfile")
    def on_set_charging_profile(self, connector_id: int, cs_charging_profiles: dict[str, Any]) -> Any:
        profile = snake_to_camel_case(cs_charging_profiles)
        status = self.station.install(connector_id, lambda: schedule_from_v16(profile, self.station.clock()))
        return result16.SetChargingProfile(status=status)

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, connector_id: int, duration: int, **extra: Any) -> Any:
        unit = RateUnit(extra.get("charging_rate_unit") or "W")
        composite = self.station.store.composite(connector_id, self.station.clock(), duration, unit)
        return result16.GetCompositeSchedule(**_snake(composite_answer_v16(composite, connector_id)))

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **criteria: Any) -> Any:
        purpose = criteria.get("charging_profile_purpose")
        removed = self.station.store.clear(
            profile_id=criteria.get("id"),
            evse_id=criteria.get("connector_id"),
            purpose=PURPOSES[purpose] if purpose else None,
            stack_level=criteria.get("stack_level"),
        )
        return result16.ClearChargingProfile(status="Accepted" if removed else "Unknown")


class _V201Client(V201ChargePoint):
    station: _Station

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        answer = variables_answer_v201(self.station.store.capabilities, snake_to_camel_case(get_variable_data))
        return result201.GetVariables(get_variable_result=answer["getVariableResult"])

    @on("SetChargingProfile")
    def on_set_charging_profile(self, evse_id: int, charging_profile: dict[str, Any], **_: Any) -> Any:
        profile = snake_to_camel_case(charging_profile)
        status = self.station.install(evse_id, lambda: schedule_from_v201(profile, self.station.clock()))
        return result201.SetChargingProfile(status=status)

    @on("GetCompositeSchedule")
    def on_get_composite_schedule(self, duration: int, evse_id: int, **extra: Any) -> Any:
        unit = RateUnit(extra.get("charging_rate_unit") or "W")
        composite = self.station.store.composite(evse_id, self.station.clock(), duration, unit)
        return result201.GetCompositeSchedule(**_snake(composite_answer_v201(composite, evse_id)))

    @on("ClearChargingProfile")
    def on_clear_charging_profile(self, **fields: Any) -> Any:
        criteria = fields.get("charging_profile_criteria") or {}
        purpose = criteria.get("charging_profile_purpose")
        removed = self.station.store.clear(
            profile_id=fields.get("charging_profile_id"),
            evse_id=criteria.get("evse_id"),
            purpose=PURPOSES[purpose] if purpose else None,
            stack_level=criteria.get("stack_level"),
        )
        return result201.ClearChargingProfile(status="Accepted" if removed else "Unknown")


def _snake(payload: dict[str, Any]) -> dict[str, Any]:
    """Top-level keys as the library's result classes name them (nested ones stay camelCase)."""
    names = {"connectorId": "connector_id", "scheduleStart": "schedule_start", "chargingSchedule": "charging_schedule"}
    return {names.get(key, key): value for key, value in payload.items()}


class SimulatedChargePoint:
    """One simulated station with one EVSE and one car, connected to `url`.

    `await start()` connects, boots and starts charging; `await stop()` ends the transaction and
    disconnects. `samples_sent` counts meter reports; `power_kw` is what the car draws now.
    """

    def __init__(
        self,
        station_id: str,
        url: str,
        version: OcppVersion,
        *,
        capabilities: StationCapabilities | None = None,
        ev: SimulatedEv | None = None,
        phases: int = 3,
        meter_interval_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        obeys_profiles: bool = True,
        password: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """`password`: sent as basic auth with the station id as user; `ssl_context`: for a wss:// url."""
        self.station_id = station_id
        self.obeys_profiles = obeys_profiles
        self.password = password
        self.ssl_context = ssl_context
        self.url = url
        self.version = version
        self.evse_id = 1
        self.meter_interval_s = meter_interval_s
        capabilities = capabilities or StationCapabilities(
            ocpp_version=version, max_periods_per_schedule=24, max_stack_level=8
        )
        self.station = _Station(ProfileStore(capabilities, {self.evse_id: phases}), ev or SimulatedEv(), clock)
        self.transaction_id: str | None = None
        self.samples_sent = 0
        self._connection: ClientConnection | None = None
        self._client: Any = None
        self._tasks: list[asyncio.Task[None]] = []
        self._seq_no = 0
        self._stopping = asyncio.Event()

    @property
    def store(self) -> ProfileStore:
        return self.station.store

    @property
    def power_kw(self) -> float:
        return self.station.power_kw

    async def start(self) -> None:
        """Connect, boot, report available, start a transaction and begin the meter reports."""
        subprotocol = Subprotocol(f"ocpp{self.version}")
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._connection = await connect(
            self.url, subprotocols=[subprotocol], additional_headers=headers, ssl=self.ssl_context
        )
        client_class = _V16Client if self.version == "1.6" else _V201Client
        self._client = client_class(self.station_id, self._connection, response_timeout=5)
        self._client.station = self.station
        self._tasks.append(asyncio.create_task(self._receive(), name=f"sim {self.station_id} receive"))
        await self.boot()
        await self.report_status("Available")
        await self.start_transaction()
        self._tasks.append(asyncio.create_task(self._meter_loop(), name=f"sim {self.station_id} meter"))

    async def stop(self) -> None:
        """End the transaction and disconnect; a meter report under way is answered first."""
        self._stopping.set()
        for task in self._tasks[1:]:
            with contextlib.suppress(Exception):
                await task
        with contextlib.suppress(Exception):
            await self.stop_transaction()
        if self._connection is not None:
            await self._connection.close()
        for task in self._tasks[:1]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    async def _receive(self) -> None:
        with contextlib.suppress(Exception):  # the connection closed: the simulator is done
            await self._client.start()

    # -- messages ----------------------------------------------------------------------------

    async def call(self, payload: Any) -> Any:
        return await self._client.call(payload, suppress=False)

    async def boot(self) -> None:
        if self.version == "1.6":
            await self.call(call16.BootNotification(charge_point_vendor="gridcharge", charge_point_model="sim"))
        else:
            station = {"model": "sim", "vendor_name": "gridcharge"}
            await self.call(call201.BootNotification(charging_station=station, reason="PowerUp"))

    async def report_status(self, status: str) -> None:
        """`status` as 1.6 names it (Available, Preparing, Charging, ...); 2.0.1 gets its connector status."""
        if self.version == "1.6":
            await self.call(call16.StatusNotification(connector_id=self.evse_id, error_code="NoError", status=status))
        else:
            connector_status = "Available" if status == "Available" else "Occupied"
            await self.call(
                call201.StatusNotification(
                    timestamp=self._now(), connector_status=connector_status, evse_id=self.evse_id, connector_id=1
                )
            )

    async def start_transaction(self, id_tag: str = "SIMCAR") -> None:
        now = self.station.clock()
        await self.report_status("Preparing")
        if self.version == "1.6":
            answer = await self.call(
                call16.StartTransaction(
                    connector_id=self.evse_id,
                    id_tag=id_tag,
                    meter_start=round(self.station.register_kwh * WH_PER_KWH),
                    timestamp=to_iso(now),
                )
            )
            self.transaction_id = str(answer.transaction_id)
        else:
            self.transaction_id = uuid.uuid4().hex[:20]
            await self.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=to_iso(now),
                    trigger_reason="CablePluggedIn",
                    seq_no=self._next_seq_no(),
                    transaction_info={"transaction_id": self.transaction_id, "charging_state": "EVConnected"},
                    evse={"id": self.evse_id, "connector_id": 1},
                    id_token={"id_token": id_tag, "type": "Local"},
                )
            )
        self.store.start_transaction(self.evse_id, self.transaction_id, now)
        await self.report_status("Charging")

    async def stop_transaction(self) -> None:
        if self.transaction_id is None:
            return
        transaction_id, self.transaction_id = self.transaction_id, None
        self.store.end_transaction(self.evse_id)
        if self.version == "1.6":
            await self.call(
                call16.StopTransaction(
                    meter_stop=round(self.station.register_kwh * WH_PER_KWH),
                    timestamp=self._now(),
                    transaction_id=int(transaction_id),
                    reason="EVDisconnected",
                )
            )
        else:
            await self.call(
                call201.TransactionEvent(
                    event_type="Ended",
                    timestamp=self._now(),
                    trigger_reason="EVCommunicationLost",
                    seq_no=self._next_seq_no(),
                    transaction_info={"transaction_id": transaction_id, "stopped_reason": "EVDisconnected"},
                )
            )

    async def send_meter_values(self) -> None:
        """Draw for the interval under the limit in force now and report power and register."""
        now = self.station.clock()
        limit_w = self.store.limit_at(self.evse_id, now) if self.obeys_profiles else None
        power_kw = self.station.ev.draw_kw(limit_w)
        self.station.power_kw = power_kw
        energy_kwh = power_kw * self.meter_interval_s / 3600
        self.station.register_kwh += energy_kwh
        self.station.ev.energy_kwh += energy_kwh
        power_w, register_wh = round(power_kw * WATTS_PER_KW, 1), round(self.station.register_kwh * WH_PER_KWH, 1)
        sampled: list[dict[str, Any]]
        if self.version == "1.6":
            sampled = [
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
                {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            ]
            await self.call(
                call16.MeterValues(
                    connector_id=self.evse_id,
                    transaction_id=int(self.transaction_id) if self.transaction_id else None,
                    meter_value=[{"timestamp": to_iso(now), "sampledValue": sampled}],
                )
            )
        else:
            sampled = [
                {"value": power_w, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "W"}},
                {"value": register_wh, "measurand": "Energy.Active.Import.Register", "unitOfMeasure": {"unit": "Wh"}},
            ]
            await self.call(
                call201.TransactionEvent(
                    event_type="Updated",
                    timestamp=to_iso(now),
                    trigger_reason="MeterValuePeriodic",
                    seq_no=self._next_seq_no(),
                    transaction_info={"transaction_id": self.transaction_id, "charging_state": "Charging"},
                    meter_value=[{"timestamp": to_iso(now), "sampledValue": sampled}],
                )
            )
        self.samples_sent += 1

    async def _meter_loop(self) -> None:
        while self.transaction_id is not None and not self._stopping.is_set():
            await self.send_meter_values()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.meter_interval_s)

    def _now(self) -> str:
        return to_iso(self.station.clock())

    def _next_seq_no(self) -> int:
        self._seq_no += 1
        return self._seq_no - 1

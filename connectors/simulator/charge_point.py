"""A simulated charge point on the `ocpp` library's client side, speaking 1.6 or 2.0.1.

It boots, reports its EVSE available, plugs a car in and starts a transaction, then reports its
meter every `meter_interval_s`: the car draws min(its maximum, the limit its profiles set now, by
`ProfileStore`), or its maximum whatever its profiles say when the station is made to disobey
(`obeys_profiles=False`: it still answers Accepted and reports the profiles it holds). It can
authenticate with a password (basic auth, security profile 1) and connect over TLS (`wss://`).

It answers SetChargingProfile, GetCompositeSchedule and ClearChargingProfile from that store,
rejecting what a real station with its capabilities would (the requests checked against their
schemas as the endpoint checks them: `calls.QuickCalls`). One EVSE by default; given a site's
`guns` of one station, one EVSE per gun, cars plugging in and out of each (`start_transaction`
with an `ev`, `unplug`), and a station max profile shared among the EVSEs that charge at once.
`speed` (simulated seconds per real second) makes each meter interval count that much energy.

It may have an offline-fallback setting of its own (`offline_fallback`, off by default; see
`offline`): reported, writable, and applied while the station is disconnected. A disconnected
station goes on drawing (and counting energy) every meter interval, without reporting.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

from ocpp.charge_point import snake_to_camel_case  # type: ignore[import-untyped]
from ocpp.routing import on  # type: ignore[import-untyped]
from ocpp.v16 import ChargePoint as V16ChargePoint  # type: ignore[import-untyped]
from ocpp.v16 import call as call16
from ocpp.v16 import call_result as result16
from ocpp.v201 import ChargePoint as V201ChargePoint  # type: ignore[import-untyped]
from ocpp.v201 import call as call201
from ocpp.v201 import call_result as result201
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from connectors.ocpp.calls import QuickCalls
from connectors.ocpp.parsing import OcppVersion, to_iso
from connectors.ocpp.validation import check_on_the_loop
from connectors.simulator.offline import OfflineFallback
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
from models import ChargingLimitSchedule, Gun, RateUnit, StationCapabilities
from models.station import OfflineFallbackSetting
from models.units import WATTS_PER_KW

LOGGER = logging.getLogger(__name__)
WH_PER_KWH = 1000.0


@dataclass
class SimulatedEv:
    """The car: it draws up to `max_power_kw` and counts what it got.

    With a battery (`battery_kwh` and a state of charge `soc`, 0..1) it tapers above
    `TAPER_FROM_SOC` down to `TAPER_FLOOR` of its maximum, and is full at `target_soc`.
    """

    TAPER_FROM_SOC: ClassVar[float] = 0.8
    TAPER_FLOOR: ClassVar[float] = 0.3

    max_power_kw: float = 11.0
    energy_kwh: float = 0.0
    battery_kwh: float | None = None
    soc: float | None = None
    target_soc: float = 1.0

    def acceptance_kw(self) -> float:
        """What the car takes with no limit: its maximum, tapered near full, 0 when full."""
        if self.soc is None:
            return self.max_power_kw
        if self.full:
            return 0.0
        if self.soc < self.TAPER_FROM_SOC:
            return self.max_power_kw
        into_taper = (self.soc - self.TAPER_FROM_SOC) / (1.0 - self.TAPER_FROM_SOC)
        return self.max_power_kw * (1.0 - (1.0 - self.TAPER_FLOOR) * into_taper)

    def draw_kw(self, limit_w: float | None) -> float:
        """What the car draws under a limit in W (None: no limit)."""
        if limit_w is None:
            return self.acceptance_kw()
        return max(0.0, min(self.acceptance_kw(), limit_w / WATTS_PER_KW))

    @property
    def full(self) -> bool:
        return self.soc is not None and self.soc >= self.target_soc

    def room_kwh(self) -> float | None:
        """Energy until full (None: no battery, no end)."""
        if self.soc is None or self.battery_kwh is None:
            return None
        return max(0.0, (self.target_soc - self.soc) * self.battery_kwh)

    def charge(self, energy_kwh: float) -> None:
        self.energy_kwh += energy_kwh
        if self.soc is not None and self.battery_kwh:
            self.soc = min(1.0, self.soc + energy_kwh / self.battery_kwh)


@dataclass
class SimulatedEvse:
    """One EVSE of a simulated station: its car (if plugged), transaction and meter."""

    evse_id: int
    phases: int
    max_power_kw: float | None = None
    ev: SimulatedEv | None = None
    transaction_id: str | None = None
    register_kwh: float = 0.0
    power_kw: float = 0.0


class _Station:
    """What both versions' clients share: the store, the EVSEs, the clock, the offline fallback."""

    def __init__(
        self,
        store: ProfileStore,
        evses: dict[int, SimulatedEvse],
        clock: Callable[[], datetime],
        offline_fallback: OfflineFallback | None = None,
    ) -> None:
        self.store = store
        self.evses = evses
        self.clock = clock
        self.offline_fallback = offline_fallback

    def writable_keys(self) -> dict[str, str]:
        """The 1.6 keys of the station's own: its offline fallback, if it has one of 1.6's kind."""
        found = self.offline_fallback
        if found is None or found.setting.component_variable is not None:
            return {}
        return {found.setting.name: found.reported()}

    def writable_variables(self) -> dict[tuple[str, str], str]:
        """The 2.0.1 variables of the station's own: its offline fallback, if it is a `Component.Variable`."""
        found = self.offline_fallback
        names = found.setting.component_variable if found is not None else None
        if found is None or names is None:
            return {}
        return {names: found.reported()}

    def change_setting(self, name: str, value: str) -> bool | None:
        """Write the station's own setting `name`: whether it took the value; None: no such setting."""
        if self.offline_fallback is None or name != self.offline_fallback.setting.name:
            return None
        return self.offline_fallback.change(value)

    @property
    def power_kw(self) -> float:
        return sum(evse.power_kw for evse in self.evses.values())

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

    def draws_kw(self, now: datetime, *, obey: bool, online: bool = True) -> dict[int, float]:
        """What each charging EVSE's car draws now: min(car, EVSE rating, its limit), and together
        no more than the station's max profile (shared in proportion when it binds), nor, while not
        `online`, than its offline fallback."""
        draws: dict[int, float] = {}
        for evse in self.evses.values():
            if evse.transaction_id is None or evse.ev is None:
                continue
            power_kw = evse.ev.draw_kw(self.store.limit_at(evse.evse_id, now) if obey else None)
            draws[evse.evse_id] = min(power_kw, evse.max_power_kw) if evse.max_power_kw is not None else power_kw
        cap_w = self.store.limit_at(0, now) if obey and len(draws) > 1 else None
        total_kw = sum(draws.values())
        if cap_w is not None and total_kw * WATTS_PER_KW > cap_w:
            share = cap_w / WATTS_PER_KW / total_kw
            draws = {evse_id: power_kw * share for evse_id, power_kw in draws.items()}
        if not online and self.offline_fallback is not None:
            draws = self.offline_fallback.cap(draws, {evse_id: self.evses[evse_id].phases for evse_id in draws})
        return draws


class _V16Client(QuickCalls, V16ChargePoint):
    station: _Station

    @on("GetConfiguration")
    def on_get_configuration(self, key: list[str] | None = None) -> Any:
        answer = configuration_answer_v16(self.station.store.capabilities, key, self.station.writable_keys())
        return result16.GetConfiguration(
            configuration_key=answer["configurationKey"], unknown_key=answer.get("unknownKey")
        )

    @on("ChangeConfiguration")
    def on_change_configuration(self, key: str, value: str) -> Any:
        taken = self.station.change_setting(key, value)
        status = "NotSupported" if taken is None else "Accepted" if taken else "Rejected"
        return result16.ChangeConfiguration(status=status)

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


class _V201Client(QuickCalls, V201ChargePoint):
    station: _Station

    @on("GetVariables")
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        answer = variables_answer_v201(
            self.station.store.capabilities, snake_to_camel_case(get_variable_data), self.station.writable_variables()
        )
        return result201.GetVariables(get_variable_result=answer["getVariableResult"])

    @on("SetVariables")
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in set_variable_data:
            component, variable = item["component"], item["variable"]
            taken = self.station.change_setting(f"{component['name']}.{variable['name']}", item["attribute_value"])
            status = "UnknownVariable" if taken is None else "Accepted" if taken else "Rejected"
            results.append({"attribute_status": status, "component": component, "variable": variable})
        return result201.SetVariables(set_variable_result=results)

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
    """One simulated station connected to `url`: one EVSE and one car, or one EVSE per gun of `guns`.

    `await start()` connects, boots and starts charging on the first EVSE; `await stop()` ends the
    transactions and disconnects. `await connect()` only connects and boots: cars then come with
    `start_transaction(evse_id=..., ev=...)` and go with `unplug(evse_id)`. `samples_sent` counts
    meter reports; `power_kw` is what the station's cars draw now.
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
        guns: Sequence[Gun] = (),
        speed: float = 1.0,
        offline_fallback: OfflineFallbackSetting | None = None,
        offline_fallback_limit: float | None = None,
    ) -> None:
        """`password`: sent as basic auth with the station id as user; `ssl_context`: for a wss:// url.
        `guns`: this station's guns (EVSE ids, phases, ratings; default one 3-phase EVSE of `phases`);
        `ev` is the car of the first EVSE. `speed`: simulated seconds per real second of `clock`.
        `offline_fallback`: the station's own offline-fallback setting (None: it has none), holding
        `offline_fallback_limit` at first (None: not set)."""
        self.station_id = station_id
        self.obeys_profiles = obeys_profiles
        self.password = password
        self.ssl_context = ssl_context
        self.url = url
        self.version = version
        self.meter_interval_s = meter_interval_s
        self.speed = speed
        capabilities = capabilities or StationCapabilities(
            ocpp_version=version, max_periods_per_schedule=24, max_stack_level=8
        )
        evses = {
            gun.evse_id: SimulatedEvse(gun.evse_id, gun.phases, max_power_kw=gun.max_power_kw)
            for gun in sorted(guns, key=lambda gun: gun.evse_id)
        } or {1: SimulatedEvse(1, phases)}
        self.evse_id = next(iter(evses))
        evses[self.evse_id].ev = ev or SimulatedEv()
        evse_phases = {evse_id: evse.phases for evse_id, evse in evses.items()}
        offline = OfflineFallback(offline_fallback, offline_fallback_limit) if offline_fallback is not None else None
        self.station = _Station(ProfileStore(capabilities, evse_phases), evses, clock, offline)
        self.samples_sent = 0
        self.offline_intervals = 0
        """Meter intervals drawn while disconnected (nothing reported)."""
        self._connection: ClientConnection | None = None
        self._client: Any = None
        self._receive_task: asyncio.Task[None] | None = None
        self._meter_task: asyncio.Task[None] | None = None
        self._seq_no = 0
        self._stopping = asyncio.Event()

    @property
    def store(self) -> ProfileStore:
        return self.station.store

    @property
    def power_kw(self) -> float:
        return self.station.power_kw

    @property
    def evses(self) -> dict[int, SimulatedEvse]:
        return self.station.evses

    @property
    def transaction_id(self) -> str | None:
        """The transaction running on the first EVSE."""
        return self.evses[self.evse_id].transaction_id

    @property
    def connected(self) -> bool:
        return self._receive_task is not None and not self._receive_task.done()

    async def start(self) -> None:
        """Connect, boot, report available, start a transaction and begin the meter reports."""
        await self._open()
        await self.start_transaction()
        self._start_metering()

    async def connect(self) -> None:
        """Connect and boot; report each EVSE Available, or Charging where a transaction runs on
        from an earlier connection; begin the meter reports of the EVSEs that charge."""
        await self._open()
        self._start_metering()

    async def wait_disconnected(self) -> None:
        """Return when the connection closed (at once when there is none)."""
        if self._receive_task is not None:
            await asyncio.shield(self._receive_task)

    async def stop(self) -> None:
        """End the transactions and disconnect; a meter report under way is answered first."""
        self._stopping.set()
        if self._meter_task is not None:
            with contextlib.suppress(Exception):
                await self._meter_task
        for evse_id in self.evses:
            with contextlib.suppress(Exception):
                await self.stop_transaction(evse_id=evse_id)
        if self._connection is not None:
            await self._connection.close()
        if self._receive_task is not None:
            self._receive_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._receive_task
        self._meter_task = self._receive_task = None

    async def _open(self) -> None:
        subprotocol = Subprotocol(f"ocpp{self.version}")
        headers = {}
        if self.password is not None:
            token = base64.b64encode(f"{self.station_id}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self._connection = await connect(
            self.url, subprotocols=[subprotocol], additional_headers=headers, ssl=self.ssl_context
        )
        check_on_the_loop()  # as the endpoint does: the library's thread pool hop costs more than the check
        client_class = _V16Client if self.version == "1.6" else _V201Client
        self._client = client_class(self.station_id, self._connection, response_timeout=5)
        self._client.station = self.station
        self._receive_task = asyncio.create_task(self._receive(), name=f"sim {self.station_id} receive")
        try:
            await self.boot()
            for evse in self.evses.values():
                status = "Available" if evse.transaction_id is None else "Charging"
                await self.report_status(status, evse_id=evse.evse_id)
        except BaseException:
            await self._connection.close()
            raise

    def _start_metering(self) -> None:
        if self._meter_task is not None:
            self._meter_task.cancel()  # the previous connection's, if it has not noticed the close yet
        self._meter_task = asyncio.create_task(self._meter_loop(), name=f"sim {self.station_id} meter")

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

    async def report_status(self, status: str, *, evse_id: int | None = None) -> None:
        """`status` as 1.6 names it (Available, Preparing, Charging, ...); 2.0.1 gets its connector status.

        `evse_id`: default the first EVSE."""
        evse_id = self.evse_id if evse_id is None else evse_id
        if self.version == "1.6":
            await self.call(call16.StatusNotification(connector_id=evse_id, error_code="NoError", status=status))
        else:
            connector_status = "Available" if status == "Available" else "Occupied"
            await self.call(
                call201.StatusNotification(
                    timestamp=self._now(), connector_status=connector_status, evse_id=evse_id, connector_id=1
                )
            )

    async def start_transaction(
        self, id_tag: str = "SIMCAR", *, evse_id: int | None = None, ev: SimulatedEv | None = None
    ) -> None:
        """A car plugs in on `evse_id` (default the first EVSE): `ev`, or the one already there."""
        evse = self.evses[self.evse_id if evse_id is None else evse_id]
        if ev is not None:
            evse.ev = ev
        now = self.station.clock()
        await self.report_status("Preparing", evse_id=evse.evse_id)
        if self.version == "1.6":
            answer = await self.call(
                call16.StartTransaction(
                    connector_id=evse.evse_id,
                    id_tag=id_tag,
                    meter_start=round(evse.register_kwh * WH_PER_KWH),
                    timestamp=to_iso(now),
                )
            )
            transaction_id = str(answer.transaction_id)
        else:
            transaction_id = uuid.uuid4().hex[:20]
            await self.call(
                call201.TransactionEvent(
                    event_type="Started",
                    timestamp=to_iso(now),
                    trigger_reason="CablePluggedIn",
                    seq_no=self._next_seq_no(),
                    transaction_info={"transaction_id": transaction_id, "charging_state": "EVConnected"},
                    evse={"id": evse.evse_id, "connector_id": 1},
                    id_token={"id_token": id_tag, "type": "Local"},
                )
            )
        evse.transaction_id = transaction_id
        self.store.start_transaction(evse.evse_id, transaction_id, now)
        await self.report_status("Charging", evse_id=evse.evse_id)

    async def stop_transaction(self, *, evse_id: int | None = None) -> None:
        """End the transaction on `evse_id` (default the first EVSE), if one runs."""
        evse = self.evses[self.evse_id if evse_id is None else evse_id]
        if evse.transaction_id is None:
            return
        transaction_id, evse.transaction_id = evse.transaction_id, None
        evse.power_kw = 0.0
        self.store.end_transaction(evse.evse_id)
        if self.version == "1.6":
            await self.call(
                call16.StopTransaction(
                    meter_stop=round(evse.register_kwh * WH_PER_KWH),
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

    async def unplug(self, evse_id: int) -> None:
        """The car on `evse_id` leaves: its transaction ends and the EVSE is Available again."""
        await self.stop_transaction(evse_id=evse_id)
        self.evses[evse_id].ev = None
        await self.report_status("Available", evse_id=evse_id)

    @property
    def offline_fallback(self) -> OfflineFallback | None:
        """The station's own offline-fallback setting and its value, if it has one."""
        return self.station.offline_fallback

    async def send_meter_values(self) -> None:
        """Draw for the interval under the limits in force now and report each charging EVSE's
        power and register (while connected); the interval counts `speed` times its length in energy."""
        now = self.station.clock()
        online = self.connected
        draws = self.station.draws_kw(now, obey=self.obeys_profiles, online=online)
        if not online:
            self.offline_intervals += 1
        for evse_id, power_kw in draws.items():
            evse = self.evses[evse_id]
            assert evse.ev is not None  # `draws_kw` only draws for EVSEs with a car
            energy_kwh = power_kw * self.meter_interval_s * self.speed / 3600
            room_kwh = evse.ev.room_kwh()
            if room_kwh is not None:
                energy_kwh = min(energy_kwh, room_kwh)
            evse.power_kw = power_kw
            evse.register_kwh += energy_kwh
            evse.ev.charge(energy_kwh)
            if online:
                await self._send_meter_value(evse, now)
                self.samples_sent += 1

    async def _send_meter_value(self, evse: SimulatedEvse, now: datetime) -> None:
        power_w, register_wh = round(evse.power_kw * WATTS_PER_KW, 1), round(evse.register_kwh * WH_PER_KWH, 1)
        sampled: list[dict[str, Any]]
        if self.version == "1.6":
            sampled = [
                {"value": str(power_w), "measurand": "Power.Active.Import", "unit": "W"},
                {"value": str(register_wh), "measurand": "Energy.Active.Import.Register", "unit": "Wh"},
            ]
            await self.call(
                call16.MeterValues(
                    connector_id=evse.evse_id,
                    transaction_id=int(evse.transaction_id) if evse.transaction_id else None,
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
                    transaction_info={"transaction_id": evse.transaction_id, "charging_state": "Charging"},
                    meter_value=[{"timestamp": to_iso(now), "sampledValue": sampled}],
                )
            )

    async def _meter_loop(self) -> None:
        """Draw and report every `meter_interval_s` until stopped (or replaced by a new connection's);
        while disconnected, draw only."""
        while not self._stopping.is_set():
            try:
                await self.send_meter_values()
            except TimeoutError:
                LOGGER.info("simulator %s: a meter report got no answer", self.station_id)
            except ConnectionClosed:
                LOGGER.info("simulator %s: disconnected; drawing on without reports", self.station_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.meter_interval_s)

    def _now(self) -> str:
        return to_iso(self.station.clock())

    def _next_seq_no(self) -> int:
        self._seq_no += 1
        return self._seq_no - 1

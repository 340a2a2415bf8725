"""OCPP 2.0.1 handlers: each translates its request into domain events and answers at once.

Id tokens are judged by the handler's `authorize` (by default every one is accepted).
NotifyChargingLimit (a limit set on the station by someone else: an EMS, the grid operator) is
logged as a warning, the charging limit it reports is not yet taken into the plan; reports
(NotifyReport, ReportChargingProfiles), security events, firmware status and DataTransfer are
logged and acknowledged. A
TransactionEvent names its EVSE in its first message only: the EVSE of each transaction is
remembered from there (across reconnections), to name the gun of later ones.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import after, on  # type: ignore[import-untyped]
from ocpp.v201 import ChargePoint as V201ChargePoint  # type: ignore[import-untyped]
from ocpp.v201 import call_result

from connectors.ocpp.charging_needs import charging_needs_from_v201
from connectors.ocpp.connection import StationHandler, wire
from connectors.ocpp.events import (
    SessionEnded,
    SessionStarted,
    SessionUpdated,
    StationBooted,
)
from connectors.ocpp.meter_values import samples_from_v201
from connectors.ocpp.parsing import is_int
from connectors.ocpp.status import gun_status_from_v201
from models.site import gun_id as make_gun_id

LOGGER = logging.getLogger(__name__)


class V201Station(StationHandler, V201ChargePoint):
    ocpp_version = "2.0.1"

    @on("BootNotification")
    def on_boot_notification(self, charging_station: dict[str, Any], reason: str, **_: Any) -> Any:
        self.sink.publish(
            StationBooted(
                self.station_id,
                "2.0.1",
                self.clock(),
                vendor=str(charging_station.get("vendor_name", "")),
                model=str(charging_station.get("model", "")),
                serial_number=charging_station.get("serial_number"),
                firmware_version=charging_station.get("firmware_version"),
            )
        )
        return call_result.BootNotification(
            current_time=self.now_iso(), interval=self.heartbeat_interval_s, status="Accepted"
        )

    @after("BootNotification")
    def after_boot_notification(self, **_: Any) -> None:
        self.in_background(self.learn_capabilities())

    @on("Heartbeat")
    def on_heartbeat(self, **_: Any) -> Any:
        return call_result.Heartbeat(current_time=self.now_iso())

    @on("StatusNotification")
    def on_status_notification(self, timestamp: str, connector_status: str, evse_id: int, **_: Any) -> Any:
        gun_status = gun_status_from_v201(connector_status)
        if gun_status is not None:
            gun = make_gun_id(self.station_id, evse_id)
            self.publish_status(gun, gun_status, self.instant(timestamp))
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_token: dict[str, Any], **_: Any) -> Any:
        return call_result.Authorize(id_token_info=self.id_token_info(id_token.get("id_token")))

    @on("TransactionEvent")
    def on_transaction_event(
        self, event_type: str, timestamp: str, transaction_info: dict[str, Any], **extra: Any
    ) -> Any:
        transaction_id = str(transaction_info.get("transaction_id", ""))
        evse = extra.get("evse")
        evse_id = evse.get("id") if isinstance(evse, dict) else None
        if is_int(evse_id):
            self.evse_of_transaction[transaction_id] = evse_id
        else:
            evse_id = self.evse_of_transaction.get(transaction_id)
        if evse_id is None:
            LOGGER.warning("%s: TransactionEvent of unknown transaction %s", self.station_id, transaction_id)
            return call_result.TransactionEvent()
        gun = make_gun_id(self.station_id, evse_id)
        at = self.instant(timestamp)
        payload = wire({"evse": {"id": evse_id}, "transaction_info": transaction_info, **extra})
        readings = samples_from_v201(payload, self.station_id, evse_id=evse_id, received_at=self.clock())
        token = extra.get("id_token")
        if event_type == "Started":
            id_token = token.get("id_token") if isinstance(token, dict) else None
            self.sink.publish(SessionStarted(gun, transaction_id, at, id_token=id_token))
        self.publish_samples(readings)
        if event_type == "Updated":
            status = gun_status_from_v201(None, transaction_info.get("charging_state"))
            self.sink.publish(SessionUpdated(gun, transaction_id, at, status=status))
        elif event_type == "Ended":
            self.evse_of_transaction.pop(transaction_id, None)
            self.obedience.transaction_ended(evse_id)
            self.sink.publish(SessionEnded(gun, transaction_id, at, reason=transaction_info.get("stopped_reason")))
        if not isinstance(token, dict):
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info=self.id_token_info(token.get("id_token")))

    @on("MeterValues")
    def on_meter_values(self, **fields: Any) -> Any:
        self.publish_samples(samples_from_v201(wire(fields), self.station_id, received_at=self.clock()))
        return call_result.MeterValues()

    @on("NotifyEVChargingNeeds")
    def on_notify_ev_charging_needs(self, **fields: Any) -> Any:
        needs = charging_needs_from_v201(wire(fields), self.station_id, self.clock())
        if needs is not None:
            self.sink.publish(needs)
        return call_result.NotifyEVChargingNeeds(status="Accepted")

    @on("NotifyChargingLimit")
    def on_notify_charging_limit(self, charging_limit: dict[str, Any], **extra: Any) -> Any:
        LOGGER.warning(
            "%s: EVSE %s is limited by %s (grid critical: %s); that limit is not taken into the plan",
            self.station_id,
            extra.get("evse_id", "all"),
            charging_limit.get("charging_limit_source"),
            charging_limit.get("is_grid_critical", False),
        )
        return call_result.NotifyChargingLimit()

    @on("ReportChargingProfiles")
    def on_report_charging_profiles(self, request_id: int, evse_id: int, charging_profile: list[Any], **_: Any) -> Any:
        LOGGER.info("%s: EVSE %s holds %d charging profile(s)", self.station_id, evse_id, len(charging_profile))
        return call_result.ReportChargingProfiles()

    @on("NotifyReport")
    def on_notify_report(self, request_id: int, seq_no: int, **extra: Any) -> Any:
        LOGGER.info(
            "%s: report %s part %s (%d entries)", self.station_id, request_id, seq_no, len(extra.get("report_data", []))
        )
        return call_result.NotifyReport()

    @on("SecurityEventNotification")
    def on_security_event_notification(self, **fields: Any) -> Any:
        LOGGER.warning(
            "%s: security event %s at %s %s",
            self.station_id,
            fields.get("type"),
            fields.get("timestamp"),
            fields.get("tech_info", ""),
        )
        return call_result.SecurityEventNotification()

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, status: str, **_: Any) -> Any:
        LOGGER.info("%s: firmware %s", self.station_id, status)
        return call_result.FirmwareStatusNotification()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **extra: Any) -> Any:
        LOGGER.info("%s: DataTransfer from vendor %r, message %r", self.station_id, vendor_id, extra.get("message_id"))
        return call_result.DataTransfer(status="UnknownVendorId")

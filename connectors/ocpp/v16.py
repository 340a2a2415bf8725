"""OCPP 1.6-J handlers: each translates its request into domain events and answers at once.

Id tags are judged by the handler's `authorize` (by default every one is accepted). DataTransfer is
answered UnknownVendorId (we speak no vendor extension); firmware and diagnostics status
notifications are logged, as nothing in smart charging depends on them.
Transaction ids are integers, as 1.6 wants; the connector of each transaction is remembered (across
reconnections) to name the gun of its StopTransaction, which does not say it.
"""

from __future__ import annotations

import logging
from typing import Any

from ocpp.routing import after, on  # type: ignore[import-untyped]
from ocpp.v16 import ChargePoint as V16ChargePoint  # type: ignore[import-untyped]
from ocpp.v16 import call_result

from connectors.ocpp.connection import StationHandler, wire
from connectors.ocpp.events import (
    SessionEnded,
    SessionStarted,
    StationBooted,
)
from connectors.ocpp.meter_values import read_meter_values, samples_from_v16
from connectors.ocpp.parsing import is_int
from connectors.ocpp.status import gun_status_from_v16
from models.site import gun_id as make_gun_id

LOGGER = logging.getLogger(__name__)
WH_PER_KWH = 1000.0


class V16Station(StationHandler, V16ChargePoint):
    ocpp_version = "1.6"

    @on("BootNotification")
    def on_boot_notification(self, charge_point_vendor: str, charge_point_model: str, **extra: Any) -> Any:
        self.sink.publish(
            StationBooted(
                self.station_id,
                "1.6",
                self.clock(),
                vendor=charge_point_vendor,
                model=charge_point_model,
                serial_number=extra.get("charge_point_serial_number"),
                firmware_version=extra.get("firmware_version"),
            )
        )
        return call_result.BootNotification(
            current_time=self.now_iso(), interval=self.heartbeat_interval_s, status="Accepted"
        )

    @after("BootNotification")
    def after_boot_notification(self, **_: Any) -> None:
        self.in_background(self.learn_capabilities())

    @on("Heartbeat")
    def on_heartbeat(self) -> Any:
        return call_result.Heartbeat(current_time=self.now_iso())

    @on("StatusNotification")
    def on_status_notification(self, connector_id: int, status: str, **extra: Any) -> Any:
        gun_status = gun_status_from_v16(status)
        if gun_status is not None:
            gun = make_gun_id(self.station_id, connector_id)
            self.publish_status(gun, gun_status, self.instant(extra.get("timestamp")))
        return call_result.StatusNotification()

    @on("Authorize")
    def on_authorize(self, id_tag: str) -> Any:
        return call_result.Authorize(id_tag_info=self.id_token_info(id_tag))

    @on("StartTransaction")
    def on_start_transaction(self, connector_id: int, id_tag: str, meter_start: int, timestamp: str, **_: Any) -> Any:
        transaction_id = next(self.transaction_ids)
        self.evse_of_transaction[str(transaction_id)] = connector_id
        self.sink.publish(
            SessionStarted(
                make_gun_id(self.station_id, connector_id),
                str(transaction_id),
                self.instant(timestamp),
                id_token=id_tag,
                meter_start_kwh=meter_start / WH_PER_KWH,
            )
        )
        return call_result.StartTransaction(transaction_id=transaction_id, id_tag_info=self.id_token_info(id_tag))

    @on("StopTransaction")
    def on_stop_transaction(self, meter_stop: int, timestamp: str, transaction_id: int, **extra: Any) -> Any:
        connector_id = self.evse_of_transaction.pop(str(transaction_id), None)
        if connector_id is None:
            LOGGER.warning("%s: StopTransaction of unknown transaction %s", self.station_id, transaction_id)
        gun = make_gun_id(self.station_id, connector_id if is_int(connector_id) else 0)
        data = wire(extra).get("transactionData")
        if data is not None:
            self.publish_samples(
                read_meter_values(data, gun, transaction_id=str(transaction_id), received_at=self.clock())
            )
        self.sink.publish(
            SessionEnded(
                gun,
                str(transaction_id),
                self.instant(timestamp),
                meter_stop_kwh=meter_stop / WH_PER_KWH,
                reason=extra.get("reason"),
            )
        )
        if is_int(connector_id):
            self.obedience.transaction_ended(connector_id)
        id_tag = extra.get("id_tag")
        return call_result.StopTransaction(id_tag_info=self.id_token_info(id_tag) if id_tag else None)

    @on("MeterValues")
    def on_meter_values(self, **fields: Any) -> Any:
        self.publish_samples(samples_from_v16(wire(fields), self.station_id, received_at=self.clock()))
        return call_result.MeterValues()

    @on("DataTransfer")
    def on_data_transfer(self, vendor_id: str, **extra: Any) -> Any:
        LOGGER.info("%s: DataTransfer from vendor %r, message %r", self.station_id, vendor_id, extra.get("message_id"))
        return call_result.DataTransfer(status="UnknownVendorId")

    @on("FirmwareStatusNotification")
    def on_firmware_status_notification(self, status: str) -> Any:
        LOGGER.info("%s: firmware %s", self.station_id, status)
        return call_result.FirmwareStatusNotification()

    @on("DiagnosticsStatusNotification")
    def on_diagnostics_status_notification(self, status: str) -> Any:
        LOGGER.info("%s: diagnostics %s", self.station_id, status)
        return call_result.DiagnosticsStatusNotification()

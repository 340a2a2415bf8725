"""Answering a CALL as the `ocpp` library does, without its per-message overheads.

Both ends of our OCPP connections are the library's `ChargePoint`: the endpoint's `StationHandler`
and the simulator's stations. Each takes `QuickCalls` first among its bases, so that its CALLs
are answered here rather than by `ChargePoint._handle_call`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ocpp.charge_point import (  # type: ignore[import-untyped]
    _raise_key_error,
    remove_nones,
    serialize_as_dict,
)
from ocpp.messages import Call  # type: ignore[import-untyped]

from connectors.ocpp.parsing import camel_case, snake_case
from connectors.ocpp.validation import check_payload

LOGGER = logging.getLogger(__name__)


class QuickCalls:
    """`ChargePoint._handle_call`, for handlers that are plain functions answering at once.

    As the library's: the request is checked against its schema, the `@on` handler gets its fields
    as snake_case keywords, its answer goes back in camelCase (checked too), then the `@after`
    handler runs. Unlike it, the schema checks are compiled (`validation.check_payload`), each
    field name's case is converted once (`parsing.snake_case`), and no handler's signature is
    inspected on every message (to offer `call_unique_id`, which none of ours takes): these were
    the largest costs of a message. Nothing here awaits a handler: the endpoint's hand work that
    waits to `in_background`, and the simulator's answer from their own state.
    """

    id: str
    route_map: dict[str, dict[str, Any]]
    _ocpp_version: str

    if TYPE_CHECKING:  # the `ChargePoint` this is mixed into sends

        async def _send(self, message: str) -> None: ...

    async def _handle_call(self, message: Call) -> None:
        handlers = self.route_map.get(message.action, {})
        if "_on_action" not in handlers:
            _raise_key_error(message.action, self._ocpp_version)
        validated = not handlers.get("_skip_schema_validation", False)
        if validated:
            await check_payload(message, self._ocpp_version)
        fields = snake_case(message.payload)
        try:
            answer = handlers["_on_action"](**fields)
        except Exception as error:
            LOGGER.exception("%s: handling %s failed", self.id, message.action)
            await self._send(message.create_call_error(error).to_json())
            return
        result = message.create_call_result(camel_case(remove_nones(serialize_as_dict(answer))))
        if validated:
            await check_payload(result, self._ocpp_version)
        await self._send(result.to_json())
        after = handlers.get("_after_action")
        if after is not None:
            after(**fields)

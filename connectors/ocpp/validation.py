"""Schema checks of OCPP payloads: compiled checks for the verdict "valid", the library's for the rest.

The `ocpp` library checks every payload with jsonschema's `Draft4Validator`: 220-300 us for a
SetChargingProfile, more than half of what the endpoint spends on a message. fastjsonschema turns
each schema into Python code once, and checks the same payload in under 20 us. A payload that check
passes is valid; one it refuses goes to the library's own check, which gives the verdict and raises
the OCPP error it always raised (so error codes and texts are the library's, word for word).

That split is sound only if the compiled check is at least as strict as the library's; it is
compiled to match it: as draft 4 (the library checks the 2.0.1 schemas, which name draft 6, as
draft 4, where 1.0 is no integer), without filling in defaults (the payload must stay as sent) and
without format checks (the library makes none). `tests/connectors/test_validation.py` holds it to
that over every schema, on payloads changed at random.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastjsonschema
import ocpp.messages  # type: ignore[import-untyped]
from ocpp.messages import Call, CallResult, MessageType, validate_payload

SCHEMAS = Path(ocpp.messages.__file__).parent
DRAFT_4 = "http://json-schema.org/draft-04/schema#"

Check = Callable[[Any], Any]


def check_on_the_loop() -> None:
    """Have the library check schemas on the event loop, not with a thread pool hop per message.

    The endpoint asks the library only about payloads its compiled checks refuse, but the
    simulated stations (the library's own `ChargePoint`) have it check every message, and there
    the hop cost more than the check: in a limit change at 1,000 simulated stations
    (bench/reaction.py under py-spy) the hop's threads took 70 s of CPU beside the fleet's 61 s on
    its loop. It is the library's setting for the whole process: the endpoint makes it when it
    starts, the simulator when a station connects.
    """
    ocpp.messages.ASYNC_VALIDATION = False


async def check_payload(message: Call | CallResult, ocpp_version: str) -> None:
    """Raise the `ocpp` library's error for `message`'s payload if its schema refuses it."""
    check = compiled_check(message.message_type_id, message.action, ocpp_version)
    if check is not None:
        try:
            check(message.payload)
        except fastjsonschema.JsonSchemaException:
            pass  # the library decides, and names the error
        else:
            return
    await validate_payload(message, ocpp_version)


@functools.cache
def compiled_check(message_type_id: int, action: str, ocpp_version: str) -> Check | None:
    """The compiled check of one action's request or response; None where no schema is shipped."""
    path = schema_path(message_type_id, action, ocpp_version)
    if not path.is_file():
        return None  # the library answers for an action it has no schema of
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    schema["$schema"] = DRAFT_4
    return fastjsonschema.compile(schema, use_default=False, use_formats=False)


def schema_path(message_type_id: int, action: str, ocpp_version: str) -> Path:
    """Where the `ocpp` package keeps the schema, named as its `get_validator` names it."""
    name = action
    if message_type_id == MessageType.CallResult:
        name += "Response"
    elif ocpp_version != "1.6":
        name += "Request"
    return SCHEMAS / f"v{ocpp_version.replace('.', '')}" / "schemas" / f"{name}.json"

"""The compiled schema checks are never more lenient than the `ocpp` library's own.

`check_payload` trusts a compiled check's "valid" and asks the library about the rest, so every
payload the compiled check of a shipped schema passes must pass the library's validator too. The
payloads: valid ones drawn from the schema itself, each with one value or key changed at random (a
wrong type, a bool for a number, 1.0 for an integer, a key too many, a required one gone, a string
too long). The valid ones come from `instances`, a few lines for the parts of JSON schema the OCPP
schemas use: hypothesis-jsonschema would do it, but its last release (0.23.1) fails on the
hypothesis we use ("'many' object has no attribute 'more'").
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from ocpp.exceptions import OCPPError
from ocpp.messages import Call, CallResult, MessageType, validate_payload

from connectors.ocpp.validation import SCHEMAS, check_payload, compiled_check, schema_path
from tests.connectors.payloads import JSON

VERSIONS = {"v16": "1.6", "v201": "2.0.1"}


def shipped() -> list[tuple[str, int, str, Path]]:
    """(version, message type, action, schema file) of every schema the library ships for our versions."""
    found = []
    for folder, version in VERSIONS.items():
        for path in sorted((SCHEMAS / folder / "schemas").glob("*.json")):
            name = path.stem
            if name.endswith("Response"):
                found.append((version, MessageType.CallResult, name.removesuffix("Response"), path))
            else:
                found.append((version, MessageType.Call, name.removesuffix("Request"), path))
    return found


SHIPPED = shipped()
SHIPPED_IDS = [f"{version}-{path.stem}" for version, _, _, path in SHIPPED]


def instances(schema: dict[str, Any], root: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Payloads `schema` (a part of `root`) admits, nearly always: the caller `assume`s the library agrees."""
    if "$ref" in schema:
        return instances(root["definitions"][schema["$ref"].rsplit("/", 1)[1]], root)
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "object":
        fields = schema.get("properties", {})
        required = set(schema.get("required", ()))
        return st.fixed_dictionaries(
            {name: instances(fields[name], root) for name in fields if name in required},
            optional={name: instances(field, root) for name, field in fields.items() if name not in required},
        )
    if kind == "array":
        least = schema.get("minItems", 0)
        return st.lists(
            instances(schema["items"], root), min_size=least, max_size=max(least, min(schema.get("maxItems", 3), 3))
        )
    if kind == "string":
        return st.text(max_size=schema.get("maxLength", 24))
    if kind == "integer":
        return st.integers(schema.get("minimum"), schema.get("maximum"))
    if kind == "number":
        if "multipleOf" in schema:
            return st.integers(-10_000, 10_000).map(lambda count: round(count * schema["multipleOf"], 6))
        return st.floats(schema.get("minimum"), schema.get("maximum"), allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return JSON


def message(message_type: int, action: str, payload: Any) -> Call | CallResult:
    if message_type == MessageType.Call:
        return Call("1", action, payload)
    return CallResult("1", payload, action)


def library_accepts(version: str, message_type: int, action: str, payload: Any) -> bool:
    try:
        asyncio.run(validate_payload(message(message_type, action, copy.deepcopy(payload)), version))
    except OCPPError:
        return False
    return True


def compiled_accepts(version: str, message_type: int, action: str, payload: Any) -> bool:
    check = compiled_check(message_type, action, version)
    assert check is not None
    try:
        check(payload)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


@pytest.mark.parametrize(("version", "message_type", "action", "path"), SHIPPED, ids=SHIPPED_IDS)
def test_every_shipped_schema_compiles_under_the_name_the_library_gives_it(
    version: str, message_type: int, action: str, path: Path
) -> None:
    assert schema_path(message_type, action, version) == path
    assert compiled_check(message_type, action, version) is not None


ODD_VALUES = JSON | st.sampled_from([True, False, 1.0, 0.5, -1, 10**12, "x" * 2000, None])


@st.composite
def mutations(draw: st.DrawFn, payload: Any) -> Any:
    """`payload` with one value replaced, one key or item added, or one dropped, anywhere in it."""
    changed = copy.deepcopy(payload)
    containers = list(containers_in(changed))
    if not containers:
        return draw(ODD_VALUES)
    node = draw(st.sampled_from(containers))
    keys = list(node) if isinstance(node, dict) else list(range(len(node)))
    how = draw(st.sampled_from(["replace", "add", "drop"] if keys else ["add"]))
    if how == "replace":
        node[draw(st.sampled_from(keys))] = draw(ODD_VALUES)
    elif how == "drop":
        node.pop(draw(st.sampled_from(keys)))
    elif isinstance(node, dict):
        node[draw(st.text(min_size=1, max_size=12))] = draw(ODD_VALUES)
    else:
        node.append(draw(ODD_VALUES))
    return changed


def containers_in(node: Any) -> Iterator[dict[str, Any] | list[Any]]:
    if isinstance(node, dict | list):
        yield node
        for child in node.values() if isinstance(node, dict) else node:
            yield from containers_in(child)


@pytest.mark.parametrize(("version", "message_type", "action", "path"), SHIPPED, ids=SHIPPED_IDS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_what_the_compiled_check_passes_the_library_passes(
    version: str, message_type: int, action: str, path: Path, data: st.DataObject
) -> None:
    schema = json.loads(path.read_text(encoding="utf-8-sig"))
    valid = data.draw(instances(schema, schema), label="valid")
    assume(library_accepts(version, message_type, action, valid))
    changed = data.draw(mutations(valid), label="changed")
    for payload in (valid, changed):
        if compiled_accepts(version, message_type, action, payload):
            assert library_accepts(version, message_type, action, payload), payload


@pytest.mark.parametrize(
    "payload",
    [
        {"connectorId": 1.0, "errorCode": "NoError", "status": "Available"},  # 1.0 is no integer in draft 4
        {"connectorId": True, "errorCode": "NoError", "status": "Available"},
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "extra": 1},
        {"connectorId": 1, "errorCode": "NoError"},
        {"connectorId": 1, "errorCode": "NoError", "status": "Available", "info": "x" * 51},
    ],
)
def test_a_refused_payload_gets_the_library_error(payload: dict[str, Any]) -> None:
    expected = None
    try:
        asyncio.run(validate_payload(Call("1", "StatusNotification", copy.deepcopy(payload)), "1.6"))
    except OCPPError as error:
        expected = error
    assert expected is not None
    with pytest.raises(type(expected)) as raised:
        asyncio.run(check_payload(Call("1", "StatusNotification", payload), "1.6"))
    assert str(raised.value) == str(expected)


def test_the_integer_of_a_2_0_1_schema_is_checked_as_draft_4() -> None:
    """The 2.0.1 schemas name draft 6, where 1.0 is an integer; the library checks them as draft 4."""
    payload = {"evseId": 1.0, "chargingProfile": {}}
    assert not compiled_accepts("2.0.1", MessageType.Call, "SetChargingProfile", payload)
    assert not library_accepts("2.0.1", MessageType.Call, "SetChargingProfile", payload)

"""The endpoint's remembered key case conversion spells every OCPP field as the ocpp library does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ocpp  # type: ignore[import-untyped]
from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case  # type: ignore[import-untyped]

from connectors.ocpp.parsing import camel_case, snake_case

SCHEMAS = sorted(Path(ocpp.__file__).parent.glob("v*/schemas/*.json"))


def field_names(schema: Any) -> Iterator[str]:
    """Every property name anywhere in a JSON schema."""
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from field_names(value)
    elif isinstance(schema, list):
        for value in schema:
            yield from field_names(value)


def test_the_library_ships_schemas_of_both_versions() -> None:
    assert any("v16" in path.parts for path in SCHEMAS)
    assert any("v201" in path.parts for path in SCHEMAS)


def test_every_field_of_every_schema_converts_as_the_library_does() -> None:
    names = {name for path in SCHEMAS for name in field_names(json.loads(path.read_text(encoding="utf-8")))}
    assert len(names) > 300
    payload = {name: index for index, name in enumerate(sorted(names))}
    assert snake_case(payload) == camel_to_snake_case(payload)
    snake = camel_to_snake_case(payload)
    assert camel_case(snake) == snake_to_camel_case(snake)


def test_nested_lists_and_dicts_convert_at_every_depth_twice_alike() -> None:
    payload = {
        "meterValue": [{"sampledValue": [{"unitOfMeasure": {"unit": "W"}, "value": 1.0}], "timestamp": "t"}],
        "evseId": 1,
        "customData": {"vendorId": "x", "someVendorField": [{"innerKey": None}]},
    }
    for _ in range(2):  # the second pass reads the remembered names
        assert snake_case(payload) == camel_to_snake_case(payload)
        assert camel_case(snake_case(payload)) == snake_to_camel_case(camel_to_snake_case(payload))
    assert snake_case(payload)["meter_value"][0]["sampled_value"][0]["unit_of_measure"] == {"unit": "W"}

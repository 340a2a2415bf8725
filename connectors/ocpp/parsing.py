"""Tolerant readers of the JSON values stations send, and the one timestamp form we write.

Shared by the translation modules: none of these raises on what a station sends.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, Literal, TypeGuard

from ocpp.charge_point import camel_to_snake_case, snake_to_camel_case  # type: ignore[import-untyped]

OcppVersion = Literal["1.6", "2.0.1"]
NOMINAL_VOLTAGE_V = 230.0
"""Phase-to-neutral voltage assumed where a station does not measure it."""
KEYS_REMEMBERED = 4096
"""Field names whose case conversion is kept: the OCPP schemas name a few hundred, but 2.0.1
`customData` lets a station send any, so the memory stays bounded."""


def is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def read_number(value: object) -> float | None:
    """A finite number from a JSON number or a numeric string (1.6 sends strings), else None.

    Also from a `Decimal`: the ocpp library hands over 1.6 schedules (SetChargingProfile,
    GetCompositeSchedule answers) with their numbers parsed as decimals, to check their precision.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def parse_time(value: object, warnings: list[str], gun_id: str) -> datetime | None:
    """An ISO 8601 timestamp; one without a zone is taken as UTC (with a warning)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        warnings.append(f"{gun_id}: timestamp {value!r} is not ISO 8601")
        return None
    if parsed.tzinfo is None:
        warnings.append(f"{gun_id}: timestamp {value!r} has no time zone; taken as UTC")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def to_iso(instant: datetime) -> str:
    """UTC, whole seconds, `Z`: the form every station parses."""
    return instant.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@lru_cache(maxsize=KEYS_REMEMBERED)
def _snake_key(key: str) -> str:
    return next(iter(camel_to_snake_case({key: None})))


@lru_cache(maxsize=KEYS_REMEMBERED)
def _camel_key(key: str) -> str:
    return next(iter(snake_to_camel_case({key: None})))


def snake_case(data: Any) -> Any:
    """`data` with every dict key in snake_case, as the ocpp library spells its keywords.

    The library's own conversion, each key converted once: it runs two regular expressions on every
    key of every message, one of an endpoint's largest costs per message (bench/ocpp_ingest.py).
    """
    if isinstance(data, dict):
        return {_snake_key(key): snake_case(value) for key, value in data.items()}
    if isinstance(data, list):
        return [snake_case(value) for value in data]
    return data


def camel_case(data: Any) -> Any:
    """`data` with every dict key in camelCase, as OCPP spells it (the inverse of `snake_case`)."""
    if isinstance(data, dict):
        return {_camel_key(key): camel_case(value) for key, value in data.items()}
    if isinstance(data, list):
        return [camel_case(value) for value in data]
    return data

"""Tolerant readers of the JSON values stations send, and the one timestamp form we write.

Shared by the translation modules: none of these raises on what a station sends.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from typing import Literal, TypeGuard

OcppVersion = Literal["1.6", "2.0.1"]
NOMINAL_VOLTAGE_V = 230.0
"""Phase-to-neutral voltage assumed where a station does not measure it."""


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

"""Station domain types: meter samples, gun status, capabilities and version-neutral profiles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

import models
from models import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    GunStatus,
    MeterSample,
    ProfilePurpose,
    RateUnit,
    Recurrency,
    ScheduleKind,
    StationCapabilities,
)

NOW = datetime(2024, 1, 15, 12, tzinfo=UTC)


def schedule(**changes: object) -> ChargingLimitSchedule:
    fields: dict[str, object] = {
        "profile_id": 1,
        "purpose": ProfilePurpose.TX,
        "stack_level": 0,
        "start": NOW,
        "rate_unit": RateUnit.A,
        "periods": [ChargingLimitPeriod(start_offset_s=0, limit=16), ChargingLimitPeriod(start_offset_s=900, limit=8)],
    }
    fields.update(changes)
    return ChargingLimitSchedule.model_validate(fields)


def test_the_station_types_are_exported() -> None:
    for name in ("MeterSample", "GunStatus", "StationCapabilities", "ChargingLimitPeriod", "ChargingLimitSchedule"):
        assert name in models.__all__


def test_a_meter_sample_needs_only_gun_and_time_and_lists_measured_currents() -> None:
    sample = MeterSample(gun_id="AC01/1", timestamp=NOW)
    assert sample.power_kw is None
    assert sample.current_a == {}
    full = MeterSample(gun_id="AC01/2", timestamp=NOW, power_kw=7.4, current_l1_a=16, current_l3_a=15.5, soc_percent=40)
    assert full.current_a == {"L1": 16, "L3": 15.5}


@pytest.mark.parametrize(
    "changes",
    [
        {"timestamp": datetime(2024, 1, 15, 12)},  # naive
        {"gun_id": "AC01"},  # no EVSE
        {"power_kw": -1.0},
        {"current_l2_a": -0.1},
        {"energy_kwh": -5.0},
        {"soc_percent": 101.0},
        {"voltage_v": 230.0},  # not a field
    ],
)
def test_a_meter_sample_rejects_what_cannot_be(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        MeterSample.model_validate({"gun_id": "AC01/1", "timestamp": NOW, **changes})


def test_gun_status_covers_both_versions() -> None:
    assert {status.value for status in GunStatus} == {
        "available",
        "preparing",
        "charging",
        "suspended_ev",
        "suspended_evse",
        "finishing",
        "reserved",
        "unavailable",
        "faulted",
        "occupied",
    }


def test_capabilities_default_to_the_least_and_forget_a_rejected_unit() -> None:
    capabilities = StationCapabilities(ocpp_version="1.6")
    assert capabilities.rate_units == {RateUnit.A, RateUnit.W}
    assert capabilities.max_periods_per_schedule == 1
    assert capabilities.max_stack_level == 0
    watt_only = capabilities.without_rate_unit(RateUnit.A)
    assert watt_only.rate_units == {RateUnit.W}
    assert watt_only.without_rate_unit(RateUnit.W) == watt_only  # never left with none
    with pytest.raises(ValidationError):
        StationCapabilities(ocpp_version="2.0", max_periods_per_schedule=5)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        StationCapabilities(ocpp_version="2.0.1", rate_units=frozenset())


def test_a_schedule_is_consistent() -> None:
    assert schedule().periods[1].limit == 8
    relative = schedule(kind=ScheduleKind.RELATIVE, start=None)
    assert relative.start is None
    recurring = schedule(kind=ScheduleKind.RECURRING, recurrency=Recurrency.DAILY, purpose=ProfilePurpose.TX_DEFAULT)
    assert recurring.recurrency is Recurrency.DAILY


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"periods": [ChargingLimitPeriod(start_offset_s=60, limit=16)]}, "offset 0"),
        (
            {
                "periods": [
                    ChargingLimitPeriod(start_offset_s=0, limit=1),
                    ChargingLimitPeriod(start_offset_s=0, limit=2),
                ]
            },
            "increase",
        ),
        ({"periods": []}, "at least 1"),
        ({"kind": ScheduleKind.RELATIVE}, "no start"),
        ({"start": None}, "needs a start"),
        ({"kind": ScheduleKind.RECURRING}, "recurrency"),
        ({"recurrency": Recurrency.WEEKLY}, "recurrency"),
        ({"purpose": ProfilePurpose.TX_DEFAULT, "transaction_id": "7"}, "transaction"),
        ({"valid_from": NOW, "valid_to": NOW}, "valid_to"),
        ({"stack_level": -1}, "greater than or equal"),
        ({"duration_s": 0}, "greater than"),
    ],
)
def test_a_schedule_rejects_what_no_station_could_apply(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        schedule(**changes)


def test_validity_is_half_open() -> None:
    windowed = schedule(valid_from=NOW, valid_to=NOW + timedelta(hours=1))
    assert not windowed.valid_at(NOW - timedelta(seconds=1))
    assert windowed.valid_at(NOW)
    assert windowed.valid_at(NOW + timedelta(minutes=59))
    assert not windowed.valid_at(NOW + timedelta(hours=1))
    assert schedule().valid_at(datetime(1999, 1, 1, tzinfo=UTC))

"""Domain types shared by every part of gridcharge.

Units are in the names (`_kw`, `_a`, `_kwh`, `_v`, `_h`), datetimes are time-zone aware, and
this package imports nothing else of ours.
"""

from models.allocation import Allocation, GunLimit, SolveStatus
from models.errors import GridchargeError, SiteDefinitionError, SnapshotError
from models.session import Session
from models.site import Gun, GunKind, LimitNode, Phase, RateUnit, Site
from models.snapshot import SiteSnapshot
from models.station import (
    ChargingLimitPeriod,
    ChargingLimitSchedule,
    GunStatus,
    MeterSample,
    ProfilePurpose,
    Recurrency,
    ScheduleKind,
    StationCapabilities,
)
from models.tariff import LimitSeries, LimitStep, PriceSeries, PriceStep, TimeOfUseBand, TimeOfUseTariff

__all__ = [
    "Allocation",
    "ChargingLimitPeriod",
    "ChargingLimitSchedule",
    "GridchargeError",
    "Gun",
    "GunKind",
    "GunLimit",
    "GunStatus",
    "LimitNode",
    "LimitSeries",
    "LimitStep",
    "MeterSample",
    "Phase",
    "PriceSeries",
    "PriceStep",
    "ProfilePurpose",
    "RateUnit",
    "Recurrency",
    "ScheduleKind",
    "Session",
    "Site",
    "SiteDefinitionError",
    "SiteSnapshot",
    "SnapshotError",
    "SolveStatus",
    "StationCapabilities",
    "TimeOfUseBand",
    "TimeOfUseTariff",
]

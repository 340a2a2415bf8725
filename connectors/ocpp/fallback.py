"""What a station may draw while nobody steers it: the profiles sent once its capabilities are known.

A station that loses its connection to us keeps applying the profiles it holds. So at boot, before
any plan reaches it, it gets two: a tx default profile on EVSE 0 (every gun's share, in force for
any transaction without a tx profile of its own) and a station cap (ChargePointMaxProfile /
ChargingStationMaxProfile) for the station as a whole. The cap keeps the total within limits even
when the shares assumed a wrong number of guns. Later plans override the tx default per gun (an
EVSE's own profile wins over EVSE 0's at the same stack level) and never lift the cap. A station
that has an offline-fallback setting of its own gets the station's fallback written into it too
(`offline_kw` / `offline_a`, see `offline_fallback`).

A `BootLimitsPolicy` decides both from the station id and its capabilities; `share_among_guns`
is the default: one limit for the station, divided among the guns it says it has.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime

from connectors.ocpp.profiles import default_profile_id, profile_for_gun, station_cap_profile
from models import ChargingLimitSchedule, Gun, ProfilePurpose, RateUnit, StationCapabilities
from models.units import power_to_current_a


@dataclass(frozen=True)
class BootLimits:
    """`station_limit_kw`: the station cap; `gun_limit_kw`: each gun's tx default. None: not sent.

    `phases` and `voltage_v` express the limits in amperes for stations that take only those.
    `offline_kw` and `offline_a` (on each phase) are what the station may draw in all once it has
    lost us, for its own offline-fallback setting, if it has one; None: not written.
    """

    station_limit_kw: float | None = None
    gun_limit_kw: float | None = None
    phases: int = 3
    voltage_v: float = 230.0
    offline_kw: float | None = None
    offline_a: float | None = None


BootLimitsPolicy = Callable[[str, StationCapabilities], BootLimits | None]
"""(station id, capabilities) -> the limits to send at boot; None sends nothing."""


def share_among_guns(limit_kw: float) -> BootLimitsPolicy:
    """`limit_kw` for the station (its cap, and offline on 3 phases at 230 V), and an equal share
    of it for each gun it says it has (else all)."""

    def policy(station_id: str, capabilities: StationCapabilities) -> BootLimits:
        guns = capabilities.evse_count or 1
        limits = BootLimits(station_limit_kw=limit_kw, gun_limit_kw=limit_kw / guns, offline_kw=limit_kw)
        return replace(limits, offline_a=power_to_current_a(limit_kw, limits.voltage_v, limits.phases))

    return policy


def boot_profiles(
    limits: BootLimits, station_id: str, capabilities: StationCapabilities, start: datetime
) -> list[ChargingLimitSchedule]:
    """The station cap and the tx default, both for EVSE 0, compiled for the station's capabilities.

    A limit between 0 and a gun's minimum current becomes 0 (charging paused), as for any profile.
    """
    profiles: list[ChargingLimitSchedule] = []
    if limits.station_limit_kw is not None:
        profiles.append(
            station_cap_profile(
                limits.station_limit_kw, capabilities, start, voltage_v=limits.voltage_v, phases=limits.phases
            )
        )
    if limits.gun_limit_kw is not None:
        # a stand-in for every gun: AC in amperes unless the station takes watts only
        unit = RateUnit.A if RateUnit.A in capabilities.rate_units else RateUnit.W
        every_gun = Gun(
            station_id=station_id,
            max_power_kw=1_000.0,  # not read when compiling; any gun's rating lies below
            phases=3 if limits.phases == 3 else 1,
            voltage_v=limits.voltage_v,
            rate_unit=unit,
        )
        profiles.append(
            profile_for_gun(
                [(start, limits.gun_limit_kw)],
                every_gun,
                capabilities,
                purpose=ProfilePurpose.TX_DEFAULT,
                profile_id=default_profile_id(ProfilePurpose.TX_DEFAULT, 0),
            )
        )
    return profiles

"""The real Caltech ACN garage: a month of sessions (March 2019) and the site they ran on.

Source: Z. J. Lee, T. Li, S. H. Low, "ACN-Data: Analysis and Applications of an Open EV Charging
Dataset", ACM e-Energy 2019; sessions converted from caltech-netlab/acnportal-experiments (BSD
licence, notice in `data/acn_caltech_2019-03_sessions.NOTICE.txt`, shipped beside the CSV).

The garage has 54 level-2 EVSEs of 6.6 kW at 208 V behind a 150 kVA transformer; 47 of them saw
sessions that month. Station ids and their line pairs (AB, BC, CA) are those of acnportal's
`CaltechACN` network. Each EVSE is wired line to line (208 V between two phases); our limit tree
knows single-phase loads between a phase and neutral only, so a gun is modelled as single-phase at
208 V on the first phase of its pair. The kW limit at the root (the transformer, 150 kVA taken as
150 kW at unity power factor) is exact under that model; per-phase currents are not, so the site
carries no ampere limit. The two 8-EVSE pods that acnportal limits to 80 A each are not modelled.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources

import pandas as pd

from models import Gun, LimitNode, Phase, Site
from models.site import gun_id

CSV_NAME = "acn_caltech_2019-03_sessions.csv"
TIMEZONE = "America/Los_Angeles"
GUN_KW = 6.6
VOLTAGE_V = 208.0
TRANSFORMER_KW = 150.0

_CLIPPER_CREEK_POD = (322, 493, 496, 320, 495, 321, 323, 494)
_AEROVIRONMENT_POD = (324, 325, 326, 327, 489, 490, 491, 492)
_LINE_PAIRS: dict[Phase, tuple[int, ...]] = {
    "L1": (308, 508, 303, 513, 310, 506, 316, 500, 318, 498, *_CLIPPER_CREEK_POD, *_AEROVIRONMENT_POD),  # AB
    "L2": (304, 512, 305, 511, 313, 503, 311, 505, 317, 499, 148, 149, 212, 213),  # BC
    "L3": (307, 509, 309, 507, 306, 510, 315, 501, 319, 497, 312, 504, 314, 502),  # CA
}


def caltech_site(limit_kw: float | None = TRANSFORMER_KW) -> Site:
    """The 54 EVSEs of 6.6 kW at 208 V under one grid connection of `limit_kw` (None: unlimited)."""
    guns = [
        Gun(station_id=f"CA-{number}", max_power_kw=GUN_KW, phases=1, phase=phase, voltage_v=VOLTAGE_V)
        for phase, numbers in _LINE_PAIRS.items()
        for number in numbers
    ]
    return Site(id="caltech-acn", timezone=TIMEZONE, root=LimitNode(id="transformer", limit_kw=limit_kw, guns=guns))


def load_caltech_sessions(
    start: datetime | pd.Timestamp | str | None = None, end: datetime | pd.Timestamp | str | None = None
) -> pd.DataFrame:
    """The month's sessions in the form `optimizer.plan()` and `simulate()` take.

    Columns: session_id, gun ("CA-xxx/1"), arrival, departure (aware, UTC: the CSV's local times
    carry their offsets across the change to daylight saving time on 10 March), energy_kwh (what
    the car took, uncontrolled: the request to meet). `start`/`end` (aware, or naive meaning the
    site's local time) keep the sessions arriving in [start, end).
    """
    with resources.files(__package__).joinpath("data", CSV_NAME).open("r", encoding="utf-8") as handle:
        raw = pd.read_csv(handle)
    frame = pd.DataFrame(
        {
            "session_id": raw["session_id"].astype(str),
            "gun": [gun_id(station) for station in raw["station_id"]],
            "arrival": pd.to_datetime(raw["arrival"], utc=True),
            "departure": pd.to_datetime(raw["departure"], utc=True),
            "energy_kwh": raw["energy_kwh"].astype(float),
        }
    )
    if start is not None:
        frame = frame[frame["arrival"] >= _utc(start)]
    if end is not None:
        frame = frame[frame["arrival"] < _utc(end)]
    return frame.sort_values(["arrival", "gun"]).reset_index(drop=True)


def _utc(moment: datetime | pd.Timestamp | str) -> pd.Timestamp:
    stamp = pd.Timestamp(moment)
    return stamp.tz_localize(TIMEZONE) if stamp.tzinfo is None else stamp.tz_convert("UTC")

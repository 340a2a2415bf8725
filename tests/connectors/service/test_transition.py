"""Rises sent along with falls (`push.TransitionRoom`): only those that keep every node within its limit
while the falls are still drawn at their old limits; end to end, the stations' limits never add up
to more than the site's, counting a fall only once the cars had `follow_s` to follow it."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from connectors.app import running_service
from connectors.ocpp.profiles import profile_for_gun
from connectors.push import Push, TransitionRoom
from connectors.settings import SchedulerSection, SessionDefaults
from connectors.simulator.charge_point import SimulatedChargePoint
from connectors.simulator.profiles import Verdict
from connectors.store.protocol import SessionOverride
from models import ChargingLimitSchedule, Gun, GunLimit, ProfilePurpose, StationCapabilities
from tests.connectors.service.fleet import TOLERANCE_KW, depot, fast_settings, fleet, until, with_root_limit

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
UNTIL = NOW + timedelta(seconds=10)
GUNS = [Gun(station_id=f"CP{index}", max_power_kw=22.0) for index in range(6)]
A_PER_KW = 1000 / 230  # the most a kW puts on one phase of these guns (a single-phase car on L1)


def push(gun: Gun, limit_kw: float, later_kw: Sequence[tuple[datetime, float]] = ()) -> Push:
    schedule = profile_for_gun(
        [(NOW, limit_kw), *later_kw],
        gun,
        StationCapabilities(ocpp_version="2.0.1"),
        purpose=ProfilePurpose.TX,
        transaction_id="T",
    )
    return Push(gun, "T", GunLimit(limit_kw, None, 3), list(later_kw), schedule, NOW + timedelta(minutes=15))


def room(
    held_kw: dict[str, float],
    planned_kw: dict[str, float],
    headroom_kw: dict[str, float],
    headroom_a: dict[str, float] | None = None,
) -> TransitionRoom:
    """Guns 0-2 under feeder "a", 3-5 under feeder "b", both under "grid"."""
    ancestors = {gun.id: ["grid", "a" if index < 3 else "b"] for index, gun in enumerate(GUNS)}
    return TransitionRoom(
        headroom_kw=headroom_kw,
        headroom_a=headroom_a or {},
        ancestors=ancestors,
        planned_kw=planned_kw,
        may_draw_kw=held_kw,
        a_per_kw=dict.fromkeys(ancestors, A_PER_KW),
        until=UNTIL,
    )


def test_a_rise_goes_with_the_falls_only_while_the_falls_still_drawn_leave_room_for_it() -> None:
    """56 kW: two guns fall 10 -> 6, two rise 10 -> 22. With the falls still at 10, one rise fits (52 kW),
    both would not (64 kW)."""
    guns = GUNS[:4]
    held = {gun.id: 10.0 for gun in guns}
    planned = {guns[0].id: 22.0, guns[1].id: 22.0, guns[2].id: 6.0, guns[3].id: 6.0}
    transition = room(held, planned, {"grid": 0.0})
    rises = [push(guns[0], 22.0), push(guns[1], 22.0)]
    assert transition.fitting_rises([push(guns[2], 6.0), push(guns[3], 6.0)], rises) == rises[:1]


def test_rises_that_exactly_fill_the_room_all_fit_whatever_the_rounding() -> None:
    """1,000 guns rise 6.1 -> 9.3 kW into a plan that fills the grid: the room the guns still below
    their plans leave is the rises' to the last one, though its float sums are off by picowatts."""
    guns = [Gun(station_id=f"R{index}", max_power_kw=22.0) for index in range(1000)]
    transition = TransitionRoom(
        headroom_kw={"grid": 0.0},
        headroom_a={},
        ancestors={gun.id: ["grid"] for gun in guns},
        planned_kw={gun.id: 9.3 for gun in guns},
        may_draw_kw={gun.id: 6.1 for gun in guns},
        a_per_kw={gun.id: A_PER_KW for gun in guns},
        until=UNTIL,
    )
    rises = [push(gun, 9.3) for gun in guns]
    assert transition.fitting_rises([], rises) == rises


def test_an_idle_guns_tx_default_and_a_later_step_of_a_fall_count() -> None:
    guns = GUNS[:3]
    held = {guns[0].id: 5.0, guns[1].id: 10.0, guns[2].id: 4.0}  # guns[2] is idle: its tx default
    planned = {guns[0].id: 9.0, guns[1].id: 6.0}
    rise = push(guns[0], 9.0)
    # 8 kW of headroom: the fall (4 kW above its plan) and the idle gun (4 kW, none in the plan) take
    # 8, the rise not sent yet gives 4 back (4 kW below its plan): its 4 kW just fit
    assert room(held, planned, {"grid": 8.0}).fitting_rises([push(guns[1], 6.0)], [rise]) == [rise]
    # the fall's profile goes up to 11 kW within the transition: 1 kW more than it held, no room left
    fall = push(guns[1], 6.0, [(NOW + timedelta(seconds=5), 11.0)])
    assert room(held, planned, {"grid": 8.0}).fitting_rises([fall], [rise]) == []


def test_a_per_phase_limit_gets_no_credit_from_a_gun_below_its_plan() -> None:
    """The fall draws 4 kW above its plan: 3 kW of headroom hold it in kW, where the two guns below their
    plans (4 kW each) make up for it, but not on a phase, which those may not load."""
    guns = GUNS[:3]
    held = {guns[0].id: 5.0, guns[1].id: 10.0, guns[2].id: 10.0}
    planned = {guns[0].id: 9.0, guns[1].id: 6.0, guns[2].id: 14.0}  # guns[2] rises later, guns[0] now
    rise = push(guns[0], 9.0)
    assert room(held, planned, {"a": 3.0}).fitting_rises([push(guns[1], 6.0)], [rise]) == [rise]
    in_amperes = room(held, planned, {}, {"a": 3.0 * A_PER_KW})
    assert in_amperes.fitting_rises([push(guns[1], 6.0)], [rise]) == []


def test_a_gun_of_no_node_or_of_unknown_draw_blocks_what_it_could_overload() -> None:
    guns = GUNS[:2]
    planned = {guns[0].id: 9.0, guns[1].id: 6.0}
    rise = push(guns[0], 9.0)
    unknown = room({guns[0].id: 5.0}, planned, {"grid": 100.0})  # guns[1]'s draw unknown: no room
    assert unknown.fitting_rises([push(guns[1], 6.0)], [rise]) == []
    unplaced = replace(room({guns[0].id: 5.0, guns[1].id: 10.0}, planned, {"grid": 100.0}), ancestors={})
    assert unplaced.fitting_rises([], [rise]) == []


@given(
    held_kw=st.lists(st.floats(0.0, 22.0), min_size=6, max_size=6),
    new_kw=st.lists(st.floats(0.0, 22.0), min_size=6, max_size=6),
    slack_kw=st.tuples(st.floats(-10.0, 30.0), st.floats(-10.0, 30.0), st.floats(-10.0, 30.0)),
    per_phase=st.booleans(),
)
def test_every_node_holds_what_may_be_drawn_while_the_fitting_rises_go_with_the_falls(
    held_kw: list[float], new_kw: list[float], slack_kw: tuple[float, float, float], per_phase: bool
) -> None:
    """At each node: the plan's load plus, per gun, what it may draw beyond its plan (a fall and a rise sent
    at the larger of old and new, a rise held back at its old limit), within the node's limit."""
    held = {gun.id: kw for gun, kw in zip(GUNS, held_kw, strict=True)}
    planned = {gun.id: kw for gun, kw in zip(GUNS, new_kw, strict=True)}
    headroom = dict(zip(("grid", "a", "b"), slack_kw, strict=True))
    transition = room(held, planned, {} if per_phase else headroom, headroom if per_phase else None)
    falls = [push(gun, planned[gun.id]) for gun in GUNS if planned[gun.id] < held[gun.id]]
    rises = [push(gun, planned[gun.id]) for gun in GUNS if planned[gun.id] >= held[gun.id]]
    early = {item.gun.id for item in transition.fitting_rises(falls, rises)}
    sent = early | {item.gun.id for item in falls}
    for node, node_headroom in headroom.items():
        under = [gun.id for gun in GUNS if node in transition.ancestors[gun.id]]
        if not early & set(under):
            continue  # no rise went early under this node: what it may draw is the falls' business
        extra_kw, extra_a = 0.0, 0.0
        for gun_id in under:
            drawn_kw = max(held[gun_id], planned[gun_id]) if gun_id in sent else held[gun_id]
            extra_kw += drawn_kw - planned[gun_id]
            extra_a += max(drawn_kw - planned[gun_id], 0.0) * A_PER_KW
        assert (extra_a if per_phase else extra_kw) <= node_headroom + 1e-6


# -- end to end ----------------------------------------------------------------------------------

FOLLOW_S = 1.0


class Installs:
    """Every station's limit from each profile it accepted on: (monotonic s, station, kW)."""

    def __init__(self, stations: Sequence[SimulatedChargePoint]) -> None:
        self.log: list[tuple[float, str, float]] = []
        for station in stations:
            self._watch(station)

    def _watch(self, station: SimulatedChargePoint) -> None:
        store, install = station.store, station.store.install

        def recording(evse_id: int, schedule: ChargingLimitSchedule) -> Verdict:
            verdict = install(evse_id, schedule)
            limit_w = store.limit_at(station.evse_id, datetime.now(UTC))  # the profile wins over the tx defaults
            self.log.append((time.monotonic(), station.station_id, math.inf if limit_w is None else limit_w / 1000))
            return verdict

        store.install = recording  # type: ignore[method-assign]

    def most_drawn_kw(self, since: float, initial_kw: dict[str, float]) -> list[float]:
        """At each install from `since` on, the sum over stations of the most each may draw: a limit
        it held within the last `FOLLOW_S` (its car may not have followed a fall yet) or holds now."""
        totals = []
        for at, _, _ in (entry for entry in self.log if entry[0] >= since):
            total = 0.0
            for station_id, start_kw in initial_kw.items():
                held = [(when, kw) for when, name, kw in self.log if name == station_id and when <= at]
                now_kw = held[-1][1] if held else start_kw
                recent = [kw for when, kw in held if at - FOLLOW_S <= when]
                earlier = [kw for when, kw in held if when < at - FOLLOW_S]
                total += max([now_kw, *recent, *(earlier[-1:] or [start_kw])])
            totals.append(total)
        return totals


def test_rises_that_fit_go_with_the_falls_and_the_site_never_exceeds_its_limit(tmp_path: Path) -> None:
    """40 kW for four cars (10 kW each); then two of them get priority and the limit rises to 56 kW: they
    rise to 22 kW, the others fall to 12 kW together. While the falls are followed, one rise fits (52 kW),
    not two (64 kW): the second must wait until the cars had `follow_s` to follow the falls."""
    site = depot(4, limit_kw=40.0)
    settings = fast_settings(
        tmp_path,
        site,
        sessions=SessionDefaults(energy_kwh=80.0, stay_s=3600.0),
        scheduler=SchedulerSection(
            interval_s=60.0, debounce_s=0.1, ack_timeout_s=2.0, follow_s=FOLLOW_S, profile_hold_s=60.0
        ),
    )
    gun_ids = list(site.guns())

    async def scenario() -> None:
        async with running_service(settings, api=False) as running:
            runtime, store = running.runtime, running.runtime.store
            async with fleet(running, ["CP00", "CP01", "CP02", "CP03"]) as stations:

                def steered(limits_kw: Sequence[float]) -> bool:
                    """The first guns hold `limits_kw`, the others share the rest of the limit."""
                    held = [runtime.state.guns[gun_id].held for gun_id in gun_ids]
                    firsts = zip(held, limits_kw, strict=False)
                    return all(item is not None for item in held) and all(
                        item is not None and abs(item.limit_kw - kw) < 0.2 for item, kw in firsts
                    )

                await until(lambda: steered([10.0] * 4), 10.0, "10 kW each")
                await until(lambda: not runtime.scheduler.runs.busy(site.id), 10.0, "the plug-in runs over")
                now = datetime.now(UTC)
                held = {station.station_id: station.store.limit_at(station.evse_id, now) for station in stations}
                initial_kw = {name: math.inf if limit_w is None else limit_w / 1000 for name, limit_w in held.items()}
                installs = Installs(stations)
                changed = time.monotonic()
                for gun_id in gun_ids[:2]:
                    session = runtime.state.guns[gun_id].session
                    assert session is not None
                    await store.put_session_override(SessionOverride(session.transaction_id, priority=10.0))
                await store.put_site(with_root_limit(site, 56.0))
                await runtime.site_changed(site.id)

                await until(lambda: steered([22.0, 22.0]), 10.0, "22 kW for the priority cars")
                totals = installs.most_drawn_kw(changed, initial_kw)
                assert totals
                assert max(totals) <= 56.0 + TOLERANCE_KW

    asyncio.run(asyncio.wait_for(scenario(), 40))

"""`needs_push` against held profiles whose steps fall between the new plan's steps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors.push import LOWER_TOLERANCE_KW, Deadband, needs_push
from connectors.state import HeldLimit
from models import GunLimit

NOW = datetime(2026, 1, 5, 9, 20, 31, tzinfo=UTC)
DEADBAND = Deadband(a=1.0, kw=0.5)
RENEW = timedelta(seconds=30)
HOLD = timedelta(minutes=15)


def test_a_held_step_between_the_new_plans_steps_is_compared() -> None:
    """The demo's overshoot: a held 49.75 kW step from 09:25:31 while the new plan says 9.7 kW.

    The held step begins after the new plan's last step start, and ends before its next one.
    """
    held_steps = ((NOW + timedelta(minutes=5), 49.75), (NOW + timedelta(minutes=9), 9.7))
    held = HeldLimit(9.7, None, NOW - timedelta(minutes=5), NOW + HOLD, 3001, held_steps)
    new_steps = [(NOW + timedelta(minutes=4, seconds=29), 9.7), (NOW + timedelta(minutes=9, seconds=29), 9.7)]
    assert needs_push(held, GunLimit(9.7, None, 3), NOW, DEADBAND, RENEW, new_steps, NOW + HOLD)


def test_a_held_profile_that_outlasts_the_new_one_is_compared_past_its_end() -> None:
    held = HeldLimit(5.0, None, NOW, NOW + 2 * HOLD, 3001, ((NOW + HOLD + timedelta(minutes=1), 20.0),))
    assert needs_push(held, GunLimit(5.0, None, 3), NOW, DEADBAND, RENEW, [], NOW + HOLD)
    rising = [(NOW + HOLD + timedelta(minutes=1), 20.0)]
    assert not needs_push(held, GunLimit(5.0, None, 3), NOW, DEADBAND, RENEW, rising, NOW + 3 * HOLD)


steps_kw = st.lists(st.tuples(st.integers(1, 1799), st.floats(0.0, 50.0)), max_size=5, unique_by=lambda step: step[0])


@given(held_first_kw=st.floats(0.0, 50.0), held_steps=steps_kw, new_steps=steps_kw)
def test_a_gun_left_alone_never_holds_more_than_the_new_plan_at_any_instant(
    held_first_kw: float, held_steps: list[tuple[int, float]], new_steps: list[tuple[int, float]]
) -> None:
    """Safety: when nothing is sent, the held profile is within the resolution of the new plan at every second."""
    until = NOW + timedelta(seconds=1800)
    held = HeldLimit(
        held_first_kw,
        None,
        NOW - timedelta(minutes=1),
        until,
        3001,
        tuple((NOW + timedelta(seconds=offset), kw) for offset, kw in sorted(held_steps)),
    )
    later_kw = [(NOW + timedelta(seconds=offset), kw) for offset, kw in sorted(new_steps)]
    new = HeldLimit(held_first_kw, None, NOW, until, 0, tuple(later_kw))  # the same now: only later steps differ
    if needs_push(held, GunLimit(held_first_kw, None, 3), NOW, DEADBAND, RENEW, later_kw, until):
        return
    for offset_s in range(0, 1800):
        instant = NOW + timedelta(seconds=offset_s)
        assert held.kw_at(instant) - new.kw_at(instant) <= LOWER_TOLERANCE_KW + 1e-9

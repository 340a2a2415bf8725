"""The pure helpers of the limits routes: limits in force merged from static limits and series."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from connectors.api.limit_tree import limits_in_force, with_static_limits
from connectors.api.schemas import StaticLimit
from models import LimitNode, LimitSeries, LimitStep, Site

T0 = datetime(2026, 12, 2, tzinfo=UTC)
HOUR = timedelta(hours=1)


def site_with(limit_kw: float | None, limit_a: float | None) -> Site:
    return Site(id="s", root=LimitNode(id="grid", limit_kw=limit_kw, limit_a=limit_a))


limits = st.one_of(st.none(), st.integers(0, 200).map(float))
series_steps = st.lists(
    st.tuples(st.integers(1, 4), limits, limits).filter(lambda step: step[1] is not None or step[2] is not None),
    min_size=1,
    max_size=5,
)


@given(
    static_kw=limits,
    static_a=limits,
    steps=series_steps,
    offset_h=st.integers(-3, 3),
    window_start_h=st.integers(-2, 8),
    window_h=st.integers(1, 12),
)
def test_limits_in_force_follow_the_series_where_it_runs_and_the_static_limit_elsewhere(
    static_kw: float | None,
    static_a: float | None,
    steps: list[tuple[int, float | None, float | None]],
    offset_h: int,
    window_start_h: int,
    window_h: int,
) -> None:
    bounds_h = list(itertools.accumulate([offset_h, *(hours for hours, _, _ in steps)]))
    series = LimitSeries(
        steps=[
            LimitStep(start=T0 + begin_h * HOUR, end=T0 + end_h * HOUR, limit_kw=limit_kw, limit_a=limit_a)
            for (begin_h, end_h), (_, limit_kw, limit_a) in zip(itertools.pairwise(bounds_h), steps, strict=True)
        ]
    )
    start, end = T0 + window_start_h * HOUR, T0 + (window_start_h + window_h) * HOUR
    (node,) = limits_in_force(site_with(static_kw, static_a), {"grid": series}, start, end).nodes

    segments = node.in_force
    assert segments[0].start == start
    assert segments[-1].end == end
    assert all(before.end == after.start for before, after in itertools.pairwise(segments))
    assert all(
        (before.limit_kw, before.limit_a) != (after.limit_kw, after.limit_a)
        for before, after in itertools.pairwise(segments)
    )
    for segment in segments:
        for moment in [segment.start, segment.end - timedelta(seconds=1)]:
            running = next((step for step in series.steps if step.start <= moment < step.end), None)
            expected_kw = running.limit_kw if running and running.limit_kw is not None else static_kw
            expected_a = running.limit_a if running and running.limit_a is not None else static_a
            assert (segment.limit_kw, segment.limit_a) == (expected_kw, expected_a)


def test_a_static_limit_deep_in_the_tree_is_replaced_and_the_rest_kept() -> None:
    site = Site(
        id="s",
        root=LimitNode(
            id="grid",
            limit_kw=100,
            children=[LimitNode(id="feeder", limit_kw=50, children=[LimitNode(id="cabinet", limit_a=32)])],
        ),
    )
    changed = with_static_limits(site, {"cabinet": StaticLimit(limit_kw=20)})
    nodes = changed.nodes()
    assert (nodes["cabinet"].limit_kw, nodes["cabinet"].limit_a) == (20, None)
    assert (nodes["grid"].limit_kw, nodes["feeder"].limit_kw) == (100, 50)
    assert site.nodes()["cabinet"].limit_a == 32

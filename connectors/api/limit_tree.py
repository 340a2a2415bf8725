"""Pure helpers of the limits routes: rewrite static limits in a site's tree; merge limits in force.

A series step in kW overrides the node's static kW limit while it runs, one in A the static A
limit, as the optimizer reads them (`optimizer.signals.fit_limits`).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime

from connectors.api.schemas import LimitSegment, LimitsInForce, NodeLimitsInForce, StaticLimit
from models import LimitNode, LimitSeries, LimitStep, Site


def with_static_limits(site: Site, limits: Mapping[str, StaticLimit]) -> Site:
    """The site with the static limits of the named nodes replaced (every id must be a node's)."""

    def rewrite(node: LimitNode) -> LimitNode:
        update: dict[str, object] = {"children": [rewrite(child) for child in node.children]}
        if node.id in limits:
            update |= {"limit_kw": limits[node.id].limit_kw, "limit_a": limits[node.id].limit_a}
        return node.model_copy(update=update)

    return site.model_copy(update={"root": rewrite(site.root)})


def limits_in_force(site: Site, series: Mapping[str, LimitSeries], start: datetime, end: datetime) -> LimitsInForce:
    """Per node (and per gun with a series), the limits in force over [start, end).

    Series of ids no longer in the site's tree are left out: they constrain nothing.
    """
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    nodes = site.nodes()
    limited_guns = [gun_id for gun_id in site.guns() if gun_id in series]
    result = []
    for node_id in [*nodes, *limited_guns]:
        node = nodes.get(node_id)
        static_kw = node.limit_kw if node is not None else None
        static_a = node.limit_a if node is not None else None
        steps = series[node_id].steps if node_id in series else []
        result.append(
            NodeLimitsInForce(
                node_id=node_id,
                static_limit_kw=static_kw,
                static_limit_a=static_a,
                in_force=_segments(steps, static_kw, static_a, start, end),
            )
        )
    return LimitsInForce(site_id=site.id, start=start, end=end, nodes=result)


def _segments(
    steps: list[LimitStep], static_kw: float | None, static_a: float | None, start: datetime, end: datetime
) -> list[LimitSegment]:
    moments = {moment.astimezone(UTC) for step in steps for moment in (step.start, step.end)}
    bounds = [start, *sorted(moment for moment in moments if start < moment < end), end]
    segments: list[LimitSegment] = []
    for begin, stop in itertools.pairwise(bounds):
        running = next((step for step in steps if step.start <= begin < step.end), None)
        limit_kw = running.limit_kw if running is not None and running.limit_kw is not None else static_kw
        limit_a = running.limit_a if running is not None and running.limit_a is not None else static_a
        # The same stored numbers, copied: equal limits on both sides make one segment.
        if segments and (segments[-1].limit_kw, segments[-1].limit_a) == (limit_kw, limit_a):
            segments[-1] = segments[-1].model_copy(update={"end": stop})
        else:
            segments.append(LimitSegment(start=begin, end=stop, limit_kw=limit_kw, limit_a=limit_a))
    return segments

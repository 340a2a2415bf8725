"""The snapshot turned into arrays: who can draw when, how much, under which limits.

Everything the LP, the greedy fallback and the explanations need is computed here once, as numpy
arrays, so that each of them stays a few lines of arithmetic. Indices: `g` a controllable session
(gun) with a window in the horizon, `t` a step, `n` a node of the limit tree, `c` a power column
(one per gun and step inside its window only).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from functools import cached_property
from operator import attrgetter

import numpy as np
import pandas as pd

from models import Gun, LimitNode, RateUnit, Session, Site, SiteSnapshot
from models.site import PHASES
from models.units import current_to_power_kw
from optimizer.options import OptimizerOptions
from optimizer.signals import fit_limits, fit_prices, step_bounds_s

_EPS_S = 1e-6


@dataclass
class ProblemData:
    step_starts: pd.DatetimeIndex
    step_hours: float
    prices: np.ndarray  # (T,) currency per kWh
    price_norm: np.ndarray  # (T,) prices scaled to [0, 1] over the horizon
    sessions: list[Session]  # controllable sessions with a window in the horizon
    gun_ids: list[str]  # their guns, in the same order
    guns: list[Gun]
    target_kwh: np.ndarray  # (G,) energy still wanted
    priority: np.ndarray  # (G,)
    departure_s: np.ndarray  # (G,) POSIX seconds
    min_kw: np.ndarray  # (G,)
    phase_a_per_kw: np.ndarray  # (G, 3)
    phases: np.ndarray  # (G,) phases each session draws from
    voltage_v: np.ndarray  # (G,) its gun's
    steered_in_a: np.ndarray  # (G,) whether its gun takes limits in A (else W)
    col_gun: np.ndarray  # (C,)
    col_step: np.ndarray  # (C,)
    col_upper_kw: np.ndarray  # (C,)
    col_hours: np.ndarray  # (C,) hours of the step inside the session's window
    gun_cols: np.ndarray  # (G + 1,) columns of gun g are gun_cols[g]:gun_cols[g + 1]
    node_ids: list[str]
    node_limit_kw: np.ndarray  # (N, T) limit left for controllable guns, inf where none
    node_limit_a: np.ndarray  # (N, 3, T)
    node_static_kw: np.ndarray  # (N, T) limit before fixed load
    node_static_a: np.ndarray  # (N, 3, T)
    node_fixed_kw: np.ndarray  # (N, T) load of uncontrolled guns under each node
    node_fixed_a: np.ndarray  # (N, 3, T)
    gun_ancestors: np.ndarray  # (G, depth) node indices, -1 padded
    fixed_ids: list[str]  # uncontrolled guns, reserved as fixed load
    fixed_kw: np.ndarray  # (F, T)
    held_kw: np.ndarray  # (G,) the limit each gun holds now, NaN where not known
    share_kw: np.ndarray  # (G,) its equal share of the first step (see `equal_shares_kw`), 0 if it has none
    warnings: list[str] = field(default_factory=list)

    @property
    def step_count(self) -> int:
        return len(self.step_starts)

    def planned_kwh(self, power_kw: np.ndarray) -> np.ndarray:
        """Energy per gun from power per column, capped at what it wants: a car stops when full."""
        delivered = np.bincount(self.col_gun, weights=power_kw * self.col_hours, minlength=len(self.sessions))
        return np.minimum(delivered, self.target_kwh)

    def node_loads(self, power_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Load per node and step in kW, and per node, phase and step in A, fixed load included."""
        cols, cells, a_per_kw = self._load_terms
        size, shape = self.node_static_kw.size, self.node_static_kw.shape
        power = power_kw[cols]
        load_kw = self.node_fixed_kw + np.bincount(cells, weights=power, minlength=size).reshape(shape)
        load_a = self.node_fixed_a.copy()
        for phase in range(3):
            load_a[:, phase, :] += np.bincount(cells, weights=power * a_per_kw[phase], minlength=size).reshape(shape)
        return load_kw, load_a

    @cached_property
    def _load_terms(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`column_cells` of every level in one, and the columns' A per kW (3, ...): a node sits at
        one level, so one sum over them all adds each cell's columns in the same order as level by
        level."""
        cols = np.concatenate([cols for cols, _ in self.column_cells] or [np.zeros(0, dtype=np.int64)])
        cells = np.concatenate([cells for _, cells in self.column_cells] or [np.zeros(0, dtype=np.int64)])
        return cols, cells, np.ascontiguousarray(self.phase_a_per_kw[self.col_gun[cols]].T)

    @cached_property
    def column_cells(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per tree level, the columns under a node there (ascending) and their flat (node, step) cell."""
        levels = []
        for level in range(self.gun_ancestors.shape[1]):
            nodes = self.gun_ancestors[self.col_gun, level]
            cols = np.flatnonzero(nodes >= 0)
            levels.append((cols, nodes[cols] * self.step_count + self.col_step[cols]))
        return levels

    @cached_property
    def loaded_cells(self) -> np.ndarray:
        """(N x T,) flat: whether a node has a column under it at a step."""
        loaded = np.zeros(self.node_static_kw.size, dtype=bool)
        for _, cells in self.column_cells:
            loaded[cells] = True
        return loaded

    def step0_cols(self) -> tuple[np.ndarray, np.ndarray]:
        """Guns that may draw in the first step, and their column there."""
        first = self.gun_cols[:-1]
        has = (first < self.gun_cols[1:]) & (self.col_step[np.minimum(first, len(self.col_step) - 1)] == 0)
        guns = np.flatnonzero(has)
        return guns, first[guns]


def build_problem(snapshot: SiteSnapshot, options: OptimizerOptions) -> ProblemData:
    site = snapshot.site
    count = snapshot.step_count
    starts_s, ends_s = step_bounds_s(snapshot.now, snapshot.step, count)
    step_hours = snapshot.step.total_seconds() / 3600.0
    prices = fit_prices(snapshot.tariff, starts_s, ends_s)
    spread = float(prices.max() - prices.min()) if count else 0.0
    price_norm = (prices - prices.min()) / spread if spread > 1e-12 else np.zeros(count)

    nodes, guns, paths = _tree(site)
    depth = max((len(path) for path in paths.values()), default=1)

    node_static_kw = np.full((len(nodes), count), np.inf)
    node_static_a = np.full((len(nodes), 3, count), np.inf)
    for n, node in enumerate(nodes):
        limit_kw, limit_a = fit_limits(
            snapshot.limit_series.get(node.id), node.limit_kw, node.limit_a, starts_s, ends_s
        )
        node_static_kw[n] = limit_kw
        node_static_a[n] = limit_a

    active: list[Session] = []
    active_ids: list[str] = []
    active_windows_s: list[tuple[float, float]] = []
    fixed_ids: list[str] = []
    fixed_rows: list[np.ndarray] = []
    fixed_node_kw = np.zeros((len(nodes), count))
    fixed_node_a = np.zeros((len(nodes), 3, count))
    horizon_start_s, horizon_end_s = float(starts_s[0]), float(ends_s[-1])
    for session in snapshot.sessions:
        gun_id, arrival, departure, controllable = _SESSION_WHO_WHEN(session)
        arrival_s, departure_s = arrival.timestamp(), departure.timestamp()
        if departure_s <= horizon_start_s or arrival_s >= horizon_end_s:
            continue
        if controllable:
            active.append(session)
            active_ids.append(gun_id)
            active_windows_s.append((arrival_s, departure_s))
            continue
        gun = guns[gun_id]
        reserve_kw = _uncontrolled_reserve_kw(gun, session, options)
        # An uncontrolled car may overstay its expected departure: reserve to the horizon's end.
        load = np.where(ends_s > arrival_s + _EPS_S, reserve_kw, 0.0)
        fixed_ids.append(gun_id)
        fixed_rows.append(load)
        coef = gun.phase_current_a_per_kw(session.ev_phases)
        for n in paths[gun_id]:
            fixed_node_kw[n] += load
            for p, phase in enumerate(PHASES):
                fixed_node_a[n, p] += load * coef[phase]

    warnings = _fixed_load_warnings(nodes, node_static_kw, node_static_a, fixed_node_kw, fixed_node_a)
    node_limit_kw = np.clip(node_static_kw - fixed_node_kw, 0.0, None)
    node_limit_a = np.clip(node_static_a - fixed_node_a, 0.0, None)

    gun_of = [guns[gun_id] for gun_id in active_ids]
    windows_s = np.array(active_windows_s).reshape(-1, 2)
    arrivals_s, departures_s = windows_s[:, 0], windows_s[:, 1]
    col_gun, col_step, col_hours = _columns(arrivals_s, departures_s, starts_s, ends_s)
    gun_cols = np.searchsorted(col_gun, np.arange(len(active) + 1))
    needs = _SessionNeeds.of(active, gun_of, snapshot.default_energy_kwh)
    min_kw = needs.min_kw
    col_upper = needs.max_kw[col_gun]
    for g in [g for g, gun_id in enumerate(active_ids) if gun_id in snapshot.limit_series]:
        cols = np.arange(gun_cols[g], gun_cols[g + 1])
        series = snapshot.limit_series[active_ids[g]]
        limit_kw, limit_a = fit_limits(series, None, None, starts_s[col_step[cols]], ends_s[col_step[cols]])
        kw_per_a = current_to_power_kw(1.0, float(needs.voltage_v[g]), int(needs.phases[g]))
        col_upper[cols] = np.minimum(col_upper[cols], np.minimum(limit_kw, kw_per_a * limit_a))
    first = np.flatnonzero(col_step == 0)
    col_upper[first] = np.minimum(col_upper[first], needs.undrawn_cap_kw(options)[col_gun[first]])
    col_upper = np.clip(col_upper, 0.0, None)
    # A step whose cap is below the gun's minimum can only be 0: say so before solving.
    col_upper[col_upper < min_kw[col_gun] - 1e-9] = 0.0
    gun_anc = _gun_ancestors([paths[gun_id] for gun_id in active_ids], depth)
    fixed_kw = np.vstack(fixed_rows) if fixed_rows else np.zeros((0, count))
    data = ProblemData(
        step_starts=pd.DatetimeIndex(pd.to_datetime(starts_s, unit="s", utc=True)),
        step_hours=step_hours,
        prices=prices,
        price_norm=price_norm,
        sessions=active,
        gun_ids=active_ids,
        guns=gun_of,
        target_kwh=np.clip(needs.wanted_kwh - needs.delivered_kwh, 0.0, None),
        priority=needs.priority,
        departure_s=departures_s.astype(float),
        min_kw=min_kw,
        phase_a_per_kw=needs.phase_a_per_kw,
        phases=needs.phases,
        voltage_v=needs.voltage_v,
        steered_in_a=needs.steered_in_a,
        col_gun=col_gun.astype(np.int64),
        col_step=col_step.astype(np.int64),
        col_upper_kw=col_upper.astype(float),
        col_hours=col_hours.astype(float),
        gun_cols=gun_cols.astype(np.int64),
        node_ids=[node.id for node in nodes],
        node_limit_kw=node_limit_kw,
        node_limit_a=node_limit_a,
        node_static_kw=node_static_kw,
        node_static_a=node_static_a,
        node_fixed_kw=fixed_node_kw,
        node_fixed_a=fixed_node_a,
        gun_ancestors=gun_anc,
        fixed_ids=fixed_ids,
        fixed_kw=fixed_kw,
        held_kw=needs.held_kw,
        share_kw=np.zeros(len(active)),
        warnings=warnings,
    )
    data.share_kw = equal_shares_kw(data)
    return data


def equal_shares_kw(data: ProblemData) -> np.ndarray:
    """Each gun's max-min fair share of the first step (kW): where the fairness reward kinks.

    Progressive filling: one level rises for every gun drawing in the first step; each holds
    `min(level, ceiling)`, its ceiling being its first-step cap and what its car still wants in
    that step. A limit (a node's kW, or its A on one phase) that is reached stops the guns loading
    it. Limits are met from the deepest node up, and at a node the lowest level first, which is
    exact for a tree of kW limits and for balanced loads; with single-phase loads under nested
    phase limits it is an estimate (a limit higher up that stops a gun early leaves room below
    that no one is given here). Minimum currents are ignored.
    """
    share = np.zeros(len(data.sessions))
    guns, cols = data.step0_cols()
    if len(guns) == 0:
        return share
    ceiling = np.minimum(data.col_upper_kw[cols], data.target_kwh[guns] / data.col_hours[cols])
    ancestors = data.gun_ancestors[guns]
    a_per_kw = data.phase_a_per_kw[guns]
    for level in reversed(range(ancestors.shape[1])):
        nodes = ancestors[:, level]
        order = np.argsort(nodes, kind="stable")
        order = order[nodes[order] >= 0]
        if len(order) == 0:
            continue
        bounds = np.flatnonzero(np.r_[True, np.diff(nodes[order]) != 0, True])
        for begin, end in itertools.pairwise(bounds):
            members = order[begin:end]
            node = nodes[members[0]]
            limits = [(data.node_limit_kw[node, 0], np.ones(len(members)))]
            limits += [(data.node_limit_a[node, phase, 0], a_per_kw[members, phase]) for phase in range(3)]
            ceiling[members] = _fill_node(ceiling[members], limits)
    share[guns] = ceiling
    return share


def _fill_node(ceiling: np.ndarray, limits: list[tuple[float, np.ndarray]]) -> np.ndarray:
    """The guns' ceilings once the node's limits (limit, weight per gun) stop them, lowest level first."""
    pending = [(limit, weight) for limit, weight in limits if np.isfinite(limit)]
    while pending:
        levels = [_level_at(ceiling, weight, limit) for limit, weight in pending]
        lowest = int(np.argmin(levels))
        if not np.isfinite(levels[lowest]):
            break
        _, weight = pending.pop(lowest)
        ceiling = np.where(weight > 0, np.minimum(ceiling, levels[lowest]), ceiling)
    return ceiling


def _level_at(ceiling: np.ndarray, weight: np.ndarray, limit: float) -> float:
    """The level at which sum weight x min(level, ceiling) reaches `limit` (inf if it never does)."""
    loads = weight > 0
    caps, weights = ceiling[loads], weight[loads]
    if float(weights @ caps) <= limit:
        return np.inf
    order = np.argsort(caps)
    caps, weights = caps[order], weights[order]
    below = np.r_[0.0, np.cumsum(weights * caps)[:-1]]  # from the guns already at their ceiling
    rising = np.cumsum(weights[::-1])[::-1]  # weight of the guns still rising
    first = int(np.argmax(below + caps * rising >= limit))
    return float((limit - below[first]) / rising[first])


# Everything of a gun but its ids: guns alike in it have the same capability (`_capability`).
_GUN_KIND = attrgetter(*(name for name in Gun.model_fields if name not in ("station_id", "evse_id")))
_SESSION_WHO_WHEN = attrgetter("gun_id", "arrival", "departure", "controllable")
_SESSION_NEEDS = attrgetter(
    "ev_phases",
    "ev_max_power_kw",
    "energy_requested_kwh",
    "energy_delivered_kwh",
    "priority",
    "held_limit_kw",
    "observed_power_kw",
    "offered_power_kw",
)


@dataclass(frozen=True)
class _SessionNeeds:
    """Per controllable session, what the arrays need of it and its gun (NaN where unknown).

    Each session is read once, in one call, and each kind of gun asked its capability once per
    car phases: at thousands of sessions, a model method call per session and fact was most of
    the time `build_problem` took.
    """

    min_kw: np.ndarray
    max_kw: np.ndarray  # the gun's, or the car's if lower
    phase_a_per_kw: np.ndarray  # (G, 3) on L1, L2, L3
    phases: np.ndarray  # (G,) phases the session draws from
    voltage_v: np.ndarray
    steered_in_a: np.ndarray  # (G,) bool
    wanted_kwh: np.ndarray
    delivered_kwh: np.ndarray
    priority: np.ndarray
    held_kw: np.ndarray
    observed_kw: np.ndarray
    offered_kw: np.ndarray

    @classmethod
    def of(cls, sessions: list[Session], guns: list[Gun], default_energy_kwh: float) -> _SessionNeeds:
        kinds: dict[tuple[object, ...], int] = {}  # (gun kind, car phases) -> its row of `capabilities`
        capabilities: list[tuple[float, ...]] = []
        kind_of, reads = [], []
        for gun, session in zip(guns, sessions, strict=True):
            read = _SESSION_NEEDS(session)
            key = (_GUN_KIND(gun), read[0])
            kind = kinds.get(key)
            if kind is None:
                kind = kinds[key] = len(capabilities)
                capabilities.append(_capability(gun, read[0]))
            kind_of.append(kind)
            reads.append(read)
        gun_facts = np.array(capabilities, dtype=float).reshape(-1, 8)[np.array(kind_of, dtype=np.int64)]
        values = np.array(reads, dtype=float).reshape(-1, 8)  # None -> NaN
        _, ev_max_kw, requested_kwh, delivered_kwh, priority, held_kw, observed_kw, offered_kw = values.T
        return cls(
            min_kw=np.ascontiguousarray(gun_facts[:, 0]),
            max_kw=np.fmin(gun_facts[:, 1], ev_max_kw),
            phase_a_per_kw=np.ascontiguousarray(gun_facts[:, 2:5]),
            phases=gun_facts[:, 5].astype(np.int64),
            voltage_v=np.ascontiguousarray(gun_facts[:, 6]),
            steered_in_a=gun_facts[:, 7] > 0,
            wanted_kwh=np.where(np.isnan(requested_kwh), default_energy_kwh, requested_kwh),
            delivered_kwh=delivered_kwh.copy(),
            priority=priority.copy(),
            held_kw=held_kw.copy(),
            observed_kw=observed_kw.copy(),
            offered_kw=offered_kw.copy(),
        )

    def undrawn_cap_kw(self, options: OptimizerOptions) -> np.ndarray:
        """A car that drew clearly less than it was offered keeps its draw plus headroom, no more
        (at least its gun's minimum); inf for the others."""
        observed, offered = self.observed_kw, self.offered_kw
        drew_less = observed < offered - options.undrawn_deadband_kw  # False where either is NaN
        cap = observed * (1.0 + options.undrawn_headroom_fraction) + options.undrawn_headroom_kw
        return np.where(drew_less, np.maximum(cap, self.min_kw), np.inf)


def _capability(gun: Gun, ev_phases: int | None) -> tuple[float, ...]:
    """Of `gun` with such a car: min kW, max kW, A per kW on L1, L2, L3, phases drawn from,
    voltage, and 1 if it takes limits in A (0: in W)."""
    per_phase = gun.phase_current_a_per_kw(ev_phases)
    return (
        gun.min_kw(ev_phases),
        gun.max_kw(ev_phases),
        *(per_phase[phase] for phase in PHASES),
        gun.phases_used(ev_phases),
        gun.voltage_v,
        float(gun.charging_rate_unit is RateUnit.A),
    )


def _tree(site: Site) -> tuple[list[LimitNode], dict[str, Gun], dict[str, tuple[int, ...]]]:
    """The nodes, each before its descendants (as `Site.nodes`), the guns by id, and for each gun
    the indices of the nodes above it, root first: one walk, each gun's id made once."""
    nodes: list[LimitNode] = []
    guns: dict[str, Gun] = {}
    paths: dict[str, tuple[int, ...]] = {}

    def visit(node: LimitNode, above: tuple[int, ...]) -> None:
        here = (*above, len(nodes))
        nodes.append(node)
        for gun in node.guns:
            gun_id = gun.id
            guns[gun_id] = gun
            paths[gun_id] = here
        for child in node.children:
            visit(child, here)

    visit(site.root, ())
    return nodes, guns, paths


def _columns(
    arrivals_s: np.ndarray, departures_s: np.ndarray, starts_s: np.ndarray, ends_s: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gun, step and hours of each column: a step that overlaps the session's window by more than
    `_EPS_S`, by gun, then step. Only the steps from the first that ends after the arrival to the
    last that starts before the departure are looked at: O(columns), not O(guns x steps)."""
    first = np.searchsorted(ends_s, arrivals_s, side="right")
    lengths = np.clip(np.searchsorted(starts_s, departures_s, side="left") - first, 0, None)
    gun = np.repeat(np.arange(len(first)), lengths)
    step = np.arange(len(gun)) + np.repeat(first - (np.cumsum(lengths) - lengths), lengths)
    overlap_s = np.minimum(ends_s[step], departures_s[gun]) - np.maximum(starts_s[step], arrivals_s[gun])
    inside = overlap_s > _EPS_S
    return gun[inside], step[inside], overlap_s[inside] / 3600.0


def _gun_ancestors(paths: list[tuple[int, ...]], depth: int) -> np.ndarray:
    """(G, depth) from each gun's path (node indices, root first), -1 padded."""
    parents = [path[-1] for path in paths]  # a gun's parent settles its path
    table = np.full((max(parents, default=0) + 1, depth), -1, dtype=np.int64)
    for path in {path[-1]: path for path in paths}.values():
        table[path[-1], : len(path)] = path
    return table[np.array(parents, dtype=np.int64)]


def _session_max_kw(gun: Gun, session: Session) -> float:
    limit = gun.max_kw(session.ev_phases)
    if session.ev_max_power_kw is not None:
        limit = min(limit, session.ev_max_power_kw)
    return limit


def _uncontrolled_reserve_kw(gun: Gun, session: Session, options: OptimizerOptions) -> float:
    if options.uncontrolled_reserve == "observed" and session.observed_power_kw is not None:
        return session.observed_power_kw
    return _session_max_kw(gun, session)


def _fixed_load_warnings(
    nodes: list, static_kw: np.ndarray, static_a: np.ndarray, fixed_kw: np.ndarray, fixed_a: np.ndarray
) -> list[str]:
    warnings = []
    for n, node in enumerate(nodes):
        excess_kw = float(np.max(fixed_kw[n] - static_kw[n], initial=0.0))
        excess_a = float(np.max(fixed_a[n] - static_a[n], initial=0.0))
        if excess_kw > 1e-9 or excess_a > 1e-9:
            warnings.append(
                f"uncontrolled guns alone exceed node {node.id} by up to {excess_kw:.2f} kW / {excess_a:.2f} A;"
                " controllable guns under it are held at 0 on what is exceeded (kW, or the phases over their limit)"
            )
    return warnings

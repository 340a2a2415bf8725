"""simulate(): replay arrivals and departures under a policy, deciding again every interval.

At each tick `t` the sessions that overlap [t, t + interval) and still want energy are put in a
snapshot, with what they have had so far; the policy gives each gun a limit for the interval
(the LP plans over a rolling horizon to the last departure of those present, capped, and only its
first step is used). Sessions arriving later are unknown to the policy, as they would be to the
service; an arrival inside the interval is known at its tick, standing in for the service's
re-solve on that event.

The EV model: a car draws min(limit, its maximum) from max(t, arrival) until it is full, it leaves
or the interval ends, then nothing. `power_kw` is each gun's mean power over the interval (what a
meter reports). Limits are checked on the instantaneous load, found at every start of a draw
within the interval, so a car leaving at :05 and another arriving at :10 are not counted as
drawing together.

Two sessions on one gun at once cannot happen on a real site; when the data has them, the later
one is dropped (and counted). When one car leaves a gun and the next arrives within the same
interval, the next starts at the following tick. Sessions are kept when they overlap [start, end);
those cut by the window's edges keep their full request, so they may look short.

Excess is measured at every node of the limit tree (kW, and A on each phase); a gun's own limit
series caps what the controlled policies offer but is not counted as excess. Tariff cost is each
interval's energy at the interval's mean price.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

import numpy as np
import pandas as pd

from models import LimitSeries, PriceSeries, Session, Site, SiteSnapshot, SolveStatus
from optimizer.frames import (
    Duration,
    LimitLike,
    TariffLike,
    limit_series,
    price_series,
    sessions_from_frame,
    to_aware,
    to_duration,
)
from optimizer.options import OptimizerOptions
from optimizer.policies import POLICIES, RULES, PolicyName, StepLimits, lp_limits
from optimizer.problem import build_problem
from optimizer.signals import fit_limits, fit_prices

_ENERGY_TOL_KWH = 1e-9
_EXCESS_NOISE = 1e-9  # kW or A
SATISFIED_TOL_KWH = 1e-3
"""A session is satisfied when it had all it asked for but at most this much (1 Wh)."""


@dataclass(frozen=True)
class SimulationResult:
    """What a replay produced; every frame and series is indexed by tick start (UTC).

    `power_kw`: mean power per gun over each interval. `site_load_kw`: their sum.
    `site_peak_kw`: the highest instantaneous site load within each interval. `limit_kw`: the root's
    kW limit in force (the lowest within the interval; NaN where none). `limit_excess_kw`: the worst
    excess over any node within each interval, kW, a phase's excess in A converted at the node's
    voltage (0 when within limits). `sessions`: one row per session replayed (session_id, gun,
    arrival, departure, requested_kwh, delivered_kwh, satisfied). `metrics`: see `simulate`;
    `solve_time_*_s` time the policy's decision per tick (for "lp", the whole `allocate` call).
    """

    policy: str
    power_kw: pd.DataFrame
    sessions: pd.DataFrame
    site_load_kw: pd.Series
    site_peak_kw: pd.Series
    limit_kw: pd.Series
    limit_excess_kw: pd.Series
    metrics: dict[str, float]
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> pd.DataFrame:
        """The metrics as one row, indexed by policy (concatenate several to compare)."""
        return pd.DataFrame([self.metrics], index=pd.Index([self.policy], name="policy"))


def simulate(
    site: Site,
    sessions: pd.DataFrame,
    start: datetime | pd.Timestamp | str,
    end: datetime | pd.Timestamp | str,
    interval: Duration = "15min",
    policy: PolicyName = "lp",
    tariff: TariffLike = None,
    grid_limit: LimitLike = None,
    *,
    horizon: Duration = "24h",
    options: OptimizerOptions | None = None,
    default_energy_kwh: float = 20.0,
) -> SimulationResult:
    """Replay `sessions` on `site` from `start` to `end`, deciding limits every `interval`.

    `policy`: "lp", "equal", "edf" or "uncontrolled" (see `optimizer.policies`). `tariff`: price per
    kWh (Series by step start, DataFrame, PriceSeries or TimeOfUseTariff); `grid_limit`: kW limits
    for the root (Series by step start) or per node id (dict). `horizon` caps the LP's look-ahead.
    A session without `energy_kwh` wants `default_energy_kwh` (and the policies are told so).
    Metrics: energy_delivered_pct and _kwh, unsatisfied_sessions, peak_site_kw (instantaneous),
    worst_limit_excess_kw (any node, phases converted) and _a (phases), tariff_cost (NaN without
    a tariff), jain_fairness over delivered / requested, and the policy's decision time per tick.
    """
    began = time.perf_counter()
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {', '.join(POLICIES)}, not {policy!r}")
    begin, finish = to_aware(start, "start"), to_aware(end, "end")
    if finish <= begin:
        raise ValueError(f"end {finish} is not after start {begin}")
    step = to_duration(interval, "interval")
    look_ahead = to_duration(horizon, "horizon")
    if look_ahead < step:
        raise ValueError(f"horizon {look_ahead} is shorter than the interval {step}")
    if not default_energy_kwh >= 0:
        raise ValueError(f"default_energy_kwh must be at least 0, not {default_energy_kwh}")
    replay = _Replay.of(site, sessions_from_frame(sessions, site), begin, finish, default_energy_kwh)
    prices = price_series(tariff, begin, finish, site.timezone)
    limits = limit_series(grid_limit, site, end=finish)

    step_s = step.total_seconds()
    tick_count = math.ceil((finish - begin).total_seconds() / step_s)
    starts_s = begin.timestamp() + step_s * np.arange(tick_count)
    ends_s = np.minimum(starts_s + step_s, finish.timestamp())
    ticks = _Ticks(
        site=site,
        policy=policy,
        options=options or OptimizerOptions(),
        step=step,
        plan_steps=math.ceil(look_ahead / step),
        limit_windows={node_id: _Window(series.steps) for node_id, series in limits.items()},
        price_window=_Window(prices.steps) if prices is not None else None,
        power_kw=np.zeros((tick_count, len(site.guns()))),
        peak_kw=np.zeros(tick_count),
        excess_kw=np.zeros(tick_count),
    )
    for k in range(tick_count):
        ticks.run(k, replay, float(starts_s[k]), float(ends_s[k]))

    index = pd.DatetimeIndex(pd.to_datetime(starts_s, unit="s", utc=True), name="step")
    power_frame = pd.DataFrame(ticks.power_kw, index=index, columns=pd.Index(list(site.guns()), name="gun"))
    root = site.root
    root_kw, _ = fit_limits(limits.get(root.id), root.limit_kw, root.limit_a, starts_s, starts_s + step_s)
    tick_prices = fit_prices(prices, starts_s, ends_s) if prices is not None else np.full(tick_count, np.nan)
    energy_per_tick = ticks.power_kw.sum(axis=1) * (ends_s - starts_s) / 3600
    session_frame = replay.frame()
    metrics = _metrics(session_frame, ticks, energy_per_tick, tick_prices)
    metrics["dropped_sessions"] = float(len(replay.warnings))
    metrics["wall_time_s"] = time.perf_counter() - began
    return SimulationResult(
        policy=policy,
        power_kw=power_frame,
        sessions=session_frame,
        site_load_kw=power_frame.sum(axis=1).rename("site_load_kw"),
        site_peak_kw=pd.Series(ticks.peak_kw, index=index, name="site_peak_kw"),
        limit_kw=pd.Series(np.where(np.isfinite(root_kw), root_kw, np.nan), index=index, name="limit_kw"),
        limit_excess_kw=pd.Series(ticks.excess_kw, index=index, name="limit_excess_kw"),
        metrics=metrics,
        warnings=replay.warnings,
    )


@dataclass
class _Ticks:
    """One replay's fixed settings and what it records, tick by tick."""

    site: Site
    policy: PolicyName
    options: OptimizerOptions
    step: timedelta
    plan_steps: int  # the LP's look-ahead cap, in steps
    limit_windows: dict[str, _Window]
    price_window: _Window | None
    power_kw: np.ndarray  # (ticks, guns) mean power
    peak_kw: np.ndarray  # (ticks,) instantaneous site peak
    excess_kw: np.ndarray  # (ticks,) worst excess over any node, phases converted
    worst_excess_a: float = 0.0
    decision_s: list[float] = field(default_factory=list)
    fallback_ticks: int = 0

    def run(self, k: int, replay: _Replay, t0: float, t1: float) -> None:
        """Decide the limits for [t0, t0 + step), let the cars draw until t1 and record it all."""
        step_s = self.step.total_seconds()
        present = replay.present(t0, t0 + step_s)
        if len(present) == 0:
            return
        sessions = replay.snapshot_sessions(present)
        one_step = SiteSnapshot(
            site=self.site,
            now=_utc(t0),
            sessions=sessions,
            limit_series=self._limits(t0, t0 + step_s),
            horizon=self.step,
            step=self.step,
        )
        data = build_problem(one_step, self.options)
        step = StepLimits.from_problem(data)
        began = time.perf_counter()
        if self.policy == "lp":
            rate = self._lp(step, sessions, float(replay.departure_s[present].max()), t0)
        else:
            rate = RULES[self.policy](step)
        self.decision_s.append(time.perf_counter() - began)

        order = np.array([replay.index_of[session.session_id or ""] for session in data.sessions], dtype=np.int64)
        drawn = replay.draw(order, rate, step.max_kw, t0, t1)
        columns = [self._columns[session.gun_id] for session in data.sessions]
        np.add.at(self.power_kw[k], columns, drawn.energy_kwh / ((t1 - t0) / 3600))
        load_kw, load_a = drawn.peak_loads(step)
        over_kw = load_kw - data.node_static_kw[:, 0]
        over_a = load_a - data.node_static_a[:, :, 0]
        voltage = np.array([self._voltages[node_id] for node_id in data.node_ids])
        converted = over_a * voltage[:, None] / 1000.0
        self.excess_kw[k] = _above_noise(
            max(float(np.max(over_kw, initial=0.0)), float(np.max(converted, initial=0.0)))
        )
        self.worst_excess_a = max(self.worst_excess_a, _above_noise(float(np.max(over_a, initial=0.0))))
        self.peak_kw[k] = float(load_kw[data.node_ids.index(self.site.root.id)])

    def _lp(self, step: StepLimits, sessions: list[Session], last_departure_s: float, t0: float) -> np.ndarray:
        """The LP's first-step limits, planned to the last departure of those present (capped)."""
        step_s = self.step.total_seconds()
        plan_steps = max(1, min(math.ceil((last_departure_s - t0) / step_s), self.plan_steps))
        plan_end = t0 + plan_steps * step_s
        snapshot = SiteSnapshot(
            site=self.site,
            now=_utc(t0),
            sessions=sessions,
            limit_series=self._limits(t0, plan_end),
            tariff=self.price_window.prices(t0, plan_end) if self.price_window is not None else None,
            horizon=plan_steps * self.step,
            step=self.step,
        )
        offered, allocation = lp_limits(snapshot, self.options)
        self.fallback_ticks += allocation.status is SolveStatus.FALLBACK
        return np.array([offered.get(gun, 0.0) for gun in step.gun_ids])

    def _limits(self, begin_s: float, end_s: float) -> dict[str, LimitSeries]:
        cut = {node_id: window.limits(begin_s, end_s) for node_id, window in self.limit_windows.items()}
        return {node_id: series for node_id, series in cut.items() if series is not None}

    @cached_property
    def _columns(self) -> dict[str, int]:
        return {gun: c for c, gun in enumerate(self.site.guns())}

    @cached_property
    def _voltages(self) -> dict[str, float]:
        return {node_id: node.voltage_v for node_id, node in self.site.nodes().items()}


def _above_noise(excess: float) -> float:
    """An excess, or 0 where it is floating-point noise (a limit met exactly sums to a hair over)."""
    return excess if excess > _EXCESS_NOISE else 0.0


def _utc(seconds: float) -> datetime:
    return pd.Timestamp(seconds, unit="s", tz="UTC").to_pydatetime()


@dataclass
class _Draw:
    """What the cars on the guns of one problem drew in one interval (problem order)."""

    energy_kwh: np.ndarray
    power_kw: np.ndarray  # the rate while drawing
    begin_s: np.ndarray
    stop_s: np.ndarray

    def peak_loads(self, step: StepLimits) -> tuple[np.ndarray, np.ndarray]:
        """The highest load per node in kW (N,) and per node and phase in A (N, 3) within the interval.

        Each draw is one segment [begin, stop) at a constant rate, so the load is highest at the
        start of some segment.
        """
        drawing = self.energy_kwh > _ENERGY_TOL_KWH
        if not drawing.any():
            return np.zeros(len(step.limit_kw)), np.zeros((len(step.limit_kw), 3))
        moments = np.unique(self.begin_s[drawing])
        on = (self.begin_s[None, :] <= moments[:, None]) & (moments[:, None] < self.stop_s[None, :]) & drawing
        load = on * self.power_kw[None, :]
        load_kw = (load @ step.membership).max(axis=0)
        load_a = np.stack([((load * step.a_per_kw[:, p]) @ step.membership).max(axis=0) for p in range(3)], axis=1)
        return load_kw, load_a


@dataclass
class _Replay:
    """The sessions being replayed, as arrays, and what they have had so far."""

    sessions: list[Session]
    arrival_s: np.ndarray
    departure_s: np.ndarray
    requested_kwh: np.ndarray
    delivered_kwh: np.ndarray
    gun_code: np.ndarray
    index_of: dict[str, int]
    warnings: list[str]

    @classmethod
    def of(
        cls, site: Site, sessions: list[Session], begin: datetime, finish: datetime, default_energy_kwh: float
    ) -> _Replay:
        inside = [s for s in sessions if s.departure > begin and s.arrival < finish]
        kept, warnings = _drop_overlaps(inside)
        # Session ids must be unique: they key the replay's state. The policies are told the energy
        # the car will take, default included, so that they and the EV model agree.
        renamed = [
            s.model_copy(
                update={
                    "session_id": f"{i}:{s.session_id}",
                    "energy_requested_kwh": default_energy_kwh
                    if s.energy_requested_kwh is None
                    else s.energy_requested_kwh,
                }
            )
            for i, s in enumerate(kept)
        ]
        gun_codes = {gun: c for c, gun in enumerate(site.guns())}
        return cls(
            sessions=renamed,
            arrival_s=np.array([s.arrival.timestamp() for s in kept], dtype=float),
            departure_s=np.array([s.departure.timestamp() for s in kept], dtype=float),
            requested_kwh=np.array([s.energy_requested_kwh or 0.0 for s in renamed], dtype=float),
            delivered_kwh=np.zeros(len(kept)),
            gun_code=np.array([gun_codes[s.gun_id] for s in kept], dtype=np.int64),
            index_of={s.session_id or "": i for i, s in enumerate(renamed)},
            warnings=warnings,
        )

    def present(self, begin_s: float, end_s: float) -> np.ndarray:
        """Sessions overlapping [begin, end) that still want energy, one per gun (the earliest)."""
        wanting = self.requested_kwh - self.delivered_kwh > _ENERGY_TOL_KWH
        candidates = np.flatnonzero((self.arrival_s < end_s) & (self.departure_s > begin_s) & wanting)
        if len(candidates) < 2:
            return candidates
        # A car leaving mid-interval and the next arriving on the same gun: the next waits a tick.
        order = candidates[np.lexsort((self.arrival_s[candidates], self.gun_code[candidates]))]
        first = np.r_[True, self.gun_code[order][1:] != self.gun_code[order][:-1]]
        return np.sort(order[first])

    def snapshot_sessions(self, present: np.ndarray) -> list[Session]:
        return [
            self.sessions[i].model_copy(update={"energy_delivered_kwh": float(self.delivered_kwh[i])}) for i in present
        ]

    def draw(self, order: np.ndarray, limit_kw: np.ndarray, max_kw: np.ndarray, t0: float, t1: float) -> _Draw:
        """The EV model: draw min(limit, car max) from arrival or t0 until full, gone or t1."""
        begin = np.maximum(self.arrival_s[order], t0)
        available_h = np.clip(np.minimum(self.departure_s[order], t1) - begin, 0.0, None) / 3600
        rate = np.clip(np.minimum(limit_kw, max_kw), 0.0, None)
        remaining = np.clip(self.requested_kwh[order] - self.delivered_kwh[order], 0.0, None)
        energy = np.minimum(rate * available_h, remaining)
        on_s = np.divide(energy * 3600, rate, out=np.zeros(len(rate)), where=rate > 0)
        self.delivered_kwh[order] += energy
        return _Draw(energy_kwh=energy, power_kw=rate, begin_s=begin, stop_s=begin + on_s)

    def frame(self) -> pd.DataFrame:
        delivered = np.minimum(self.delivered_kwh, self.requested_kwh)
        return pd.DataFrame(
            {
                "session_id": [(s.session_id or "").split(":", 1)[1] for s in self.sessions],
                "gun": [s.gun_id for s in self.sessions],
                "arrival": pd.to_datetime(self.arrival_s, unit="s", utc=True),
                "departure": pd.to_datetime(self.departure_s, unit="s", utc=True),
                "requested_kwh": self.requested_kwh,
                "delivered_kwh": delivered,
                "satisfied": delivered >= self.requested_kwh - SATISFIED_TOL_KWH,
            }
        )


def _drop_overlaps(sessions: list[Session]) -> tuple[list[Session], list[str]]:
    """Keep sessions in their order, dropping any that starts on a gun before the last one left it."""
    busy_until: dict[str, datetime] = {}
    dropped: set[int] = set()
    warnings = []
    for i in sorted(range(len(sessions)), key=lambda i: (sessions[i].gun_id, sessions[i].arrival, i)):
        session = sessions[i]
        until = busy_until.get(session.gun_id)
        if until is not None and session.arrival < until:
            dropped.add(i)
            warnings.append(
                f"session {session.session_id} on {session.gun_id} arrives at {session.arrival} while the gun is"
                f" busy until {until}: dropped"
            )
            continue
        busy_until[session.gun_id] = session.departure
    return [s for i, s in enumerate(sessions) if i not in dropped], warnings


class _Window:
    """A series' steps, cut to the part a snapshot needs (fitting long series every tick is slow)."""

    def __init__(self, steps: list) -> None:
        self.steps = steps
        self.starts = np.array([step.start.timestamp() for step in steps])
        self.ends = np.array([step.end.timestamp() for step in steps])

    def _span(self, begin_s: float, end_s: float) -> tuple[int, int]:
        first = int(np.searchsorted(self.ends, begin_s, side="right"))
        last = int(np.searchsorted(self.starts, end_s, side="left"))
        return first, last

    def limits(self, begin_s: float, end_s: float) -> LimitSeries | None:
        """The limit steps overlapping [begin, end); None where none does (the static limit holds)."""
        first, last = self._span(begin_s, end_s)
        return LimitSeries.model_construct(steps=self.steps[first:last]) if first < last else None

    def prices(self, begin_s: float, end_s: float) -> PriceSeries:
        """The price steps overlapping [begin, end) and the one before (prices hold over gaps and edges)."""
        first, last = self._span(begin_s, end_s)
        first = min(max(first - 1, 0), len(self.steps) - 1)
        return PriceSeries.model_construct(steps=self.steps[first : max(last, first + 1)])


def _metrics(
    sessions: pd.DataFrame, ticks: _Ticks, energy_per_tick: np.ndarray, tick_prices: np.ndarray
) -> dict[str, float]:
    requested = float(sessions["requested_kwh"].sum())
    delivered = float(sessions["delivered_kwh"].sum())
    wanting = sessions["requested_kwh"].to_numpy() > 0
    ratios = sessions["delivered_kwh"].to_numpy()[wanting] / sessions["requested_kwh"].to_numpy()[wanting]
    times = np.array(ticks.decision_s) if ticks.decision_s else np.array([np.nan])
    return {
        "sessions": float(len(sessions)),
        "energy_requested_kwh": requested,
        "energy_delivered_kwh": delivered,
        "energy_delivered_pct": 100.0 * delivered / requested if requested > 0 else float("nan"),
        "unsatisfied_sessions": float((~sessions["satisfied"]).sum()),
        "peak_site_kw": float(ticks.peak_kw.max(initial=0.0)),
        "worst_limit_excess_kw": float(ticks.excess_kw.max(initial=0.0)),
        "worst_limit_excess_a": ticks.worst_excess_a,
        "tariff_cost": float(np.nansum(energy_per_tick * tick_prices)) if np.isfinite(tick_prices).any() else math.nan,
        "jain_fairness": jain_index(ratios),
        "solve_time_median_s": float(np.median(times)),
        "solve_time_p95_s": float(np.percentile(times, 95)),
        "solve_time_max_s": float(np.max(times)),
        "fallback_ticks": float(ticks.fallback_ticks),
    }


def jain_index(values: np.ndarray) -> float:
    """Jain's fairness index (sum x)^2 / (n sum x^2): 1 when all equal, 1/n when one has it all."""
    squares = float(np.sum(np.square(values)))
    if len(values) == 0 or squares == 0:
        return math.nan
    return float(np.sum(values)) ** 2 / (len(values) * squares)

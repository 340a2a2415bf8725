"""Charging policies for one interval: arrays in, per-gun limits (kW) out.

The simulator compares the LP against the rules a site might run without it. Every rule but
"uncontrolled" respects every limit of the tree (kW, and A on each phase) and never gives a gun a
limit between 0 and its minimum:

    lp            the optimizer's `allocate()` over a rolling horizon; its first step is the limit
    equal         progressive filling (max-min fair): all guns rise together until a cap or a node
                  stops them; guns left below their minimum are dropped, largest deficit first
    edf           earliest deadline first: in order of departure, each gun takes what is left
    uncontrolled  every car draws its maximum; limits are ignored (the simulator measures excess)

The rules see one interval through `StepLimits`, built from the optimizer's own `ProblemData`
(a one-step snapshot), so caps, minima, phase currents and fitted limits mean exactly what they
mean to the LP.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np

from models import Allocation, SiteSnapshot
from optimizer.allocate import allocate
from optimizer.options import OptimizerOptions
from optimizer.problem import ProblemData

PolicyName = Literal["lp", "equal", "edf", "uncontrolled"]
POLICIES: tuple[PolicyName, ...] = get_args(PolicyName)

_TOL = 1e-9
_ENERGY_TOL_KWH = 1e-9


@dataclass(frozen=True)
class StepLimits:
    """The first step of a problem as arrays: `g` a session (gun), `n` a node of the limit tree.

    `cap_kw`: the most a gun may be given (gun, car and gun-limit series), 0 where that is below
    its minimum. `max_kw`: what the car draws when nobody steers it (gun and car maximum).
    `need_kw`: the power that delivers the energy still wanted within the gun's part of the step.
    `membership[g, n]`: node n is above gun g. Node limits are inf where there is none.
    """

    gun_ids: list[str]
    cap_kw: np.ndarray  # (G,)
    max_kw: np.ndarray  # (G,)
    min_kw: np.ndarray  # (G,)
    need_kw: np.ndarray  # (G,)
    departure_s: np.ndarray  # (G,)
    membership: np.ndarray  # (G, N) float 0/1
    a_per_kw: np.ndarray  # (G, 3)
    limit_kw: np.ndarray  # (N,)
    limit_a: np.ndarray  # (N, 3)

    @classmethod
    def from_problem(cls, data: ProblemData, step: int = 0) -> StepLimits:
        gun_count, node_count = len(data.sessions), len(data.node_ids)
        cap = np.zeros(gun_count)
        hours = np.zeros(gun_count)
        in_step = data.col_step == step
        cap[data.col_gun[in_step]] = data.col_upper_kw[in_step]
        hours[data.col_gun[in_step]] = data.col_hours[in_step]
        need = np.divide(data.target_kwh, hours, out=np.zeros(gun_count), where=hours > 0)
        need[data.target_kwh <= _ENERGY_TOL_KWH] = 0.0
        max_kw = np.array(
            [
                min(gun.max_kw(session.ev_phases), session.ev_max_power_kw or np.inf)
                for gun, session in zip(data.guns, data.sessions, strict=True)
            ],
            dtype=float,
        )
        max_kw[hours <= 0] = 0.0
        membership = np.zeros((gun_count, node_count))
        for level in range(data.gun_ancestors.shape[1] if gun_count else 0):
            nodes = data.gun_ancestors[:, level]
            valid = nodes >= 0
            membership[np.flatnonzero(valid), nodes[valid]] = 1.0
        return cls(
            gun_ids=data.gun_ids,
            cap_kw=cap,
            max_kw=max_kw,
            min_kw=data.min_kw.copy(),
            need_kw=need,
            departure_s=data.departure_s.copy(),
            membership=membership,
            a_per_kw=data.phase_a_per_kw.copy(),
            limit_kw=data.node_limit_kw[:, step].copy(),
            limit_a=data.node_limit_a[:, :, step].copy(),
        )

    def offer_cap_kw(self) -> np.ndarray:
        """The most worth offering each gun: its cap, or less when its energy needs less.

        A car that needs less than its minimum still gets the minimum: it draws that until full
        and stops, which is allowed, whereas a limit between 0 and the minimum is not.
        """
        wanted = np.maximum(self.need_kw, self.min_kw)
        offer = np.where(self.need_kw > 0, np.minimum(self.cap_kw, wanted), 0.0)
        offer[offer < self.min_kw - _TOL] = 0.0
        return offer

    def loads(self, power_kw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Load per node in kW (N,) and per node and phase in A (N, 3) of the given gun powers."""
        load_kw = power_kw @ self.membership
        load_a = (power_kw[:, None] * self.a_per_kw).T @ self.membership
        return load_kw, load_a.T


def equal_share(step: StepLimits) -> np.ndarray:
    """Max-min fair limits under every node limit, by progressive filling.

    All offered guns rise together; a gun stops at its cap (gun, car, energy left) and every gun
    under a node stops when that node saturates in kW or on a phase it loads. A gun left below its
    minimum is dropped (the one with the largest deficit first) and the filling starts again, so
    the capacity it held goes to the others.
    """
    cap = step.offer_cap_kw()
    eligible = cap > _TOL
    while True:
        power = _fill(step, cap, eligible)
        deficit = np.where(eligible, step.min_kw - power, -np.inf)
        if len(deficit) == 0 or deficit.max() <= 1e-7:
            return power
        eligible[int(np.argmax(deficit))] = False


def _fill(step: StepLimits, cap: np.ndarray, eligible: np.ndarray) -> np.ndarray:
    """Progressive filling: one pass per gun or node that stops, vectorised over guns and nodes."""
    power = np.zeros(len(cap))
    rising = eligible.copy()
    for _ in range(len(cap) + 4 * len(step.limit_kw) + 1):
        if not rising.any():
            break
        load_kw, load_a = step.loads(power)
        growth_kw, growth_a = step.loads(rising.astype(float))
        room_kw = step.limit_kw - load_kw
        room_a = step.limit_a - load_a
        candidates = [np.min(cap[rising] - power[rising])]
        candidates.append(_min_ratio(room_kw, growth_kw))
        candidates.append(_min_ratio(room_a, growth_a))
        rise = max(0.0, min(candidates))
        power[rising] += rise
        load_kw, load_a = step.loads(power)
        full_kw = _saturated(step.limit_kw, load_kw) & (growth_kw > 0)
        full_a = _saturated(step.limit_a, load_a) & (growth_a > 0)
        stopped = power >= cap - _TOL
        stopped |= step.membership @ full_kw.astype(float) > 0
        stopped |= ((step.membership @ full_a.astype(float)) * (step.a_per_kw > 0)).sum(axis=1) > 0
        rising &= ~stopped
    return np.minimum(power, cap)


def _saturated(limit: np.ndarray, load: np.ndarray) -> np.ndarray:
    finite = np.isfinite(limit)
    bounded = np.where(finite, limit, 0.0)
    return finite & (bounded - load <= _TOL * np.maximum(1.0, bounded))


def _min_ratio(room: np.ndarray, growth: np.ndarray) -> float:
    """How far a common rise can go before the first node with growth runs out of room."""
    moving = growth > 0
    if not moving.any():
        return np.inf
    return float(np.min(np.clip(room[moving], 0.0, None) / growth[moving]))


def earliest_deadline_first(step: StepLimits) -> np.ndarray:
    """In order of departure, each gun takes min(its offer, what every node above it has left)."""
    cap = step.offer_cap_kw()
    room_kw = step.limit_kw.astype(float)
    room_a = step.limit_a.astype(float)
    power = np.zeros(len(cap))
    for g in np.lexsort((np.arange(len(cap)), step.departure_s)):
        if cap[g] <= _TOL:
            continue
        nodes = np.flatnonzero(step.membership[g])
        grant = min(float(cap[g]), float(np.min(room_kw[nodes], initial=np.inf)))
        for phase in np.flatnonzero(step.a_per_kw[g] > 0):
            grant = min(grant, float(np.min(room_a[nodes, phase], initial=np.inf)) / step.a_per_kw[g, phase])
        if grant < step.min_kw[g] - _TOL or grant <= _TOL:
            continue
        power[g] = grant
        room_kw[nodes] = np.clip(room_kw[nodes] - grant, 0.0, None)
        room_a[nodes] = np.clip(room_a[nodes] - grant * step.a_per_kw[g], 0.0, None)
    return power


def uncontrolled(step: StepLimits) -> np.ndarray:
    """Every car draws its maximum, whatever the limits: the baseline whose excess we measure."""
    return np.where(step.need_kw > 0, step.max_kw, 0.0)


RULES = {"equal": equal_share, "edf": earliest_deadline_first, "uncontrolled": uncontrolled}


def lp_limits(snapshot: SiteSnapshot, options: OptimizerOptions | None = None) -> tuple[dict[str, float], Allocation]:
    """The optimizer's limits for the snapshot's first step, and the allocation they come from."""
    allocation = allocate(snapshot, options)
    return {gun: limit.limit_kw for gun, limit in allocation.limits_now.items()}, allocation

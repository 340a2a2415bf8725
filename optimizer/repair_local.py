"""The cheap first pass of the minimum-current repair: move energy between steps of one gun.

Most values below a gun's minimum are the last bit of its energy. Such a value can usually be
raised to the minimum by taking the same energy from another of the gun's steps that stays at or
above its minimum (a donor), or set to 0 by giving its energy to a step that already charges at or
above the minimum and has room (a recipient). Either way the gun's energy, and so every shortfall,
is unchanged and no node loses capacity; only a step's price or earliness differs. A raise or a
recipient must fit in the spare capacity of every node above it, kW and per phase. Where neither
works, the value is raised to the minimum if that fits in the spare capacity (the car stops when
full: its limit is a cap; nobody loses what was spare). What this pass cannot fix is left to the
LP re-solve rounds.
"""

from __future__ import annotations

import numpy as np

from optimizer.problem import ProblemData

_TOL = 1e-6
_FIT_TOL = 1e-9
_FIRST_WINDOW = 64  # columns looked at for a run to fix at once
_SHORT_RUN = 16  # a shorter run sends the next columns one by one (a try costs about 10 of them)
_AT_ONCE_MARGIN = 1e-9  # relative, far above the rounding of a few million sums


def fractional_columns(data: ProblemData, power_kw: np.ndarray) -> np.ndarray:
    min_kw = data.min_kw[data.col_gun]
    return np.flatnonzero((power_kw > _TOL) & (power_kw < min_kw - _TOL))


def shift_within_guns(data: ProblemData, power_kw: np.ndarray) -> np.ndarray:
    """Power per column with as many sub-minimum values fixed as local moves allow.

    Passes repeat while they fix something: a move frees capacity at the step it takes energy
    from, where a value passed over earlier may now fit.
    """
    power = power_kw.copy()
    fractional = fractional_columns(data, power)
    if len(fractional) == 0:
        return power
    load_kw, load_a = data.node_loads(power)
    spare = _Spare(data, data.node_static_kw - load_kw, data.node_static_a - load_a)
    alone = 1
    while len(fractional):
        alone = _fix_in_order(data, power, spare, fractional[np.argsort(-power[fractional])], alone)
        left = fractional_columns(data, power)
        if len(left) == len(fractional):
            break
        fractional = left
    return power


def _fix_in_order(data: ProblemData, power: np.ndarray, spare: _Spare, cols: np.ndarray, alone: int) -> int:
    """`_fix_locally` on each of `cols` in turn; runs that `_raise_with_donor` surely fixes are
    fixed at once (`_raise_with_donors_at_once`), with the same result.

    Runs are looked for in a window that doubles while they fill it. The column that ends a run
    goes alone; after a short run, so do the next ones: `alone` of them, twice as many each time
    this repeats (returned for the next pass). Where runs stay short, this costs little more than
    one by one.
    """
    start, window = 0, _FIRST_WINDOW
    while start < len(cols):
        chunk = cols[start : start + window]
        fixed = _raise_with_donors_at_once(data, power, spare, chunk)
        start += fixed
        if fixed == len(chunk):
            window *= 2
            continue
        alone = 1 if fixed >= _SHORT_RUN else 2 * alone
        for col in cols[start : start + alone]:
            _fix_locally(data, power, spare, col)
        start += alone
        window = max(_FIRST_WINDOW, 2 * fixed)
    return alone


def _raise_with_donors_at_once(data: ProblemData, power: np.ndarray, spare: _Spare, cols: np.ndarray) -> int:
    """How many leading `cols` were fixed, each as `_raise_with_donor` would fix it in turn.

    A column qualifies while its gun is not among those before it (a move changes its own gun's
    columns only), its gun has a donor or no other step charging, and its raise fits the spare
    capacity less every raise before it, with a margin for rounding: the donors' steps only gain
    capacity, so it fits in turn too. The moves are then made in the same order (`ufunc.at`), so
    power and spare capacity are the same to the bit as one by one.
    """
    guns, steps = data.col_gun[cols], data.col_step[cols]
    count = len(cols)
    minimum = data.min_kw[guns]
    raise_kw = minimum - power[cols]
    energy = raise_kw * data.col_hours[cols]
    # Every column of each gun, gun after gun (`owner`: its position in `cols`).
    begin, lengths = data.gun_cols[guns], data.gun_cols[guns + 1] - data.gun_cols[guns]
    owner = np.repeat(np.arange(count), lengths)
    members = np.arange(len(owner)) + np.repeat(begin - (np.cumsum(lengths) - lengths), lengths)
    other = members != cols[owner]
    donor = other & (power[members] - energy[owner] / data.col_hours[members] >= minimum[owner] - _TOL)
    charging = other & (power[members] > _TOL)
    has_donor = np.bincount(owner[donor], minlength=count) > 0
    first = np.zeros(count, dtype=bool)
    first[np.unique(guns, return_index=True)[1]] = True
    ok = first & (has_donor | (np.bincount(owner[charging], minlength=count) == 0))
    a_per_kw = data.phase_a_per_kw[guns]
    for level in range(data.gun_ancestors.shape[1]):
        nodes = data.gun_ancestors[guns, level]
        under = nodes >= 0
        cell = np.where(under, nodes * data.step_count + steps, -1)
        ok &= ~under | _fits_after(spare.kw[nodes, steps], _raised_before(cell, raise_kw), raise_kw)
        for phase in range(3):
            raise_a = raise_kw * a_per_kw[:, phase]
            spare_a = spare.a[nodes, phase, steps]
            ok &= ~under | _fits_after(spare_a, _raised_before(cell, raise_a), raise_a)
    fixed = count if ok.all() else int(np.argmin(ok))
    if fixed == 0:
        return 0
    # The donor: the dearest step, the latest of equally dear ones (`_cheapest_first(...)[-1]`).
    entries = np.flatnonzero(donor[: np.searchsorted(owner, fixed)])
    donor_steps = data.col_step[members[entries]]
    entries = entries[np.lexsort((donor_steps, data.price_norm[donor_steps], owner[entries]))]
    is_last = np.ones(len(entries), dtype=bool)
    is_last[:-1] = owner[entries][1:] != owner[entries][:-1]
    last = entries[is_last]
    donor_col = np.full(fixed, -1)
    donor_col[owner[last]] = members[last]
    given = np.zeros(fixed)
    given[owner[last]] = energy[owner[last]] / data.col_hours[members[last]]
    power[cols[:fixed]] = minimum[:fixed]
    power[members[last]] -= given[owner[last]]
    # The raise, then its donor's give, column after column, as `spare.add` makes them.
    move_gun = np.repeat(guns[:fixed], 2)
    move_step = np.column_stack([steps[:fixed], data.col_step[donor_col]]).ravel()
    move_kw = np.column_stack([raise_kw[:fixed], -given]).ravel()
    made = np.column_stack([np.ones(fixed, dtype=bool), donor_col >= 0]).ravel()
    spare.add_many(move_gun[made], move_step[made], move_kw[made])
    return fixed


def _raised_before(cell: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """Per entry, the sum of `amount` over the entries before it with the same cell (-1: none)."""
    order = np.argsort(cell, kind="stable")
    sorted_cell, sorted_amount = cell[order], amount[order]
    total = np.cumsum(sorted_amount)
    group_start = np.flatnonzero(np.r_[True, sorted_cell[1:] != sorted_cell[:-1]])
    before_group = np.repeat(total[group_start] - sorted_amount[group_start], np.diff(np.r_[group_start, len(cell)]))
    before = np.empty(len(cell))
    before[order] = total - sorted_amount - before_group
    return before


def _fits_after(spare: np.ndarray, raised_before: np.ndarray, raise_: np.ndarray) -> np.ndarray:
    """Whether `raise_` surely fits where `spare` less `raised_before` is left, as `_Spare.fits_one`
    judges it, whatever the rounding of the sums made one by one."""
    margin = np.where(np.isfinite(spare), _AT_ONCE_MARGIN * (1.0 + np.abs(spare) + raised_before), 0.0)
    return spare - raised_before - margin >= raise_ - _FIT_TOL  # inf: no limit, fits


def _fix_locally(data: ProblemData, power: np.ndarray, spare: _Spare, col: int) -> bool:
    """Whether a move fixed `col`, tried in this order: energy kept exactly (taken from or given to
    the gun's other steps), then a raise the car may not use in full."""
    gun = data.col_gun[col]
    cols = np.arange(data.gun_cols[gun], data.gun_cols[gun + 1])
    others = cols[cols != col]
    return (
        _raise_with_donor(data, power, spare, col, others)
        or _lower_to_recipient(data, power, spare, col, others)
        or _raise_past_full(data, power, spare, col)
    )


class _Spare:
    """Spare capacity per node and step, kW and per phase A, updated as power moves."""

    def __init__(self, data: ProblemData, spare_kw: np.ndarray, spare_a: np.ndarray) -> None:
        self.data, self.kw, self.a = data, spare_kw, spare_a
        self._nodes: dict[int, np.ndarray] = {}
        self._paths: dict[int, tuple[int, ...]] = {}

    def nodes(self, gun: int) -> np.ndarray:
        if gun not in self._nodes:
            path = self.data.gun_ancestors[gun]
            self._nodes[gun] = path[path >= 0]
        return self._nodes[gun]

    def fits(self, gun: int, steps: np.ndarray, add_kw: np.ndarray) -> np.ndarray:
        """Per step, whether adding `add_kw` there keeps every node above the gun within limits."""
        nodes = self.nodes(gun)
        coef = self.data.phase_a_per_kw[gun]
        kw_ok = np.all(self.kw[np.ix_(nodes, steps)] >= add_kw[None, :] - _FIT_TOL, axis=0)
        a_room = self.a[nodes][:, :, steps]
        a_ok = np.all(a_room >= (coef[:, None] * add_kw[None, :])[None, :, :] - _FIT_TOL, axis=(0, 1))
        return kw_ok & a_ok

    def fits_one(self, gun: int, step: int, add_kw: float) -> bool:
        """`fits` for one step: the repair's hot path, node by node (a tree is a few levels deep)."""
        need_a = self.data.phase_a_per_kw[gun] * add_kw - _FIT_TOL
        for node in self._path(gun):
            if self.kw[node, step] < add_kw - _FIT_TOL or (self.a[node, :, step] < need_a).any():
                return False
        return True

    def room_kw(self, gun: int, step: int) -> float:
        """The most that can be added for `gun` at `step` within every node above it."""
        nodes = self.nodes(gun)
        coef = self.data.phase_a_per_kw[gun]
        room = float(np.min(self.kw[nodes, step], initial=np.inf))
        loaded = coef > 0
        if loaded.any():
            room = min(room, float(np.min(self.a[nodes][:, loaded, step] / coef[loaded], initial=np.inf)))
        return room

    def add(self, gun: int, step: int, kw: float) -> None:
        current_a = kw * self.data.phase_a_per_kw[gun]
        for node in self._path(gun):
            self.kw[node, step] -= kw
            self.a[node, :, step] -= current_a

    def add_many(self, guns: np.ndarray, steps: np.ndarray, kw: np.ndarray) -> None:
        """`add` for each (gun, step, kw) in turn: the same arithmetic in the same order."""
        current_a = kw[:, None] * self.data.phase_a_per_kw[guns]
        for level in range(self.data.gun_ancestors.shape[1]):
            nodes = self.data.gun_ancestors[guns, level]
            under = nodes >= 0
            np.subtract.at(self.kw, (nodes[under], steps[under]), kw[under])
            cells = (nodes[under][:, None], np.arange(3)[None, :], steps[under][:, None])
            np.subtract.at(self.a, cells, current_a[under])

    def _path(self, gun: int) -> tuple[int, ...]:
        """The nodes above `gun` as plain ints, for scalar indexing."""
        if gun not in self._paths:
            self._paths[gun] = tuple(int(node) for node in self.nodes(gun))
        return self._paths[gun]


def _cheapest_first(data: ProblemData, cols: np.ndarray) -> np.ndarray:
    return cols[np.lexsort((data.col_step[cols], data.price_norm[data.col_step[cols]]))]


def _raise_with_donor(data: ProblemData, power: np.ndarray, spare: _Spare, col: int, others: np.ndarray) -> bool:
    gun, step = data.col_gun[col], data.col_step[col]
    minimum = data.min_kw[gun]
    raise_kw = minimum - power[col]
    if not spare.fits_one(gun, step, raise_kw):
        return False
    energy = raise_kw * data.col_hours[col]
    give_kw = energy / data.col_hours[others]
    donors = others[power[others] - give_kw >= minimum - _TOL]
    if len(donors) == 0 and np.any(power[others] > _TOL):
        return False
    power[col] = minimum
    spare.add(gun, step, raise_kw)
    if len(donors):  # otherwise the gun's only charging step: the car stops when full
        donor = _cheapest_first(data, donors)[-1]
        given = energy / data.col_hours[donor]
        power[donor] -= given
        spare.add(gun, data.col_step[donor], -given)
    return True


def _lower_to_recipient(data: ProblemData, power: np.ndarray, spare: _Spare, col: int, others: np.ndarray) -> bool:
    """Set `col` to 0 and give its energy to one of the gun's steps at or above its minimum; only
    the energy the gun's other steps do not already cover (after a raise past full, maybe none)."""
    gun, step = data.col_gun[col], data.col_step[col]
    covered_kwh = float(power[others] @ data.col_hours[others])
    energy = min(power[col] * data.col_hours[col], max(data.target_kwh[gun] - covered_kwh, 0.0))
    if energy <= _TOL:
        spare.add(gun, step, -power[col])
        power[col] = 0.0
        return True
    candidates = others[power[others] >= data.min_kw[gun] - _TOL]
    if len(candidates) == 0:
        return False
    add_kw = energy / data.col_hours[candidates]
    room = power[candidates] + add_kw <= data.col_upper_kw[candidates] + _FIT_TOL
    room &= spare.fits(gun, data.col_step[candidates], add_kw)
    if not room.any():
        return False
    recipient = _cheapest_first(data, candidates[room])[0]
    added = energy / data.col_hours[recipient]
    spare.add(gun, step, -power[col])
    power[col] = 0.0
    power[recipient] += added
    spare.add(gun, data.col_step[recipient], added)
    return True


def _raise_past_full(data: ProblemData, power: np.ndarray, spare: _Spare, col: int) -> bool:
    """Raise to the minimum where that fits in the spare capacity, though the gun then plans more
    energy than it wants: its limit is a cap, the car stops when full, and no gun loses anything.
    (A later move of the same gun gives away only what is still wanted: `_lower_to_recipient`.)"""
    gun, step = data.col_gun[col], data.col_step[col]
    raise_kw = data.min_kw[gun] - power[col]
    if raise_kw > data.col_upper_kw[col] - power[col] + _FIT_TOL or not spare.fits_one(gun, step, raise_kw):
        return False
    power[col] = data.min_kw[gun]
    spare.add(gun, step, raise_kw)
    return True


def top_up(data: ProblemData, power_kw: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Give spare capacity at `steps` to guns charging there at or above their minimum.

    Guns that still want energy are served by priority, then earliest departure, each up to its
    cap, its remaining energy and what every node above it has left; a gun at 0 there only if
    at least its minimum fits. No value below a minimum appears.
    """
    power = power_kw.copy()
    if len(steps) == 0:
        return power
    load_kw, load_a = data.node_loads(power)
    spare = _Spare(data, data.node_static_kw - load_kw, data.node_static_a - load_a)
    wanted_kwh = data.target_kwh - data.planned_kwh(power)
    order = np.lexsort((data.departure_s[data.col_gun], -data.priority[data.col_gun]))
    for col in order[np.isin(data.col_step[order], steps)]:
        gun, step = data.col_gun[col], data.col_step[col]
        room_kw = min(data.col_upper_kw[col] - power[col], wanted_kwh[gun] / data.col_hours[col])
        if room_kw <= _TOL:
            continue
        room_kw = min(room_kw, spare.room_kw(gun, step))
        if room_kw <= _TOL or power[col] + room_kw < data.min_kw[gun] - _TOL:
            continue
        power[col] += room_kw
        wanted_kwh[gun] -= room_kw * data.col_hours[col]
        spare.add(gun, step, room_kw)
    return power

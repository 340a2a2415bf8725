"""The repair's local pass fixes runs of columns at once: the result must be that of one by one.

`_fix_in_order` hands the runs it can vouch for to a vectorised move and the rest to
`_fix_locally`; here each column also goes to `_fix_locally` in the same order, as the pass did
before the runs, and power and spare capacity must agree to the bit, on any power and spare.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from models import SiteSnapshot
from optimizer import OptimizerOptions
from optimizer.problem import ProblemData, build_problem
from optimizer.repair_local import _fix_in_order, _fix_locally, _Spare, fractional_columns
from tests.strategies import options, snapshots


def some_power(data: ProblemData, seed: int) -> np.ndarray:
    """Per column 0, a value below the gun's minimum, or one from the minimum to the cap."""
    rng = np.random.default_rng(seed)
    minimum = data.min_kw[data.col_gun]
    upper = np.maximum(data.col_upper_kw, minimum)
    kind = rng.choice(3, size=len(data.col_gun), p=[0.3, 0.3, 0.4])
    below = rng.uniform(0.0, 1.0, len(kind)) * minimum
    above = minimum + rng.uniform(0.0, 1.0, len(kind)) * (upper - minimum)
    return np.select([kind == 0, kind == 1], [np.zeros(len(kind)), below], above)


def some_spare(data: ProblemData, power: np.ndarray, tight: bool, seed: int) -> _Spare:
    """What `power` leaves of the limits, or (tight) spare capacity of a few minima at most, often
    less than two raises need: whether the raises before a column leave it room decides the move."""
    if not tight:
        load_kw, load_a = data.node_loads(power)
        return _Spare(data, data.node_static_kw - load_kw, data.node_static_a - load_a)
    rng = np.random.default_rng(seed)
    scale = 3.0 * float(np.max(data.min_kw, initial=1.0))
    kw = rng.uniform(-0.1, 1.0, data.node_static_kw.shape) * scale
    a = rng.uniform(-0.1, 1.0, data.node_static_a.shape) * scale * 5.0
    return _Spare(data, np.where(rng.random(kw.shape) < 0.2, np.inf, kw), a)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(snapshot=snapshots(), chosen=options(), tight=st.booleans(), seed=st.integers(0, 2**32 - 1))
def test_runs_at_once_move_as_one_by_one(
    snapshot: SiteSnapshot, chosen: OptimizerOptions, tight: bool, seed: int
) -> None:
    data = build_problem(snapshot, chosen)
    power = some_power(data, seed)
    fractional = fractional_columns(data, power)
    cols = fractional[np.argsort(-power[fractional])]
    at_once, alone = power.copy(), power.copy()
    spare_at_once, spare_alone = some_spare(data, power, tight, seed), some_spare(data, power, tight, seed)
    _fix_in_order(data, at_once, spare_at_once, cols, 1)
    for col in cols:
        _fix_locally(data, alone, spare_alone, col)
    np.testing.assert_array_equal(at_once, alone)
    np.testing.assert_array_equal(spare_at_once.kw, spare_alone.kw)
    np.testing.assert_array_equal(spare_at_once.a, spare_alone.a)

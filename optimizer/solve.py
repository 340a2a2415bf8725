"""HiGHS on our arrays: time limit always set, status mapped onto our own, re-solve in place."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
from highspy._core import _Highs

from models.allocation import SolverOutcome
from optimizer.lp import LinearProgram

_FEASIBLE_SOLUTION = 2  # HiGHS SolutionStatus kSolutionStatusFeasible
_COLUMN_WISE = int(highspy.MatrixFormat.kColwise)
_MINIMIZE = int(highspy.ObjSense.kMinimize)
_PRIMAL_SIMPLEX = 4  # HiGHS option simplex_strategy: 1 dual, 4 primal


@dataclass(frozen=True)
class SolverResult:
    outcome: SolverOutcome
    solution: np.ndarray | None
    objective: float
    time_s: float


class HighsSolver:
    """One HiGHS instance holding one LP; bounds can change and the LP be re-solved warm."""

    def __init__(
        self, lp: LinearProgram, method: Literal["simplex", "ipm"], time_limit_s: float, presolve: bool = False
    ) -> None:
        # The bare binding: highspy.Highs() adds a Python log callback that prints HiGHS's banner
        # on stdout before any option can silence it (HiGHS issue #2749), into `gridcharge plan`'s
        # table and every notebook cell; nothing here uses what the wrapper adds.
        self._highs = _Highs()
        self._highs.setOptionValue("output_flag", False)
        self._highs.setOptionValue("presolve", "on" if presolve else "off")
        self.set_time_limit(time_limit_s)
        self._highs.setOptionValue("solver", "simplex" if method == "simplex" else "ipm")
        if method == "simplex":
            self._highs.setOptionValue("simplex_strategy", 1)  # dual
        # The array overload: HiGHS copies the numpy arrays once (a HighsLp's attributes would be
        # converted element by element, ~50 ms at 5,000 guns x 96 steps). Infinite row bounds need
        # no mapping: highspy.kHighsInf is the float infinity.
        status = self._highs.passModel(
            len(lp.cost),
            lp.row_count,
            len(lp.value),
            _COLUMN_WISE,
            _MINIMIZE,
            0.0,
            lp.cost,
            lp.col_lower,
            lp.col_upper,
            lp.row_lower,
            lp.row_upper,
            lp.start,
            lp.index,
            lp.value,
            np.zeros(len(lp.cost), dtype=np.int32),  # every column continuous
        )
        if status != highspy.HighsStatus.kOk:
            raise RuntimeError(f"HiGHS refused the LP: {status}")
        self._col_count = len(lp.cost)
        self._row_count = lp.row_count
        self._structure = (lp.start, lp.index, lp.value)

    def holds_structure_of(self, lp: LinearProgram) -> bool:
        """Whether `lp` has the same rows, columns and nonzero pattern as the model held.

        Its costs, bounds and coefficients may differ: as `now` moves between runs, the hours of a
        session's partial first and last steps change the coefficients of its energy row, and
        nothing else changes for minutes.
        """
        start, index, _ = self._structure
        return (
            lp.row_count == self._row_count
            and len(start) == len(lp.start)
            and len(index) == len(lp.index)
            and np.array_equal(start, lp.start)
            and np.array_equal(index, lp.index)
        )

    def load_data(self, lp: LinearProgram, time_limit_s: float) -> None:
        """Replace costs, bounds and changed coefficients in place; the next solve starts from the
        last basis (measured on 1,000 equal guns x 96 steps: 0.3-0.4 s against 1.1-1.5 s cold)."""
        _, _, value = self._structure
        changed = np.flatnonzero(value != lp.value)
        cols_of_changed = np.searchsorted(lp.start, changed, side="right") - 1
        for nonzero, col in zip(changed.tolist(), cols_of_changed.tolist(), strict=True):
            self._highs.changeCoeff(int(lp.index[nonzero]), col, float(lp.value[nonzero]))
        self._structure = (lp.start, lp.index, lp.value)
        cols = np.arange(self._col_count, dtype=np.int32)
        rows = np.arange(lp.row_count, dtype=np.int32)
        self._highs.changeColsCost(self._col_count, cols, lp.cost)
        self._highs.changeColsBounds(self._col_count, cols, lp.col_lower, lp.col_upper)
        self.change_row_bounds(rows, lp.row_lower, lp.row_upper)  # highspy.kHighsInf is numpy's inf
        self.set_time_limit(time_limit_s)

    def set_time_limit(self, time_limit_s: float) -> None:
        """The time the next solves may take, each (HiGHS's own limit counts every run of the
        object so far: `solve` sets it from there)."""
        self._time_limit_s = max(float(time_limit_s), 1e-3)

    def change_bounds(self, cols: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(cols):
            self._highs.changeColsBounds(len(cols), cols.astype(np.int32), lower, upper)

    def set_semi_continuous(self, cols: np.ndarray, minimum: np.ndarray, upper: np.ndarray, on: bool) -> None:
        """Make columns 0-or-[minimum, upper] (a small MILP), or plain [0, upper] again."""
        if len(cols) == 0:
            return
        kind = highspy.HighsVarType.kSemiContinuous if on else highspy.HighsVarType.kContinuous
        # The default 1e-4 relative gap would ignore the tie-breaks (earliness, fairness) entirely.
        self._highs.setOptionValue("mip_rel_gap", 0.0)
        self._highs.setOptionValue("mip_abs_gap", 1e-7)
        self._highs.changeColsIntegrality(len(cols), cols.astype(np.int32), np.array([kind] * len(cols)))
        self.change_bounds(cols, minimum if on else np.zeros(len(cols)), upper)

    def change_row_bounds(self, rows: np.ndarray, lower: np.ndarray, upper: np.ndarray) -> None:
        if len(rows):
            self._highs.changeRowsBounds(len(rows), rows.astype(np.int32), lower, upper)  # type: ignore[attr-defined]

    def resolve_after_bounds_changed(self) -> SolverResult:
        """Re-solve from the last basis with primal simplex, then restore the configured method.

        Measured on the repair's re-solves (a few dozen columns fixed at 0 or their minimum):
        dual simplex from the old basis took 6.0 s where the first solve took 1.7 s at 5,000 guns
        x 1 step, and needed six rounds at 5,000 x 24; primal simplex took 0.35 s and 0.1 s, and
        its vertex left fewer values below a minimum (two solves in all at 5,000 x 24).
        """
        with self._primal_simplex():
            return self.solve()

    @contextmanager
    def _primal_simplex(self) -> Iterator[None]:
        _, method = self._highs.getOptionValue("solver")
        _, strategy = self._highs.getOptionValue("simplex_strategy")
        self._highs.setOptionValue("solver", "simplex")
        self._highs.setOptionValue("simplex_strategy", _PRIMAL_SIMPLEX)
        try:
            yield
        finally:
            self._highs.setOptionValue("solver", method)
            self._highs.setOptionValue("simplex_strategy", strategy)

    def solve(self) -> SolverResult:
        began = time.perf_counter()
        if self._col_count == 0:
            return SolverResult(SolverOutcome.OPTIMAL, np.zeros(0), 0.0, 0.0)
        # HiGHS's time_limit bounds the run time of the object since it was made, all runs together.
        self._highs.setOptionValue("time_limit", self._highs.getRunTime() + self._time_limit_s)
        self._highs.run()
        if self._highs.getModelStatus() == highspy.HighsModelStatus.kUnknown:
            # Seen on a 45-column LP (tests/optimizer/test_readable.py, seed 19): dual simplex
            # stopped with a dual infeasibility of 0.001 it could not clean up, and a re-run from
            # that basis changed nothing; primal simplex from scratch proves the optimum.
            self._highs.clearSolver()
            with self._primal_simplex():
                self._highs.run()
        elapsed = time.perf_counter() - began
        status = self._highs.getModelStatus()
        info = self._highs.getInfo()
        outcome = map_highs_status(status, info.primal_solution_status)
        if outcome in (SolverOutcome.OPTIMAL, SolverOutcome.FEASIBLE):
            solution = np.asarray(self._highs.getSolution().col_value)
            return SolverResult(outcome, solution, float(info.objective_function_value), elapsed)
        return SolverResult(outcome, None, float("nan"), elapsed)


def map_highs_status(status: highspy.HighsModelStatus, primal_solution_status: int) -> SolverOutcome:
    """Only kOptimal is proof; a stopped run with a feasible point is feasible-not-proven."""
    if status == highspy.HighsModelStatus.kOptimal:
        return SolverOutcome.OPTIMAL
    if status == highspy.HighsModelStatus.kInfeasible:
        return SolverOutcome.INFEASIBLE
    if primal_solution_status == _FEASIBLE_SOLUTION:
        return SolverOutcome.FEASIBLE
    return SolverOutcome.ERROR

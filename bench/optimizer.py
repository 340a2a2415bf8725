"""Optimizer benchmark: how long `allocate` takes, where the time goes, and against what.

    python bench/optimizer.py            # the full run (tens of minutes on 2 cores)
    python bench/optimizer.py --quick    # a tiny subset, a smoke test (under a minute)
    python bench/optimizer.py --kinds workplace --guns 1000 5000 --steps 96   # just the targets' cases

For N guns in {10, 100, 1000, 5000} and T steps of 15 minutes in {1, 24, 96}, with and without a
per-phase current limit at the grid connection, on the two instances of `bench/instances.py`
(workplace at 10:00, overnight depot), it prints median times of the whole `allocate` call and its
parts (build: `build_problem` + `assemble`; solve: HiGHS and the minimum-current repair; post:
`build_allocation`, explanations being written only when read), peak memory, the raw HiGHS solve
of the same matrices (the floor: what the solver alone needs), and the same LP written the naive
way in PuLP (`optimizer.readable`, one constraint at a time) and solved by PuLP's bundled CBC,
measured in the same run in a child process (so that it can be stopped, and its memory does not
stay with us).

Then: the targets, met or missed; the greedy fallback's time; what the minimum-current repair costs
in objective; HiGHS dual simplex against interior point; the largest depot solved within 1 s.

This is a script, not a test: timings on a shared machine are facts to read, not to assert.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

_ROOT = Path(__file__).resolve().parent.parent
# `python bench/optimizer.py` puts bench/ first on sys.path, where this very file would shadow the
# `optimizer` package: the project root goes there instead.
if sys.path and Path(sys.path[0]).resolve() == _ROOT / "bench":
    sys.path[0] = str(_ROOT)

import numpy as np  # noqa: E402

from bench.instances import Kind, snapshot  # noqa: E402
from models import Allocation, SiteSnapshot  # noqa: E402
from optimizer import OptimizerOptions, allocate  # noqa: E402
from optimizer.allocate import presolve_for  # noqa: E402
from optimizer.fallback import greedy_allocation  # noqa: E402
from optimizer.lp import LinearProgram, assemble  # noqa: E402
from optimizer.problem import build_problem  # noqa: E402
from optimizer.readable import build_pulp_model, solve_pulp_model  # noqa: E402
from optimizer.solve import HighsSolver  # noqa: E402

KINDS: tuple[Kind, ...] = ("workplace", "depot")
GUNS = (10, 100, 1000, 5000)
STEPS = (1, 24, 96)
QUICK_GUNS = (10, 100)
QUICK_STEPS = (1, 24)
TIME_LIMIT_S = 60.0  # generous, so that big instances are measured to the end, not cut off
NAIVE_SKIP_S = 120.0  # naive runs predicted longer than this are skipped ...
NAIVE_BUDGET_S = 300.0  # ... except the required ones, stopped after this (a lower bound then)
NAIVE_REQUIRED = {("workplace", 1000, 96, True), ("workplace", 1000, 96, False), ("workplace", 5000, 96, True)}
TARGET_CASE = ("workplace", 5000, 96, True)


@dataclass(frozen=True)
class Case:
    kind: Kind
    guns: int
    steps: int
    per_phase: bool

    @property
    def key(self) -> tuple[str, int, int, bool]:
        return (self.kind, self.guns, self.steps, self.per_phase)

    def snapshot(self) -> SiteSnapshot:
        return snapshot(self.kind, self.guns, self.steps, self.per_phase)


@dataclass
class Naive:
    """The PuLP + CBC baseline of one case; `note` says why it has no figures, if so."""

    build_s: float = math.nan
    solve_s: float = math.nan
    total_s: float = math.nan
    objective: float = math.nan
    status: str = ""
    note: str = ""


@dataclass
class Measured:
    case: Case
    cols: int
    rows: int
    nonzeros: int
    build_s: float
    solve_s: float
    post_s: float
    total_s: float
    raw_s: float
    runs: int
    cpu_ratio: float  # process CPU time / wall time of the timed allocate runs
    peak_mb: float
    status: str
    lp_objective: float
    objective: float
    repair_cost: float  # Allocation.repair_cost: share of the LP's gain over charging nobody
    repair_vs_lp: float  # (after repair - LP optimum) / |LP optimum|
    lost_kwh: float
    naive: Naive = field(default_factory=Naive)

    @property
    def floor_ratio(self) -> float:
        return self.total_s / self.raw_s if self.raw_s > 0 else math.nan

    @property
    def naive_ratio(self) -> float:
        return self.naive.total_s / self.total_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a tiny subset, as a smoke test")
    parser.add_argument("--kinds", nargs="+", choices=KINDS, default=KINDS, help="instances to run (default: both)")
    parser.add_argument("--guns", nargs="+", type=int, help=f"gun counts (default: {' '.join(map(str, GUNS))})")
    parser.add_argument("--steps", nargs="+", type=int, help=f"step counts (default: {' '.join(map(str, STEPS))})")
    parser.add_argument(
        "--naive-child", nargs=4, metavar=("KIND", "GUNS", "STEPS", "PER_PHASE"), help=argparse.SUPPRESS
    )
    parser.add_argument("--naive-budget", type=float, default=NAIVE_BUDGET_S, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.naive_child:
        kind, guns, steps, per_phase = args.naive_child
        _naive_child(Case(kind, int(guns), int(steps), per_phase == "1"), args.naive_budget)
        return
    began = time.perf_counter()
    quick = bool(args.quick)
    guns, steps = (QUICK_GUNS, QUICK_STEPS) if quick else (GUNS, STEPS)
    guns, steps, kinds = tuple(args.guns or guns), tuple(args.steps or steps), tuple(args.kinds)
    _say(f"# Optimizer benchmark{' (quick)' if quick else ''}")
    _say(f"code: {_revision()}; OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}")
    _say(
        f"{os.cpu_count()} cores, Python {sys.version.split()[0]}, HiGHS time limit {TIME_LIMIT_S:g} s;"
        " times are medians"
    )
    results: dict[tuple[str, int, int, bool], Measured] = {}
    naive_rate: list[float] = []  # seconds per nonzero of the naive runs measured so far
    for kind in kinds:
        for case in _cases(kind, guns, steps):
            measured = _measure(case, quick)
            measured.naive = _naive(case, measured, naive_rate, quick)
            results[case.key] = measured
            _say(_progress(measured))
    _say("")
    for kind in kinds:
        _table(f"## {kind}", [m for m in results.values() if m.case.kind == kind])
    _repair_table(list(results.values()))
    greedy = _greedy(quick)
    if (guns, steps, kinds) == (GUNS, STEPS, KINDS) or quick:  # not on a chosen subset: they run big cases
        _methods(quick)
    if "depot" in kinds:
        _largest_within(results, "depot", 1.0)
    _targets(results, greedy, quick)
    _say(f"\n(benchmark ran {time.perf_counter() - began:.0f} s)")


def _revision() -> str:
    """The commit measured, and whether optimizer/ or models/ differ from it (read-only git calls)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "optimizer", "models"], cwd=_ROOT, capture_output=True, text=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}{' + local changes in optimizer/ or models/' if dirty else ''}"


def _cases(kind: Kind, guns: tuple[int, ...], steps: tuple[int, ...]) -> Iterator[Case]:
    """Smallest first, so that the naive baseline's rate is known before the big ones."""
    for count in guns:
        for step_count in steps:
            for per_phase in (False, True):
                yield Case(kind, count, step_count, per_phase)


# --- allocate, its parts, the raw HiGHS floor, memory -------------------------------------------


def _options(method: Literal["simplex", "ipm"] = "simplex") -> OptimizerOptions:
    return OptimizerOptions(time_limit_s=TIME_LIMIT_S, method=method)


def _repeats(first_s: float, quick: bool) -> int:
    """Timed runs after a warm-up: many for fast cases, fewer for slow ones."""
    if quick:
        return 3
    if first_s < 0.5:
        return 7
    return 5 if first_s < 3.0 else 3


def _measure(case: Case, quick: bool) -> Measured:
    snap = case.snapshot()
    options = _options()
    first = allocate(snap, options)  # warm-up, and the plan whose quality is reported
    warm_s = first.build_time_s + first.solve_time_s
    runs: list[tuple[float, Allocation]] = []
    cpu_s = 0.0
    for _ in range(_repeats(warm_s, quick)):
        began, began_cpu = time.perf_counter(), time.process_time()
        allocation = allocate(snap, options)
        runs.append((time.perf_counter() - began, allocation))
        cpu_s += time.process_time() - began_cpu
    total = statistics.median(wall for wall, _ in runs)
    build = statistics.median(a.build_time_s for _, a in runs)
    solve = statistics.median(a.solve_time_s for _, a in runs)
    post = statistics.median(wall - a.build_time_s - a.solve_time_s for wall, a in runs)
    data = build_problem(snap, options)
    lp = assemble(data, options)
    raw, lp_power = _raw_solve(lp, options, len(runs))
    lost_kwh = float(data.planned_kwh(lp_power).sum() - first.sessions["planned_kwh"].sum()) if len(lp_power) else 0.0
    return Measured(
        case=case,
        cols=len(lp.cost),
        rows=lp.row_count,
        nonzeros=len(lp.value),
        build_s=build,
        solve_s=solve,
        post_s=post,
        total_s=total,
        raw_s=raw,
        runs=len(runs),
        cpu_ratio=cpu_s / sum(wall for wall, _ in runs),
        peak_mb=_tracemalloc_peak(lambda: allocate(snap, options)),
        status=str(first.status),
        lp_objective=first.lp_objective,
        objective=first.objective,
        repair_cost=first.repair_cost,
        repair_vs_lp=(first.objective - first.lp_objective) / max(abs(first.lp_objective), 1e-9),
        lost_kwh=lost_kwh,
    )


def _raw_solve(lp: LinearProgram, options: OptimizerOptions, repeats: int) -> tuple[float, np.ndarray]:
    """Median time of HiGHS alone on the assembled arrays, each run on a freshly passed model.

    Passing the model to HiGHS is left out: only `run()` and reading the solution are timed.
    """
    times = []
    power = np.zeros(0)
    for _ in range(repeats):
        solver = HighsSolver(lp, options.method, options.time_limit_s, presolve=presolve_for(options, lp))
        result = solver.solve()
        times.append(result.time_s)
        if result.solution is not None:
            power = result.solution[: lp.layout.power_count]
    return statistics.median(times), power


def _tracemalloc_peak(run: Callable[[], object]) -> float:
    """Peak of Python and numpy allocations during `run`, in MB.

    HiGHS's own (C++) memory is not seen; a process's peak RSS cannot be reset per case reliably
    (memory freed by an earlier case is reused unseen), so it is not reported.
    """
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1] / 1e6
    finally:
        tracemalloc.stop()


# --- the naive baseline: PuLP one constraint at a time, bundled CBC, in a child process ----------


def _naive(case: Case, measured: Measured, rate: list[float], quick: bool) -> Naive:
    required = case.key in NAIVE_REQUIRED and not quick
    predicted = (rate[-1] if rate else 0.0) * measured.nonzeros  # cases come smallest first
    if not required and predicted > NAIVE_SKIP_S:
        return Naive(note=f"skipped (~{predicted:.0f} s predicted)")
    budget = NAIVE_BUDGET_S if required else 2 * NAIVE_SKIP_S
    naive = _run_naive_child(case, budget)
    if math.isfinite(naive.total_s):
        rate.append(naive.total_s / max(measured.nonzeros, 1))
    elif naive.note.startswith("timeout"):
        rate.append(budget / max(measured.nonzeros, 1))
    return naive


def _run_naive_child(case: Case, budget_s: float) -> Naive:
    """Run the baseline in its own process group, so that CBC goes too when time runs out."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--naive-child",
        case.kind,
        str(case.guns),
        str(case.steps),
        "1" if case.per_phase else "0",
        "--naive-budget",
        str(budget_s),
    ]
    child = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        out, _ = child.communicate(timeout=budget_s + 30.0)
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        return Naive(total_s=math.nan, note=f"timeout > {budget_s:.0f} s")
    lines = [line for line in out.splitlines() if line.startswith("{")]
    if child.returncode != 0 or not lines:
        return Naive(note=f"failed (exit {child.returncode})")
    return Naive(**json.loads(lines[-1]))


def _naive_child(case: Case, budget_s: float) -> None:
    """Snapshot -> `build_problem` -> PuLP model -> CBC, timed; repeated while it is quick."""
    snap = case.snapshot()
    options = _options()
    runs: list[tuple[float, float, str, float]] = []
    spent = 0.0
    while len(runs) < 5 and (not runs or spent < 3.0):
        began = time.perf_counter()
        model = build_pulp_model(build_problem(snap, options), options)
        built = time.perf_counter()
        outcome, objective = solve_pulp_model(model, "cbc", max(budget_s - (built - began), 1.0))
        solved = time.perf_counter()
        runs.append((built - began, solved - built, str(outcome), objective))
        spent += solved - began
        del model
    print(
        json.dumps(
            {
                "build_s": statistics.median(r[0] for r in runs),
                "solve_s": statistics.median(r[1] for r in runs),
                "total_s": statistics.median(r[0] + r[1] for r in runs),
                "status": runs[-1][2],
                "objective": runs[-1][3],
            }
        ),
        flush=True,
    )


# --- the other questions ---------------------------------------------------------------------------


def _greedy(quick: bool) -> dict[tuple[str, int], float]:
    """Median time of the greedy fallback alone (ProblemData built beforehand), 96 steps, phases."""
    sizes: list[tuple[Kind, int]] = [("workplace", 1000)]
    if not quick:
        sizes += [("workplace", 5000), ("workplace", 10000), ("depot", 5000), ("depot", 10000)]
    _say("\n## Greedy fallback (96 steps, per-phase limits; `greedy_allocation` alone)\n")
    _say("| instance | guns | columns | median ms | runs |")
    _say("|---|---:|---:|---:|---:|")
    found: dict[tuple[str, int], float] = {}
    for kind, guns in sizes:
        data = build_problem(snapshot(kind, guns, 96, True), _options())
        greedy_allocation(data)
        times = []
        for _ in range(3 if quick else 7):
            began = time.perf_counter()
            greedy_allocation(data)
            times.append(time.perf_counter() - began)
        found[(kind, guns)] = statistics.median(times)
        _say(f"| {kind} | {guns} | {len(data.col_gun)} | {found[(kind, guns)] * 1e3:.1f} | {len(times)} |")
    return found


def _methods(quick: bool) -> None:
    """HiGHS dual simplex against interior point on our structure (whole allocate, and HiGHS alone)."""
    cases = (
        [Case("workplace", 100, 24, True)]
        if quick
        else [
            Case("workplace", 1000, 96, True),
            Case("workplace", 5000, 96, True),
            Case("workplace", 5000, 96, False),
            Case("depot", 1000, 96, True),
            Case("depot", 5000, 24, True),
            Case("depot", 5000, 96, True),
        ]
    )
    _say("\n## HiGHS dual simplex vs interior point (`OptimizerOptions(method=...)`)\n")
    _say(
        "| instance | guns | steps | phases | simplex allocate s | ipm allocate s | simplex HiGHS s | ipm HiGHS s |"
        " ipm / simplex (allocate) | LP objective rel. diff |"
    )
    _say("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for case in cases:
        snap = case.snapshot()
        row = {}
        for method in ("simplex", "ipm"):
            options = _options(method)
            warm = allocate(snap, options)
            runs = []
            for _ in range(1 if warm.build_time_s + warm.solve_time_s > 5.0 else 3):
                began = time.perf_counter()
                allocation = allocate(snap, options)
                runs.append((time.perf_counter() - began, allocation))
            lp = assemble(build_problem(snap, options), options)
            raw, _ = _raw_solve(lp, options, len(runs))
            row[method] = (statistics.median(w for w, _ in runs), raw, runs[0][1].lp_objective)
        (s_total, s_raw, s_obj), (i_total, i_raw, i_obj) = row["simplex"], row["ipm"]
        diff = abs(i_obj - s_obj) / max(abs(s_obj), 1e-9)
        _say(
            f"| {case.kind} | {case.guns} | {case.steps} | {_phase(case)} | {s_total:.3f} | {i_total:.3f} |"
            f" {s_raw:.3f} | {i_raw:.3f} | {i_total / s_total:.2f} | {diff:.1e} |"
        )


def _largest_within(results: dict[tuple[str, int, int, bool], Measured], kind: str, limit_s: float) -> None:
    _say(f"\n## Largest {kind} solved within {limit_s:g} s (whole allocate, median)\n")
    for per_phase in (False, True):
        within = [m for m in results.values() if m.case.kind == kind and m.case.per_phase == per_phase]
        within = [m for m in within if m.total_s <= limit_s]
        if not within:
            _say(f"- {_phase_words(per_phase)}: none")
            continue
        best = max(within, key=lambda m: (m.cols, m.case.guns * m.case.steps))
        _say(
            f"- {_phase_words(per_phase)}: {best.case.guns} guns x {best.case.steps} steps"
            f" ({best.cols} columns) in {best.total_s:.3f} s"
        )


def _targets(
    results: dict[tuple[str, int, int, bool], Measured], greedy: dict[tuple[str, int], float], quick: bool
) -> None:
    _say("\n## Targets (workplace instance)\n")
    if quick:
        _say("(not judged in --quick mode)")
        return
    if TARGET_CASE not in results or ("workplace", 1000, 96, True) not in results:
        _say("(judged when the workplace cases 1000 and 5000 guns x 96 steps are run)")
        return
    big = results[TARGET_CASE]
    mid = results[("workplace", 1000, 96, True)]
    naive_value = (
        f"{big.naive_ratio:.1f}x ({big.naive.total_s:.1f} s vs {big.total_s:.3f} s)"
        if math.isfinite(big.naive.total_s)
        else f"> {NAIVE_BUDGET_S / big.total_s:.0f}x ({big.naive.note})"
    )
    naive_met = big.naive_ratio >= 10 if math.isfinite(big.naive.total_s) else True
    repairs = [m.repair_cost for m in results.values() if math.isfinite(m.repair_cost)]
    worst_repair = max(repairs, default=math.nan)
    workplace_repairs = [m.repair_cost for m in results.values() if m.case.kind == "workplace"]
    worst = max((m for m in results.values() if m.case.kind == "workplace"), key=lambda m: m.repair_cost)
    rows = [
        ("5000 guns x 96 steps, phases: allocate median < 1 s", f"{big.total_s:.3f} s", big.total_s < 1.0),
        ("5000 x 96, phases: >= 10x faster than PuLP + CBC", naive_value, naive_met),
        (
            "5000 x 96, phases: allocate <= 1.25 x raw HiGHS solve",
            f"{big.floor_ratio:.2f}x ({big.total_s:.3f} s vs {big.raw_s:.3f} s)",
            big.floor_ratio <= 1.25,
        ),
        ("1000 x 96, phases: allocate median < 0.2 s", f"{mid.total_s:.3f} s", mid.total_s < 0.2),
        (
            "greedy fallback 10000 x 96 < 0.1 s",
            f"{greedy[('workplace', 10000)] * 1e3:.1f} ms",
            greedy[("workplace", 10000)] < 0.1,
        ),
        (
            "minimum-current repair costs < 0.1 % of the LP's gain (workplace, worst case)",
            f"{max(workplace_repairs) * 100:.2g} % ({worst.case.guns} x {worst.case.steps} {_phase(worst.case)};"
            f" all instances: {worst_repair * 100:.2g} %)",
            max(workplace_repairs) < 1e-3,
        ),
    ]
    _say("| target | measured | met |")
    _say("|---|---|---|")
    for name, value, met in rows:
        _say(f"| {name} | {value} | {'yes' if met else '**no**'} |")


# --- printing ---------------------------------------------------------------------------------------


def _table(title: str, rows: list[Measured]) -> None:
    _say(f"{title}\n")
    _say(
        "| guns | steps | phases | columns | rows | build ms | solve+repair ms | post ms | total ms | raw HiGHS ms |"
        " total / raw | CPU / wall | peak MB | naive PuLP+CBC s (build / solve) | naive / total | status |"
    )
    _say("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|")
    for m in rows:
        if math.isfinite(m.naive.total_s):
            naive = f"{m.naive.total_s:.2f} ({m.naive.build_s:.2f} / {m.naive.solve_s:.2f})"
            ratio = f"{m.naive_ratio:.1f}x"
        else:
            naive = m.naive.note
            ratio = f"> {NAIVE_BUDGET_S / m.total_s:.0f}x" if m.naive.note.startswith("timeout") else "-"
        _say(
            f"| {m.case.guns} | {m.case.steps} | {_phase(m.case)} | {m.cols} | {m.rows} | {m.build_s * 1e3:.1f} |"
            f" {m.solve_s * 1e3:.1f} | {m.post_s * 1e3:.1f} | **{m.total_s * 1e3:.1f}** | {m.raw_s * 1e3:.1f} |"
            f" {m.floor_ratio:.2f} | {m.cpu_ratio:.2f} | {m.peak_mb:.1f} | {naive} | {ratio} | {m.status} |"
        )
    _say("")


def _repair_table(rows: list[Measured]) -> None:
    _say("## What the minimum-current repair costs\n")
    _say("Objective is minimised. Cost = `Allocation.repair_cost`: (after repair - LP optimum) / (charging nobody -")
    _say("LP optimum), the share of the LP's gain given up; vs |LP| = (after - LP) / |LP optimum|, which explodes when")
    _say("every car is served (the objective is then tie-breaks only). Energy lost = kWh the LP optimum delivers that")
    _say("the repaired plan does not (each costs `shortfall_per_kwh` x priority).\n")
    _say(
        "| instance | guns | steps | phases | LP objective | after repair | cost | vs abs(LP) | energy lost kWh |"
        " naive obj. rel. diff |"
    )
    _say("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
    for m in rows:
        diff = abs(m.naive.objective - m.lp_objective) / max(abs(m.lp_objective), 1e-9)
        naive = f"{diff:.1e}" if math.isfinite(diff) else "-"
        _say(
            f"| {m.case.kind} | {m.case.guns} | {m.case.steps} | {_phase(m.case)} | {m.lp_objective:.6g} |"
            f" {m.objective:.6g} | {m.repair_cost * 100:.2g} % | {m.repair_vs_lp * 100:.2g} % | {m.lost_kwh:.3f} |"
            f" {naive} |"
        )


def _progress(m: Measured) -> str:
    naive = f"naive {m.naive.total_s:.2f} s" if math.isfinite(m.naive.total_s) else f"naive {m.naive.note}"
    return (
        f"- {m.case.kind} {m.case.guns}x{m.case.steps} {_phase(m.case)}: {m.cols} cols, total {m.total_s * 1e3:.1f} ms"
        f" (build {m.build_s * 1e3:.1f}, solve {m.solve_s * 1e3:.1f}, post {m.post_s * 1e3:.1f}), raw"
        f" {m.raw_s * 1e3:.1f} ms, {naive}, repair {m.repair_cost * 100:.3g} %, {m.status}"
    )


def _phase(case: Case) -> str:
    return "kW+A" if case.per_phase else "kW"


def _phase_words(per_phase: bool) -> str:
    return "with per-phase limits" if per_phase else "kW limits only"


def _say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    main()

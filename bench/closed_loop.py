"""Closed-loop day: one congested workplace day replayed under each policy with `simulate()`.

    python bench/closed_loop.py             # 500 guns, one day at 15-minute ticks (a few minutes)
    python bench/closed_loop.py --guns 50   # a quick look
    python bench/closed_loop.py --no-tariff # the same day without prices

The site is `bench/instances.py`'s shape (grid > feeders of 50 > 22 kW three-phase guns, with a
per-phase limit at the grid connection), but congested: the grid connection is `--grid-share` (7 %
by default) of the guns' rated sum, well below what the morning's cars ask for together. One car
per gun arrives between 07:00 and 10:00 local time, stays lognormal with mean 6.5 h, and asks for
a lognormal energy with median 6.7 kWh and mean 9.3 kWh (ACN-Data's Caltech figures, see the
instances' docstring), times `--energy-scale` (2 by default: commuters with longer trips, so that
the day is congested). Prices: the instances' hourly time-of-use-like series.

For "lp", "equal", "edf" and "uncontrolled" it prints energy delivered, unsatisfied sessions, peak
load against the limit, the worst excess, the tariff cost, Jain's fairness, and the time each
policy took to decide per tick (median, p95, max). This is a script, not a test.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
# `python bench/closed_loop.py` puts bench/ first on sys.path; the project root must go there.
if sys.path and Path(sys.path[0]).resolve() == _ROOT / "bench":
    sys.path[0] = str(_ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from bench.instances import ENERGY_MEAN_KWH, ENERGY_MEDIAN_KWH, GUN_KW, STAY_MEAN_H, STAY_SIGMA, ZONE, prices, site  # noqa: E402
from models import LimitNode, Site  # noqa: E402
from optimizer import simulate  # noqa: E402
from optimizer.policies import PolicyName  # noqa: E402

POLICIES: tuple[PolicyName, ...] = ("lp", "equal", "edf", "uncontrolled")
DAY = datetime(2024, 3, 13, tzinfo=ZONE)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--guns", type=int, default=500)
    parser.add_argument("--grid-share", type=float, default=0.07, help="grid kW limit / guns' rated sum")
    parser.add_argument("--energy-scale", type=float, default=2.0, help="multiplies every car's energy")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-tariff", action="store_true", help="replay without prices (energy and time only)")
    args = parser.parse_args()

    the_site = congested_site(args.guns, args.grid_share)
    sessions = workplace_day(the_site, args.energy_scale, args.seed)
    start, end = DAY, DAY + timedelta(days=1)
    tariff = None if args.no_tariff else prices(start, end - start, np.random.default_rng(args.seed))
    limit_kw = the_site.root.limit_kw
    print(f"# Closed-loop day: {args.guns} guns, grid {limit_kw:.0f} kW ({args.grid_share:.0%} of the rated sum)")
    print(
        f"{len(sessions)} cars ask for {sessions['energy_kwh'].sum():.0f} kWh; 15-minute ticks, "
        "24 h horizon for the LP; times are wall-clock seconds on this machine\n"
    )
    rows: list[dict[str, object]] = []
    for policy in POLICIES:
        began = time.perf_counter()
        result = simulate(the_site, sessions, start, end, "15min", policy=policy, tariff=tariff)
        metrics = result.metrics
        rows.append(
            {
                "policy": policy,
                "delivered %": round(metrics["energy_delivered_pct"], 1),
                "unsatisfied": int(metrics["unsatisfied_sessions"]),
                "peak kW": round(metrics["peak_site_kw"], 1),
                "worst excess kW": round(metrics["worst_limit_excess_kw"], 1),
                "cost": round(metrics["tariff_cost"], 2),
                "cost per kWh": round(metrics["tariff_cost"] / metrics["energy_delivered_kwh"], 4),
                "Jain": round(metrics["jain_fairness"], 3),
                "decide median s": round(metrics["solve_time_median_s"], 4),
                "decide p95 s": round(metrics["solve_time_p95_s"], 4),
                "decide max s": round(metrics["solve_time_max_s"], 4),
                "replay s": round(time.perf_counter() - began, 1),
            }
        )
        print(f"- {policy}: done in {rows[-1]['replay s']} s", flush=True)
    print()
    print_table(rows)


def print_table(rows: list[dict[str, object]]) -> None:
    """Rows as a Markdown table (the README quotes it)."""
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "|".join("---" if name == "policy" else "---:" for name in header) + "|")
    for row in rows:
        print("| " + " | ".join(str(row[name]) for name in header) + " |")


def congested_site(guns: int, grid_share: float) -> Site:
    """The instances' tree, its grid connection cut to `grid_share` of the rated sum (A in step)."""
    base = site(guns, per_phase=True)
    limit_kw = round(GUN_KW * guns * grid_share, 1)
    limit_a = round(limit_kw * 1000.0 / (3 * 230.0), 1)
    root = LimitNode(id="grid", limit_kw=limit_kw, limit_a=limit_a, children=base.root.children)
    return Site(id=f"congested-{guns}", timezone=base.timezone, root=root)


def workplace_day(the_site: Site, energy_scale: float, seed: int) -> pd.DataFrame:
    """One car per gun: arrival 07:00-10:00, lognormal stay and energy (see the module docstring)."""
    rng = np.random.default_rng(seed)
    gun_ids = list(the_site.guns())
    count = len(gun_ids)
    arrival_h = 7.0 + rng.uniform(0.0, 3.0, count)
    stay_h = rng.lognormal(math.log(STAY_MEAN_H) - STAY_SIGMA**2 / 2, STAY_SIGMA, count)
    sigma = math.sqrt(2 * math.log(ENERGY_MEAN_KWH / ENERGY_MEDIAN_KWH))
    energy = rng.lognormal(math.log(ENERGY_MEDIAN_KWH), sigma, count) * energy_scale
    phases = np.where(rng.random(count) < 0.2, 1, 3)
    arrival = [DAY + timedelta(hours=float(h)) for h in arrival_h]
    return pd.DataFrame(
        {
            "gun": gun_ids,
            "arrival": arrival,
            "departure": [a + timedelta(hours=float(s)) for a, s in zip(arrival, stay_h, strict=True)],
            "energy_kwh": np.round(energy, 3),
            "phases": phases,
            "max_kw": np.where(phases == 1, 7.4, GUN_KW),
        }
    )


if __name__ == "__main__":
    main()

"""Tables for the CSV answers (plan, history), read back with `pandas.read_csv`."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from fastapi import Response

from connectors.store.protocol import RunRecord

CSV_MEDIA_TYPE = "text/csv"


def csv_response(frame: pd.DataFrame, filename: str) -> Response:
    """The frame as CSV (index included, timestamps in ISO 8601 with their UTC offset)."""
    return Response(
        frame.to_csv(),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def history_frame(runs: Sequence[RunRecord]) -> pd.DataFrame:
    """One row per run, indexed by `at`: status, site load and limit, then per gun
    `power_kw[<gun>]` (measured) and `limit_kw[<gun>]` (pushed); NaN where a gun was not in a run."""
    guns = sorted({gun for run in runs for gun in (*run.gun_power_kw, *run.gun_limit_kw)})
    rows = [
        {
            "status": run.status,
            "site_load_kw": run.site_load_kw,
            "site_limit_kw": run.site_limit_kw,
            **{f"power_kw[{gun}]": run.gun_power_kw.get(gun) for gun in guns},
            **{f"limit_kw[{gun}]": run.gun_limit_kw.get(gun) for gun in guns},
        }
        for run in runs
    ]
    columns = ["status", "site_load_kw", "site_limit_kw"]
    columns += [f"power_kw[{gun}]" for gun in guns] + [f"limit_kw[{gun}]" for gun in guns]
    index = pd.DatetimeIndex([run.at for run in runs], name="at")
    return pd.DataFrame(rows, index=index, columns=columns)

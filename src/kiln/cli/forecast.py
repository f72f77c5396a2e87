"""The forecast kind's parts of `kiln monitor` and `kiln feedback` (the commands stay in app.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import typer


def is_actuals(table: pd.DataFrame) -> bool:
    """A table of observed values of series (time, value [, id]) rather than labels of served rows."""
    columns = set(table.columns)
    return {"time", "value"} <= columns and not ({"label", "request_id"} & columns)


def record_actuals(model: str, table: pd.DataFrame) -> int:
    """Store a table of actuals (id, time, value; no id: the single series) for `model`'s monitoring."""
    from kiln.errors import InvalidDataError
    from kiln.forecasters.data import ONE_SERIES
    from kiln.store.forecast_log import record_actuals as store

    try:
        times = pd.to_datetime(table["time"])
    except (ValueError, TypeError) as exc:
        raise InvalidDataError(f"The actuals' time column does not hold timestamps ({exc}); use e.g. 2024-01-31.") \
            from None
    ids = table["id"].astype(str) if "id" in table.columns else pd.Series(ONE_SERIES, index=table.index)
    values = pd.to_numeric(table["value"], errors="coerce")
    rows = [{"series": i, "ds": t.isoformat(), "value": None if pd.isna(v) else float(v)}
            for i, t, v in zip(ids, times, values, strict=True)]
    return store(model, rows)


def print_monitor(result: Any, *, out: Path | None, as_json: bool) -> None:
    """Lines (or JSON) and the page of a forecaster's monitoring result (or of another kind's result that says
    itself in lines: its report hook's `monitor` draws the page, e.g. a recommender's)."""
    from kiln.data.write import write_text
    from kiln.kinds import get as get_kind
    from kiln.report.forecast import render_monitor
    from kiln.settings import default_report_path

    reports = get_kind(getattr(result, "kind", "forecast")).hook("report")
    page = reports.monitor(result) if hasattr(reports, "monitor") else render_monitor(result)
    path = write_text(page, out or default_report_path(Path(result.name).name, "monitor"))
    if as_json:
        typer.echo(json.dumps({**result.to_dict(), "report": str(path)}, indent=2, default=str))
        return
    for line in result.lines():
        typer.echo(line)
    typer.echo(f"report: {path}")

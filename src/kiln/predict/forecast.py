"""`kiln predict MODEL HISTORY --out FILE [--future FUTURE]` for a forecaster: H steps after each series'
last timestamp in HISTORY (newer than the training data is fine: the members refit their stored forms)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiln.data.load import read_table
from kiln.data.write import spreadsheet_safe, write_table
from kiln.kinds.outcome import Outcome


class ForecastPredictor:
    options = frozenset({"future"})

    def predict_file(self, model: Any, data: str, out: Path, options: Mapping[str, Any]) -> Outcome:
        history = read_table(data)
        future = read_table(options["future"]) if options.get("future") else None
        forecast = model.predict_table(history, future)
        if out.suffix.lower() == ".csv":
            time_column = model.columns.time
            forecast[time_column] = forecast[time_column].dt.strftime("%Y-%m-%d" if _dates_only(forecast[time_column])
                                                                      else "%Y-%m-%dT%H:%M:%S")
        write_table(spreadsheet_safe(forecast), out)
        series = forecast[model.columns.id].nunique() if model.columns.id else 1
        return Outcome(lines=(f"{len(forecast):,} forecasts ({series} series × {model.horizon} steps) "
                              f"written to {out}",),
                       data={"rows": len(forecast), "series": int(series), "out": str(out)})


def _dates_only(values: Any) -> bool:
    return bool((values == values.dt.normalize()).all())


PREDICTOR = ForecastPredictor()

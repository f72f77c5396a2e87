"""A window of served traffic: the prediction log's rows as a features table plus outputs and labels."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kiln.data.schema import Schema


@dataclass(frozen=True)
class TrafficWindow:
    """Logged rows between `since` and now: `features` (schema columns), `log` (at, outputs, label, version)."""

    features: pd.DataFrame
    log: pd.DataFrame

    @property
    def rows(self) -> int:
        return len(self.log)


def read_window(model_name: str, schema: Schema, *, since: float | None = None,
                url: str | None = None) -> TrafficWindow:
    """The logged predictions of `model_name` since `since` (epoch seconds), joined with their labels."""
    from kiln.store.feedback import labelled_predictions, read_labels
    from kiln.store.prediction_log import read_predictions

    logged = pd.DataFrame(read_predictions(model_name, since=since, url=url),
                          columns=["id", "request_id", "row", "model", "version", "at", "inputs", "outputs"])
    log = labelled_predictions(logged, read_labels(model_name, url=url))
    features = pd.DataFrame([{c: inputs.get(c) for c in schema.names} for inputs in log["inputs"]],
                            columns=schema.names)
    for column in schema.columns:
        if column.kind in ("numeric", "boolean"):
            features[column.name] = pd.to_numeric(features[column.name], errors="coerce").astype(float)
    return TrafficWindow(features.reset_index(drop=True), log.reset_index(drop=True))


def parse_since(text: str | None, *, now: float) -> float | None:
    """`24h`, `30m`, `7d`, `90s` → the epoch second that long before `now`; None or `all` → everything."""
    from kiln.errors import InvalidOptionError

    if text is None or text.strip().lower() in ("", "all"):
        return None
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    value, unit = text.strip()[:-1], text.strip()[-1:].lower()
    try:
        amount = float(value)
    except ValueError:
        amount = float("nan")
    if unit not in units or not np.isfinite(amount) or amount <= 0:
        raise InvalidOptionError(f"--since {text!r} is not a duration; give e.g. 90s, 30m, 24h or 7d (or 'all').")
    return now - amount * units[unit]

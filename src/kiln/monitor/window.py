"""A window of served traffic: one version's logged rows as a features table plus outputs and labels.

A window of a busy server can hold millions of rows; `max_rows` caps what is read to an
even sample of the window (ids drawn evenly over its id range, read by primary key; see
`kiln.store.prediction_log.sample_predictions`), so that monitoring costs about the same
at any traffic. `total` is then the window's size as the sample estimates it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kiln.data.schema import Schema


@dataclass(frozen=True)
class TrafficWindow:
    """Logged rows between `since` and now: `features` (schema columns), `log` (at, outputs, label, version).

    `total` is how many rows the window holds (estimated from the sample unless `exact`);
    `rows` how many were read (fewer when sampled).
    """

    features: pd.DataFrame
    log: pd.DataFrame
    total: int = -1
    exact: bool = True

    def __post_init__(self) -> None:
        if self.total < 0:
            object.__setattr__(self, "total", len(self.log))

    @property
    def rows(self) -> int:
        return len(self.log)


def read_window(model_name: str, schema: Schema, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> TrafficWindow:
    """The logged predictions of `model_name` (one `version`, or all) since `since` (epoch seconds),
    at most `max_rows` of them (an even sample), joined with their labels."""
    from kiln.store.feedback import labelled_predictions, read_labels
    from kiln.store.prediction_log import read_predictions, sample_predictions

    if max_rows is None:
        rows = read_predictions(model_name, version=version, since=since, url=url)
        total, exact = len(rows), True
    else:
        sample = sample_predictions(model_name, version=version, since=since, url=url, max_rows=max_rows)
        rows, total, exact = sample.rows, sample.total, sample.exact
    logged = pd.DataFrame(rows, columns=["id", "request_id", "row", "model", "version", "at", "inputs", "outputs"])
    ids = [name for name, reason in schema.dropped.items() if reason.startswith("identifier")]
    keys = {c: [i.get(c) for i in logged["inputs"] if i.get(c) is not None] for c in ids}
    pairs = list(zip(logged["request_id"], logged["row"], strict=True))
    log = labelled_predictions(logged, read_labels(model_name, url=url, predictions=pairs, keys=keys))
    features = pd.DataFrame([{c: inputs.get(c) for c in schema.names} for inputs in log["inputs"]],
                            columns=schema.names)
    for column in schema.columns:
        if column.kind in ("numeric", "boolean"):
            features[column.name] = pd.to_numeric(features[column.name], errors="coerce").astype(float)
    return TrafficWindow(features.reset_index(drop=True), log.reset_index(drop=True), total, exact)


def previous_version(model_name: str, version: str, *, since: float | None = None,
                     url: str | None = None) -> str | None:
    """The version of `model_name` other than `version` that served most recently in the window."""
    from kiln.store.prediction_log import logged_versions

    others = [(last, v) for v, last in logged_versions(model_name, since=since, url=url).items() if v != version]
    return max(others)[1] if others else None


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

"""The model a server answers with: loaded, warmed up, and predicting through the bundle's ONNX graph
when it has one (serve/onnx_runtime.py), else the numpy fast path, else `Model.predict_raw`."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from kiln import kinds
from kiln.serve.decode import Decoded, decode_records

if TYPE_CHECKING:
    from kiln.model import Model

_log = logging.getLogger("kiln.serve")
CHUNK_ROWS = 2_000  # a long batch checks its deadline between chunks, so a timeout frees the worker


class PredictionTimeout(Exception):
    """The request's deadline passed between two chunks of a batch."""


@dataclass
class ServedModel:
    """A loaded model with its name and version as the prediction log records them."""

    model: Model
    name: str
    version: str
    source: str
    predictor: Any = None  # OnnxPredictor or FastPredictor (predict_raw(columns, n)); None: Model.predict_raw
    loaded_at: float = field(default_factory=time.time)

    @classmethod
    def load(cls, source: str, *, version: str | None = None) -> ServedModel:
        """Resolve `source` (a bundle folder or models:/...), load it, compile and warm it up."""
        from kiln.bundle import bundle_version, load_bundle

        if source.startswith("models:/"):  # only then is MLflow imported
            from kiln.store.registry import resolve

            resolved = resolve(source)
            path, name, version = resolved.path, resolved.name, resolved.version or version
            digest = resolved.manifest_sha256
        else:
            path, name, digest = Path(source), None, None
        model = load_bundle(path, manifest_sha256=digest)
        served = cls(model, name or Path(path).resolve().name, version or bundle_version(path), source)
        own_warm_up = getattr(model, "warm_up", None)
        if callable(own_warm_up):  # a kind whose model is not a table predictor warms itself up
            prepare = getattr(kinds.get(model.kind).hook("serve"), "prepare", None)
            if callable(prepare):  # what the kind compiles for serving (images: the feature model's fast path)
                prepare(model)
            own_warm_up()
            return served
        from kiln.serve.onnx_runtime import load_stored_graph

        served.predictor = load_stored_graph(model, Path(path)) or compile_fast_path(model)
        _log.warning("serving %s %s through %s", served.name, served.version, served.engine)
        served.warm_up()
        return served

    @property
    def engine(self) -> str:
        """What computes the predictions: "onnxruntime" (the bundle's graph), "fast path" or "pandas"."""
        if self.predictor is None:
            return "pandas"
        return getattr(self.predictor, "engine", "fast path")

    @property
    def logged_columns(self) -> tuple[str, ...]:
        """What the prediction log keeps of a row: the features, and the identifiers training dropped
        (so that delayed labels can find a row by its id)."""
        schema = self.model.schema
        ids = [name for name, reason in schema.dropped.items() if reason.startswith("identifier")]
        return (*schema.names, *ids)

    def warm_up(self) -> None:
        """One prediction on a typical row; a model that cannot do this is never served."""
        self.predict_raw(decode_records([typical_record(self.model)], self.model.schema))

    def predict_raw(self, decoded: Decoded, deadline: float | None = None) -> np.ndarray:
        """Blended output for the decoded rows, in chunks that respect `deadline` (monotonic)."""
        n = decoded.n_rows
        if n <= CHUNK_ROWS:
            return self._predict_columns(decoded.columns, n)
        parts = []
        for start in range(0, n, CHUNK_ROWS):
            if deadline is not None and time.monotonic() > deadline:
                raise PredictionTimeout
            stop = min(start + CHUNK_ROWS, n)
            parts.append(self._predict_columns({k: v[start:stop] for k, v in decoded.columns.items()}, stop - start))
        return np.concatenate(parts)

    def predict_raw_columns(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        """Blended output for decoded columns of `n` rows (a micro-batch of requests)."""
        return self._predict_columns(columns, n)

    def _predict_columns(self, columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        if self.predictor is not None:
            return self.predictor.predict_raw(columns, n)
        import pandas as pd

        return self.model.predict_raw(pd.DataFrame(columns))

    def outputs(self, raw: np.ndarray) -> tuple[list[Any], list[dict[str, float]] | None]:
        """Predictions (class as in the data, or value) and, for classification, probabilities by class."""
        labels = self.model.labels(raw).tolist()
        if self.model.task == "regression":
            return labels, None
        classes = [str(c) for c in self.model.classes_ or []]
        return labels, [dict(zip(classes, row, strict=True)) for row in raw.tolist()]


def typical_record(model: Model) -> dict[str, Any]:
    """A row every model accepts: mid-range numbers, the first category, a date, a short text."""
    record: dict[str, Any] = {}
    for column in model.schema.columns:
        if column.kind == "numeric":
            low, high = column.minimum or 0.0, column.maximum or 0.0
            record[column.name] = float(round((low + high) / 2)) if column.discrete else (low + high) / 2
        elif column.kind == "boolean":
            record[column.name] = False
        elif column.kind == "categorical":
            record[column.name] = (column.categories or ["unknown"])[0]
        elif column.kind == "datetime":
            record[column.name] = "2024-01-01T00:00:00"
        else:
            record[column.name] = "a short text"
    return record


def compile_fast_path(model: Model) -> Any:
    """The numpy fast path, or None (the pandas path) when it cannot reproduce the model exactly."""
    try:
        from kiln.serve.fast_path import FastPredictor

        predictor = FastPredictor.compile(model)
    except Exception as exc:  # the fast path is an optimisation; never a reason not to serve
        _log.warning("fast path unavailable (%s); serving through the pandas path", exc)
        return None
    return predictor if getattr(predictor, "exact", True) else None

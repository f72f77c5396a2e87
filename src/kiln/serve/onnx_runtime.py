"""Serving through ONNX Runtime: the graph `kiln export` verified and stored in the bundle (model.onnx).

One `InferenceSession` per worker process, one intra-op thread (the workers are the
parallelism), sequential execution. Before it answers a request it is checked once more on
synthetic rows at the corners of the data contract against `Model.predict_raw`; a graph that
disagrees (or does not load) is logged and the server falls back to the next path, so a
bundle with a stale or foreign graph is still served correctly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from kiln.model import Model

_log = logging.getLogger("kiln.serve")


class OnnxPredictor:
    """`Model.predict_raw` over decoded column arrays, computed by the stored ONNX graph."""

    engine = "onnxruntime"

    def __init__(self, model: Model, serialized: bytes) -> None:
        from kiln.export.onnx import session

        self.model = model
        self.session = session(serialized, threads=1)
        self._name = "prediction" if model.task == "regression" else "probabilities"

    def predict_raw(self, columns: dict[str, np.ndarray], n_rows: int) -> np.ndarray:
        from kiln.export.onnx import feeds

        out = self.session.run([self._name], feeds(columns, self.model.schema))[0]
        return np.asarray(out, dtype=np.float64)

    def largest_difference(self) -> float:
        """|this − Model.predict_raw| on the contract's synthetic rows (relative for regression)."""
        import pandas as pd

        from kiln.export.onnx import columns_from_frame
        from kiln.export.synthetic import synthetic_columns

        rows = pd.DataFrame(synthetic_columns(self.model.schema))
        kept = self.model.last_contract_report_
        try:
            expected = self.model.predict_raw(rows)
        finally:
            self.model.last_contract_report_ = kept
        got = self.predict_raw(columns_from_frame(rows, self.model.schema), len(rows))
        if got.shape != expected.shape:
            return float("inf")
        difference = np.abs(got - expected)
        if self.model.task == "regression":
            difference = difference / np.maximum(1.0, np.abs(expected))
        return float(np.nan_to_num(difference, nan=np.inf).max(initial=0.0))


def load_stored_graph(model: Model, bundle: Path) -> OnnxPredictor | None:
    """The bundle's verified graph as a predictor, or None (no graph, or one that does not reproduce
    the model: logged, and the caller serves another way)."""
    from kiln.export.onnx import GRAPH_FILE, TOLERANCE

    entry = model.manifest.get("onnx")
    if not isinstance(entry, dict) or GRAPH_FILE not in model.manifest.get("files", {}):
        return None
    try:
        predictor = OnnxPredictor(model, (Path(bundle) / GRAPH_FILE).read_bytes())  # checksum verified at load
        difference = predictor.largest_difference()
    except Exception as exc:  # an optimisation: never a reason not to serve
        _log.warning("the stored ONNX graph does not run (%s); serving without it", exc)
        return None
    if difference > TOLERANCE:
        _log.warning("the stored ONNX graph differs from the model by %.3g on synthetic rows; serving without it",
                     difference)
        return None
    return predictor

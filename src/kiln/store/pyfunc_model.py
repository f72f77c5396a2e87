"""A kiln bundle as an MLflow pyfunc model, logged as *code*, never as a pickle.

MLflow's models-from-code: `register` logs this file (`python_model=<this path>`) with
the bundle as the artifact "bundle". `mlflow.pyfunc.load_model("models:/NAME@champion")`
runs this file, which builds the wrapper below; `load_context` loads the bundle through
`kiln.load` (checksums verified, skops with an allow-list), and `predict` returns kiln's
predictions frame: `prediction` and one `proba_<class>` column per class.

kiln itself never imports this module; it only hands its path to MLflow.

Security: MLflow runs the copy of this file stored with the model, read from the artifact
store, so whoever can write there can make `mlflow.pyfunc.load_model` run any code. kiln's
own loaders (`kiln.load("models:/...")`, `kiln serve`, `kiln predict`) never execute it, and
check the bundle against the manifest hash the registry recorded (see the README's security
section). `load_context` cannot: MLflow does not tell it which registered version it is.
"""

from __future__ import annotations

from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

BUNDLE_ARTIFACT = "bundle"


class KilnBundleModel(PythonModel):
    """Predicts with the kiln bundle shipped inside the MLflow model."""

    def load_context(self, context: Any) -> None:
        from kiln.bundle import load_bundle

        self.model = load_bundle(context.artifacts[BUNDLE_ARTIFACT])

    # The pd.DataFrame hint tells MLflow to pass frames through untouched (no schema coercion).
    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return self.model.predictions_frame(model_input)


mlflow.models.set_model(KilnBundleModel())

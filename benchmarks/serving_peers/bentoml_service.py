"""The BentoML peer of `benchmarks/serving.py`: a kiln bundle served the way a BentoML user would.

    KILN_BUNDLE=/path/to/bundle BENTOML_WORKERS=2 \
        bentoml serve bentoml_service:KilnModel --working-dir benchmarks/serving_peers --port 3000

POST /predict with `{"rows": [{column: value, ...}, ...]}` (the same body as `kiln serve`)
→ `{"predictions": [...], "probabilities": [{class: p, ...}, ...]}`. BentoML 1.4's
`@bentoml.service` API; the model is loaded once per worker process with `kiln.load`
and predicts a DataFrame built from the JSON rows (kiln's pandas path).
"""

from __future__ import annotations

import os
from typing import Any

import bentoml
import pandas as pd

import kiln


@bentoml.service(workers=int(os.environ.get("BENTOML_WORKERS", "2")), traffic={"timeout": 60})
class KilnModel:
    def __init__(self) -> None:
        self.model = kiln.load(os.environ["KILN_BUNDLE"])

    @bentoml.api
    def predict(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        frame = self.model.predictions_frame(pd.DataFrame(rows))
        probability_columns = [c for c in frame.columns if c.startswith("proba_")]
        probabilities = frame[probability_columns].rename(columns=lambda c: c.removeprefix("proba_"))
        return {"predictions": frame["prediction"].tolist(), "probabilities": probabilities.to_dict("records")}

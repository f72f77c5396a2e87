"""A trained model: the fitted models of each ensemble member, with their weights.

A `Model` is a predictor and nothing else: data plus `predict*`. Saving (`kiln.bundle`),
evaluating (`kiln.evaluate`, from `kiln.evaluation`), explaining and reporting are functions
that take a model, as scikit-learn estimators know nothing of joblib or of scoring; that
keeps the import graph one-way.

Selection used k-fold cross-validation. After it, each kept member is refitted once on
all training rows when the time left allows (search/refit.py); a member without time for
that keeps its cross-validation fold models, averaged at prediction time (cross-validated
bagging). `Member.folds` holds either the one refit model or the fold models, and
`manifest["final_models"]` records which. The leaderboard's out-of-fold scores are those
of the fold models, so for a refitted member they estimate, not measure, the served model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from kiln.data.contract import ContractReport, check_contract
from kiln.data.load import read_table
from kiln.data.schema import Schema
from kiln.data.target import Target


@dataclass
class FoldModel:
    """Preprocessing and learner fitted on one cross-validation fold."""

    prep: Any
    categorical: tuple[int, ...]
    learner: Any

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        return self.learner.predict_raw(self.prep.transform(features))


@dataclass
class Member:
    """One ensemble member: a trial's configuration and its fitted models (one refit on all
    rows, or its cross-validation fold models, averaged)."""

    name: str
    learner: str
    config: dict[str, Any]
    weight: float
    folds: list[FoldModel]

    def predict_raw(self, features: pd.DataFrame) -> np.ndarray:
        return np.mean([fold.predict_raw(features) for fold in self.folds], axis=0)


@dataclass
class Model:
    """What `kiln.train` returns and `kiln.load` reads back."""

    kind: ClassVar[str] = "tabular"  # the problem kind (kiln.kinds) the bundle manifest records
    target: Target
    schema: Schema
    metric: str
    members: list[Member]
    leaderboard_frame: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    oof: pd.DataFrame | None = None
    reference: pd.DataFrame | None = None  # a sample of training rows with their out-of-fold outputs (drift)
    last_contract_report_: ContractReport | None = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> str:
        return self.target.task

    @property
    def classes_(self) -> list | None:
        return self.target.classes

    def leaderboard(self) -> pd.DataFrame:
        """Every trial with its cross-validated score and 95% interval, best first."""
        return self.leaderboard_frame.copy()

    def check(self, data: pd.DataFrame | str | Path) -> ContractReport:
        """Validate `data` against the training data contract.

        Raises `InvalidDataError` naming the column and row for a missing required
        column, an unreadable value or a missing value where training had none; returns
        the count of unseen categories and out-of-range values, which are accepted.
        """
        return check_contract(read_table(data), self.schema)

    def predict_raw(self, data: pd.DataFrame | str | Path) -> np.ndarray:
        """Blended probabilities (n × classes) or values; the contract report of this
        call is kept in `last_contract_report_`."""
        frame = read_table(data)
        self.last_contract_report_ = check_contract(frame, self.schema)
        features = self.schema.coerce(frame)
        return sum(member.weight * member.predict_raw(features) for member in self.members)

    def predict(self, data: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class (as in the training data) or value, in the input's row order."""
        return self.labels(self.predict_raw(data))

    def labels(self, raw: np.ndarray) -> np.ndarray:
        """Blended output of `predict_raw` → the predicted class (stored threshold applied) or value."""
        if self.task == "regression":
            return raw
        decoded = self.target.decode(self._decide(raw))
        rule = self.reject
        if rule is None:
            return decoded
        out = np.asarray(decoded, dtype=object)
        out[~self.answered(raw)] = rule["label"]
        return out

    @property
    def reject(self) -> dict[str, Any] | None:
        """The reject option chosen at training (`--reject-below`), or None."""
        return self.manifest.get("reject")

    def answered(self, raw: np.ndarray) -> np.ndarray:
        """True for the rows the model answers; False for those it rejects as out of scope
        (confidence below the stored threshold, or the out-of-scope class predicted)."""
        rule = self.reject
        if rule is None or self.task == "regression":
            return np.ones(len(raw), dtype=bool)
        keep = raw.max(axis=1) >= rule["threshold"]
        names = [str(c) for c in self.classes_ or []]
        if rule["label"] in names:
            keep &= raw.argmax(axis=1) != names.index(rule["label"])
        return keep

    @property
    def threshold(self) -> float | None:
        """The binary decision threshold chosen at training (F1 or least cost), if any."""
        decision = self.manifest.get("decision") or {}
        return decision.get("threshold")

    def _decide(self, raw: np.ndarray) -> np.ndarray:
        """Class codes: the stored threshold for binary tasks, the most probable class otherwise."""
        if self.task == "binary" and self.threshold is not None:
            return (raw[:, 1] >= self.threshold).astype("int64")
        return raw.argmax(axis=1)

    def predict_proba(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        """One column per class (named by the class value), rows in input order."""
        if self.task == "regression":
            from kiln.errors import InvalidOptionError

            raise InvalidOptionError("predict_proba applies to classification; this model does regression.")
        frame = data if isinstance(data, pd.DataFrame) else read_table(data)
        return pd.DataFrame(self.predict_raw(frame), columns=self.classes_, index=frame.index)

    def predictions_frame(self, data: pd.DataFrame | str | Path) -> pd.DataFrame:
        """The CLI's output: `prediction` and, for classification, `proba_<class>` columns."""
        frame = data if isinstance(data, pd.DataFrame) else read_table(data)
        raw = self.predict_raw(frame)
        if self.task == "regression":
            return pd.DataFrame({"prediction": raw})
        out = {"prediction": self.labels(raw)}
        for i, label in enumerate(self.classes_ or []):
            out[f"proba_{label}"] = raw[:, i]
        return pd.DataFrame(out)

    def __repr__(self) -> str:
        best = self.manifest.get("cv", {})
        return (f"<kiln.Model {self.task} target={self.target.name!r} "
                f"{self.metric}={best.get('score', float('nan')):.4f} members={len(self.members)}>")

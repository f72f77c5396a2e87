"""Data-quality drift: missing values, unseen categories and out-of-range numbers, served vs training."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from kiln.data.schema import Schema

MISSING_SHARE_ALERT = 0.05  # five points more missing than in training is a broken upstream, not noise


@dataclass(frozen=True)
class QualityDrift:
    """One column's contract counts in the window, beside what training saw."""

    column: str
    missing_reference: float
    missing_current: float
    unseen_categories: int
    out_of_range: int
    rows: int

    @property
    def flagged(self) -> bool:
        return (self.missing_current - self.missing_reference > MISSING_SHARE_ALERT
                or self.unseen_categories > 0.01 * self.rows or self.out_of_range > 0.01 * self.rows)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "flagged": self.flagged}


def quality_drift(features: pd.DataFrame, schema: Schema, reference: dict[str, dict[str, Any]]) -> list[QualityDrift]:
    """Per column: missing share now vs in training, and the contract's unseen / out-of-range counts."""
    out = []
    rows = len(features)
    for column in schema.columns:
        values = features[column.name]
        present = values.dropna()
        unseen = outside = 0
        if column.kind == "categorical" and column.categories is not None:
            unseen = int((~present.astype(str).isin(column.categories)).sum())
        if column.kind == "numeric" and column.minimum is not None and column.maximum is not None:
            numbers = pd.to_numeric(present, errors="coerce")
            outside = int(((numbers < column.minimum) | (numbers > column.maximum)).sum())
        missing_now = float(values.isna().mean()) if rows else 0.0
        out.append(QualityDrift(column.name, float(reference.get(column.name, {}).get("missing", 0.0)),
                                missing_now, unseen, outside, rows))
    return out

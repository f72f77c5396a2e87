"""The suite's metrics, written from its definitions (independently of kiln.evaluation.forecast)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

LEVELS = tuple(round(0.1 * k, 1) for k in range(1, 10))
QCOLS = [f"quantile_{q:g}" for q in LEVELS]


def scale(y: np.ndarray, m: int) -> float:
    m = m if len(y) >= 2 * m else 1
    return float(np.mean(np.abs(y[m:] - y[:-m])))


def score(train: pd.DataFrame, test: pd.DataFrame, preds: pd.DataFrame, m: int) -> dict[str, float]:
    """MASE, sMAPE, WQL and coverage_80 of `preds` (unique_id, ds, prediction, quantile_*) on `test`."""
    merged = test[["unique_id", "ds", "y"]].merge(preds, on=["unique_id", "ds"], how="left")
    if merged[["prediction", *QCOLS]].isna().any().any() or len(preds) != len(test):
        raise ValueError("missing or extra forecast rows")
    if not np.isfinite(merged[["prediction", *QCOLS]].to_numpy(dtype=float)).all():
        raise ValueError("non-finite forecast values")
    mases, smapes, covers, loss, total = [], [], [], 0.0, 0.0
    for sid, part in merged.groupby("unique_id"):
        y = part["y"].to_numpy(float)
        yhat = part["prediction"].to_numpy(float)
        q = part[QCOLS].to_numpy(float)
        history = train.loc[train["unique_id"] == sid, "y"].to_numpy(float)
        mases.append(np.mean(np.abs(y - yhat)) / scale(history, m))
        denominator = np.abs(y) + np.abs(yhat)
        smapes.append(200 * np.mean(np.where(denominator > 0, np.abs(y - yhat) / np.where(denominator > 0,
                                                                                          denominator, 1), 0)))
        covers.append(np.mean((q[:, 0] <= y) & (y <= q[:, -1])))
        for k, level in enumerate(LEVELS):
            loss += np.abs((y - q[:, k]) * ((y <= q[:, k]).astype(float) - level)).sum() / 1.0
        total += np.abs(y).sum()
    return {"mase": float(np.mean(mases)), "smape": float(np.mean(smapes)),
            "wql": float(2 / len(LEVELS) * loss / total), "coverage_80": float(np.mean(covers))}


def seasonal_naive(train: pd.DataFrame, test: pd.DataFrame, m: int) -> pd.DataFrame:
    """The suite's seasonal naive with its normal quantiles ŷ ± z σ √⌈h/m⌉."""
    rows = []
    for sid, part in test.groupby("unique_id", sort=False):
        y = train.loc[train["unique_id"] == sid, "y"].to_numpy(float)
        period = m if len(y) >= 2 * m else 1
        h = len(part)
        steps = np.arange(h)
        mean = y[-period:][steps % period]
        sigma = np.sqrt(np.mean((y[period:] - y[:-period]) ** 2))
        spread = sigma * np.sqrt(np.ceil((steps + 1) / period))
        out = pd.DataFrame({"unique_id": sid, "ds": part["ds"].to_numpy(), "prediction": mean})
        for level, column in zip(LEVELS, QCOLS, strict=True):
            out[column] = mean + norm.ppf(level) * spread
        rows.append(out)
    return pd.concat(rows, ignore_index=True)

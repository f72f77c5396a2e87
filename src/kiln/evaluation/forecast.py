"""Forecast accuracy: MASE, sMAPE, WQL and interval coverage as the forecasting suite defines them,
bootstrap intervals across series, and the Diebold–Mariano test of two forecasts' losses."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from kiln.errors import InvalidDataError
from kiln.forecasters.base import QUANTILES


def mase(y: np.ndarray, mean: np.ndarray, scale: float) -> float:
    """Mean absolute error over the horizon / the in-sample seasonal-naive MAE."""
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(mean))) / scale)


def smape(y: np.ndarray, mean: np.ndarray) -> float:
    """200/H Σ |y − ŷ| / (|y| + |ŷ|), with 0/0 = 0 (percent)."""
    y, mean = np.asarray(y, dtype="float64"), np.asarray(mean, dtype="float64")
    denominator = np.abs(y) + np.abs(mean)
    ratio = np.divide(np.abs(y - mean), denominator, out=np.zeros_like(y), where=denominator > 0)
    return float(200.0 * ratio.mean())


def quantile_loss(y: np.ndarray, quantiles: np.ndarray) -> float:
    """Σ over steps and levels of the pinball loss ρ_k(y, q_k) = |(y − q)(1{y ≤ q} − k)|."""
    y = np.asarray(y, dtype="float64")[:, None]
    q = np.asarray(quantiles, dtype="float64")
    levels = np.asarray(QUANTILES)[None, :]
    return float(np.abs((y - q) * ((y <= q).astype("float64") - levels)).sum())


def wql(ys: list[np.ndarray], quantiles: list[np.ndarray]) -> float:
    """2/9 Σ_k Σ_{i,t} ρ_k / Σ_{i,t} |y|, pooled over every series and step (AutoGluon's WQL)."""
    loss = sum(quantile_loss(y, q) for y, q in zip(ys, quantiles, strict=True))
    total = sum(float(np.abs(y).sum()) for y in ys)
    return float(2.0 / len(QUANTILES) * loss / total) if total > 0 else float("nan")


def coverage(y: np.ndarray, quantiles: np.ndarray) -> float:
    """Share of steps with q0.1 ≤ y ≤ q0.9 (the 80% interval)."""
    q = np.asarray(quantiles)
    return float(np.mean((q[:, 0] <= y) & (y <= q[:, -1])))


def bootstrap_mean(values: np.ndarray, *, seed: int = 0, draws: int = 2000) -> tuple[float, float, float]:
    """Mean and a 95% percentile bootstrap interval across series (NaN bounds for one series)."""
    values = np.asarray(values, dtype="float64")
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    if len(values) < 2:
        return float(values.mean()), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(draws, len(values)))].mean(axis=1)
    return float(values.mean()), float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


@dataclass(frozen=True)
class DieboldMariano:
    """The DM statistic (Harvey, Leybourne and Newbold's small-sample correction) and its two-sided p-value;
    negative means the first forecast's loss is lower."""

    statistic: float
    p_value: float
    n: int
    mean_difference: float


def diebold_mariano(loss_a: np.ndarray, loss_b: np.ndarray, *, h: int = 1) -> DieboldMariano:
    """Test equal accuracy of two forecasts from their per-step losses (same steps, same order).

    d = loss_a − loss_b; the variance of its mean is the Newey–West (rectangular, lag h−1, at most n/4)
    long-run variance / n (the lag-0 variance when that estimate is not positive); the HLN factor
    sqrt((n + 1 − 2h + h(h−1)/n) / n) corrects the statistic and the p-value comes from Student's t with
    n − 1 degrees of freedom.
    """
    d = np.asarray(loss_a, dtype="float64") - np.asarray(loss_b, dtype="float64")
    n = len(d)
    if n < 3:
        return DieboldMariano(float("nan"), float("nan"), n, float(d.mean()) if n else float("nan"))
    mean = float(d.mean())
    centred = d - mean
    h = max(1, min(int(h), n // 4 + 1))  # at most n/4 lags: a sample no longer than h gives no variance estimate
    variance = float(np.dot(centred, centred) / n)
    long_run = variance + sum(2.0 * float(np.dot(centred[lag:], centred[:-lag]) / n) for lag in range(1, h))
    if long_run > 0:
        variance = long_run
    else:  # a negative Newey–West estimate (short samples): the lag-0 variance, as Harvey et al. advise
        h = 1
    if variance <= 0:
        same = np.allclose(d, 0)
        return DieboldMariano(0.0 if same else float(np.sign(mean) * np.inf), 1.0 if same else 0.0, n, mean)
    statistic = mean / np.sqrt(variance / n)
    statistic *= np.sqrt((n + 1 - 2 * h + h * (h - 1) / n) / n)
    p_value = float(2 * stats.t.sf(abs(statistic), df=n - 1))
    return DieboldMariano(float(statistic), p_value, n, mean)


def _scores(y: np.ndarray, forecast: pd.DataFrame, scale: float) -> dict[str, float]:
    q = forecast[list(_QCOLS)].to_numpy(dtype="float64")
    mean = forecast["prediction"].to_numpy(dtype="float64")
    return {"mase": mase(y, mean, scale), "smape": smape(y, mean), "wql": wql([y], [q]),
            "coverage_80": coverage(y, q), "loss": quantile_loss(y, q), "abs_y": float(np.abs(y).sum())}


_QCOLS = tuple(f"quantile_{q:g}" for q in QUANTILES)


def evaluate_forecaster(model: Any, frame: pd.DataFrame) -> dict[str, Any]:
    """Score `model` on the last H points of every series in `frame`, forecast from the points before them
    (the stored history fills in what the table lacks); beside the seasonal naive and the random walk,
    with bootstrap intervals across series and Diebold–Mariano tests."""
    from kiln.forecasters.model import Forecaster, insample_scale

    history = model.read_history(frame)
    h = model.horizon
    groups = {str(k): g.reset_index(drop=True) for k, g in history.groupby("unique_id", sort=False)}
    short = [sid for sid, g in groups.items() if len(g) < h + 3]
    if short:
        raise InvalidDataError(f"Series {short[0]!r} has {len(groups[short[0]])} points; evaluating a horizon of {h} "
                               f"needs at least {h + 3} (history, then the {h} steps to score).")
    fitted = pd.concat([g.iloc[:-h] for g in groups.values()], ignore_index=True)
    truth = {sid: g["y"].to_numpy(dtype="float64")[-h:] for sid, g in groups.items()}
    future = pd.concat([g.iloc[-h:].drop(columns=["y"]) for g in groups.values()], ignore_index=True)
    forecasts = {"kept model": model.forecast(fitted, future=future)}
    for name in ("seasonal_naive", "naive"):
        baseline = Forecaster(columns=model.columns, horizon=h, freq=model.freq, m=model.m, known_future=[],
                              members=[{"family": name, "weight": 1.0, "intervals": "model"}], specs={}, sigmas={},
                              context=fitted)
        forecasts[name] = baseline.forecast(fitted)
    scales = {sid: insample_scale(g["y"].to_numpy(dtype="float64")[:-h], model.m) for sid, g in groups.items()}
    per_model: dict[str, pd.DataFrame] = {}
    for name, out in forecasts.items():
        rows = []
        for sid, part in out.groupby("unique_id", sort=False):
            rows.append({"unique_id": sid, **_scores(truth[str(sid)], part, scales[str(sid)])})
        per_model[name] = pd.DataFrame(rows)
    overall = []
    for name, scores in per_model.items():
        row: dict[str, Any] = {"model": name}
        for key in ("mase", "smape"):
            mean_, low, high = bootstrap_mean(scores[key].to_numpy())
            row[key] = mean_
            row[f"{key}_ci"] = f"{low:.3f}–{high:.3f}" if np.isfinite(low) else ""
        row["wql"] = float(2.0 / len(QUANTILES) * scores["loss"].sum() / max(scores["abs_y"].sum(), 1e-12))
        row["coverage_80"] = float(scores["coverage_80"].mean())
        overall.append(row)
    kept_errors = _scaled_errors(forecasts["kept model"], truth, scales)
    dm = []
    for name in ("seasonal_naive", "naive"):
        test = diebold_mariano(kept_errors, _scaled_errors(forecasts[name], truth, scales), h=h)
        better = test.mean_difference < 0
        verdict = (("better" if better else "worse") + (" (significant at 5%)" if test.p_value < 0.05
                                                         else " (not significant)")) if np.isfinite(test.p_value) \
            else "too few steps to test"
        dm.append({"against": name, "statistic": test.statistic, "p_value": test.p_value, "n": test.n,
                   "verdict": verdict})
    kept = per_model["kept model"].copy()
    kept["ljung_box_p"] = [_ljung_box(truth[str(sid)] - forecasts["kept model"].loc[
        forecasts["kept model"]["unique_id"] == sid, "prediction"].to_numpy()) for sid in kept["unique_id"]]
    by_name = {row["model"]: row for row in overall}
    lines = [f"MASE {by_name['kept model']['mase']:.3f} ({by_name['kept model']['mase_ci'] or 'one series'}), "
             f"sMAPE {by_name['kept model']['smape']:.2f}%, WQL {by_name['kept model']['wql']:.4f}, 80% coverage "
             f"{by_name['kept model']['coverage_80']:.2f} on {len(groups)} series × {h} steps"]
    for name, words in (("seasonal_naive", "the seasonal naive (last season repeated)"),
                        ("naive", "a random walk (last value repeated): for a price series that is the benchmark")):
        ratio = by_name["kept model"]["mase"] / by_name[name]["mase"] if by_name[name]["mase"] > 0 else float("nan")
        test = next(d for d in dm if d["against"] == name)
        lines.append(f"Against {words}: this model {'does' if ratio < 1 else 'does not'} beat it (MASE "
                     f"{by_name['kept model']['mase']:.3f} vs {by_name[name]['mase']:.3f}, skill {1 - ratio:+.1%}; "
                     f"Diebold–Mariano p = {test['p_value']:.3f}).")
    worst = kept.sort_values("mase", ascending=False)["unique_id"].tolist()
    shown = list(dict.fromkeys([*list(groups)[:2], *worst[:2]]))[:4]
    charts = []
    for sid in shown:
        g = groups[sid]
        part = forecasts["kept model"][forecasts["kept model"]["unique_id"] == sid]
        charts.append((sid, g.iloc[max(0, len(g) - h - 4 * h):len(g) - h], part, g.iloc[-h:][["ds", "y"]]))
    json_out = {"overall": overall, "diebold_mariano": dm, "series": len(groups), "horizon": h,
                "per_series": kept.drop(columns=["loss", "abs_y"]).to_dict("records")}
    return {"lines": lines, "overall": overall, "dm": dm, "per_series": kept.to_dict("records"), "charts": charts,
            "json": json_out}


def _scaled_errors(forecast: pd.DataFrame, truth: dict[str, np.ndarray], scales: dict[str, float]) -> np.ndarray:
    parts = []
    for sid, part in forecast.groupby("unique_id", sort=False):
        parts.append(np.abs(truth[str(sid)] - part["prediction"].to_numpy(dtype="float64")) / scales[str(sid)])
    return np.concatenate(parts)


def _ljung_box(residuals: np.ndarray) -> float:
    from statsmodels.stats.diagnostic import acorr_ljungbox

    lags = min(5, len(residuals) // 2)
    if lags < 1 or np.std(residuals) == 0:
        return float("nan")
    return float(acorr_ljungbox(residuals, lags=[lags])["lb_pvalue"].iloc[0])

"""Training a forecaster: the data read into a regular panel, every family backtested on rolling-origin
windows of length H (never shuffled, the windows' scores kept), a greedy weighted ensemble over the
windows when it wins, quantiles from each model or conformal from the backtest, all within the budget.

Each family other than the baselines runs in a forked process with a deadline, so a slow fit (AutoARIMA
on a long series) is stopped, not waited for; the seasonal naive exists within seconds.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.load import read_table
from kiln.errors import InvalidOptionError
from kiln.evaluation.forecast import coverage, diebold_mariano, quantile_loss, smape
from kiln.forecasters.base import FAMILIES, QUANTILES, family, long_season, season_length
from kiln.forecasters.checks import prepare
from kiln.forecasters.model import Forecaster, conformal, insample_scale
from kiln.training.progress import Reporter

MAX_WINDOWS = 3
MAX_CONTEXT = 2000  # points of recent history stored per series
ENSEMBLE_ROUNDS = 25
SPREADS = np.round(np.arange(0.6, 2.01, 0.1), 2)  # scalings of the ensemble's quantile spread tried


@dataclass
class Backtest:
    """The windows: for each (series, window) key, the cutoff; the truth and the scale after it."""

    keys: list[tuple[str, int]]
    cuts: dict[tuple[str, int], int]
    truth: np.ndarray  # keys × H
    scales: np.ndarray  # keys
    n_windows: int


def windows(series: dict[str, np.ndarray], h: int, m: int) -> Backtest:
    """Rolling origins from the end: window w forecasts the H steps after cutoff n − w·H, for as many
    windows (≤ MAX_WINDOWS) as leave a series two seasons (or 10 points) to fit on."""
    keys, cuts, truth, scales = [], {}, [], []
    most = 0
    for sid, y in series.items():
        n = len(y)
        minimum = max(2 * m + 2, 10) if n - h >= max(2 * m + 2, 10) else 3
        count = max(0, min(MAX_WINDOWS, (n - minimum) // h))
        most = max(most, count)
        for w in range(1, count + 1):
            cut = n - w * h
            keys.append((sid, w))
            cuts[(sid, w)] = cut
            truth.append(y[cut:cut + h])
            scales.append(insample_scale(y[:cut], m))
    return Backtest(keys, cuts, np.asarray(truth, dtype="float64").reshape(len(keys), h),
                    np.asarray(scales, dtype="float64"), most)


def _local_job(name: str, series: dict[str, np.ndarray], bt: Backtest, h: int, m: int) -> dict[str, Any]:
    fam = family(name)
    fallback = family("seasonal_naive")
    means, quantiles, specs, failures = [], [], {}, 0
    for sid, w in bt.keys:
        y = series[sid][: bt.cuts[(sid, w)]]
        try:
            result = fam.forecast(y, h, m)
        except Exception:
            result, failures = fallback.forecast(y, h, m), failures + 1
        means.append(result.mean)
        quantiles.append(result.quantiles if result.quantiles is not None else np.full((h, len(QUANTILES)), np.nan))
    for sid, y in series.items():
        try:
            specs[sid] = fam.forecast(y, h, m).spec
        except Exception:
            failures += 1
    return {"mean": np.asarray(means).reshape(len(bt.keys), h),
            "quantiles": np.asarray(quantiles).reshape(len(bt.keys), h, len(QUANTILES)),
            "specs": specs, "failures": failures}


def _global_job(panel: pd.DataFrame, bt: Backtest, h: int, recipe: dict[str, Any]) -> dict[str, Any]:
    fam = family("lightgbm")
    means = np.full((len(bt.keys), h), np.nan)
    position = {key: i for i, key in enumerate(bt.keys)}
    groups = {str(k): g.reset_index(drop=True) for k, g in panel.groupby("unique_id", sort=False)}
    for w in range(1, bt.n_windows + 1):
        train, future, wanted = [], [], []
        for sid, group in groups.items():
            cut = len(group) - w * h
            if cut < 12:
                continue
            train.append(group.iloc[:cut])
            future.append(group.iloc[cut:cut + h])
            if (sid, w) in position:
                wanted.append(sid)
        if not wanted:
            continue
        history = pd.concat(train, ignore_index=True)
        booster = fam.fit(history, recipe)
        predicted = fam.predict(recipe, booster, history, h, pd.concat(future, ignore_index=True))
        for sid, group in predicted.groupby("unique_id", sort=False):
            if (str(sid), w) in position:
                means[position[(str(sid), w)]] = group["mean"].to_numpy(dtype="float64")[:h]
    return {"mean": means, "booster": fam.fit(panel, recipe), "failures": int(np.isnan(means).any(axis=1).sum())}


def _in_child(job: Any, args: tuple[Any, ...], deadline: float) -> tuple[str, Any]:
    """Run job(*args) in a forked process; ("ok", result), ("stopped", None) at the deadline, or ("failed", why)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def target() -> None:
        try:
            send.send(("ok", job(*args)))
        except BaseException as exc:  # the child's error goes back to the parent as a sentence
            send.send(("failed", f"{type(exc).__name__}: {exc} {traceback.format_exc(limit=2)[-300:]}"))

    process = context.Process(target=target, daemon=True)
    process.start()
    send.close()
    try:
        if receive.poll(max(0.0, deadline - time.time())):
            return receive.recv()
        return "stopped", None
    except EOFError:
        return "failed", f"the process ended with status {process.exitcode}"
    finally:
        if process.is_alive():
            process.kill()
        process.join(timeout=5)
        receive.close()


class _RayPartitions:
    """`--ray`: each local family's series split into partitions, one Ray task each, gathered by the deadline
    (a task still running then is cancelled and the family counts as stopped)."""

    def __init__(self, address: str, reporter: Reporter) -> None:
        import ray

        from kiln.search.ray_runner import _connect

        self.ray = ray
        self.owned = not ray.is_initialized()
        _connect(ray, address)
        self.cpus = max(1, int(ray.cluster_resources().get("CPU", 1)))
        self.task = ray.remote(num_cpus=1, max_retries=0)(_local_job)
        reporter.note(f"--ray: series partitioned across {self.cpus} CPU(s) of the cluster")

    def run(self, name: str, series: dict[str, np.ndarray], bt: Backtest, h: int, m: int,
            deadline: float) -> tuple[str, Any]:
        ids = list(series)
        parts = [ids[i::min(len(ids), 2 * self.cpus)] for i in range(min(len(ids), 2 * self.cpus))]
        refs = [self.task.remote(name, {sid: series[sid] for sid in part}, _subset(bt, part), h, m) for part in parts]
        _ready, waiting = self.ray.wait(refs, num_returns=len(refs), timeout=max(0.0, deadline - time.time()))
        if waiting:
            for ref in waiting:
                self.ray.cancel(ref, force=True)
            return "stopped", None
        try:
            done = self.ray.get(refs)
        except Exception as exc:  # a task's error, as the forked path reports it
            return "failed", f"{type(exc).__name__}: {str(exc)[:200]}"
        position = {key: i for i, key in enumerate(bt.keys)}
        mean = np.full((len(bt.keys), h), np.nan)
        quantiles = np.full((len(bt.keys), h, len(QUANTILES)), np.nan)
        specs: dict[str, Any] = {}
        failures = 0
        for part, out in zip(parts, done, strict=True):
            for i, key in enumerate(_subset(bt, part).keys):
                mean[position[key]] = out["mean"][i]
                quantiles[position[key]] = out["quantiles"][i]
            specs.update(out["specs"])
            failures += out["failures"]
        return "ok", {"mean": mean, "quantiles": quantiles, "specs": specs, "failures": failures,
                      "partitions": len(parts)}

    def close(self) -> None:
        if self.owned:
            self.ray.shutdown()


def _subset(bt: Backtest, ids: list[str]) -> Backtest:
    """The windows of the series `ids` only, in the backtest's order."""
    chosen = set(ids)
    pick = [i for i, (sid, _) in enumerate(bt.keys) if sid in chosen]
    keys = [bt.keys[i] for i in pick]
    return Backtest(keys, {key: bt.cuts[key] for key in keys}, bt.truth[pick].reshape(len(pick), bt.truth.shape[1]),
                    bt.scales[pick], bt.n_windows)


class _Scorer:
    """Backtest metrics of forecasts given as keys × H means and keys × H × 9 quantiles."""

    def __init__(self, bt: Backtest) -> None:
        self.bt = bt
        self.window = np.asarray([w for _, w in bt.keys])
        self.abs_y = np.abs(bt.truth)

    def scaled_errors(self, mean: np.ndarray) -> np.ndarray:
        return np.abs(self.bt.truth - mean) / self.bt.scales[:, None]

    def pinball(self, q: np.ndarray) -> np.ndarray:
        """keys × H summed pinball loss over the 9 levels."""
        y = self.bt.truth[:, :, None]
        levels = np.asarray(QUANTILES)[None, None, :]
        return np.abs((y - q) * ((y <= q).astype("float64") - levels)).sum(axis=2)

    def objective(self, mean: np.ndarray, q: np.ndarray) -> tuple[float, float]:
        """(pooled MASE, pooled WQL) over every key."""
        return (float(self.scaled_errors(mean).mean()),
                float(2.0 / len(QUANTILES) * self.pinball(q).sum() / max(self.abs_y.sum(), 1e-12)))

    def per_window(self, mean: np.ndarray, q: np.ndarray) -> list[dict[str, float]]:
        rows = []
        for w in sorted(set(self.window)):
            pick = self.window == w
            truth, m_, q_ = self.bt.truth[pick], mean[pick], q[pick]
            rows.append({"window": int(w),
                         "mase": float(self.scaled_errors(mean)[pick].mean()),
                         "wql": float(2.0 / len(QUANTILES)
                                      * sum(quantile_loss(t, qq) for t, qq in zip(truth, q_, strict=True))
                                      / max(np.abs(truth).sum(), 1e-12)),
                         "smape": float(np.mean([smape(t, mm) for t, mm in zip(truth, m_, strict=True)])),
                         "coverage": float(np.mean([coverage(t, qq) for t, qq in zip(truth, q_, strict=True)]))})
        return rows


def _sigma(errors: np.ndarray) -> np.ndarray:
    """Per-step RMS of scaled errors, never shrinking with the step (a longer horizon is not surer)."""
    return np.maximum.accumulate(np.sqrt(np.nanmean(errors ** 2, axis=0)))


def _conformal_backtest(bt: Backtest, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(quantiles on the windows, each from the other windows' errors when there are others; the spread from
    all windows for the final model)."""
    signed = (bt.truth - mean) / bt.scales[:, None]
    window = np.asarray([w for _, w in bt.keys])
    quantiles = np.empty((*mean.shape, len(QUANTILES)))
    for w in set(window):
        others = window != w
        sigma = _sigma(signed[others] if others.any() else signed)
        for i in np.flatnonzero(window == w):
            quantiles[i] = conformal(mean[i], bt.scales[i], sigma)
    return quantiles, _sigma(signed)


def _process_start(started: float) -> float:
    """When the `kiln` command's process began, if that is earlier than `started` and recent (the command's budget
    covers the interpreter's start and its imports too); `started` elsewhere (Linux /proc only)."""
    program = Path(sys.argv[0] if sys.argv else "")
    if program.name != "kiln" and program.as_posix()[-len("kiln/cli/__main__.py"):] != "kiln/cli/__main__.py":
        return started  # not the kiln command (a notebook, a test runner): its budget starts at the call
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        boot = float(Path("/proc/uptime").read_text().split()[0])
        begun = time.time() - (boot - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        return started
    return begun if started - 30.0 < begun < started else started


class ForecastTrainer:
    """`kiln train --task forecast`."""

    options = frozenset({"time_column", "id_column", "horizon", "frequency", "quantiles", "known_future", "ray"})

    def train(self, data: pd.DataFrame | str | Path, *, target: str | None, task: str, options: Mapping[str, Any],
              time_limit: float, seed: int, reporter: Reporter, started: float | None) -> Forecaster:
        started = _process_start(time.time() if started is None else started)
        deadline = started + float(time_limit)
        if target is None:
            raise InvalidOptionError("--task forecast needs --target, the column to forecast.")
        if not options.get("time_column"):
            raise InvalidOptionError("--task forecast needs --time-column, the timestamp column.")
        if not options.get("horizon") or int(options["horizon"]) < 1:
            raise InvalidOptionError("--task forecast needs --horizon H, the number of steps to forecast (≥ 1).")
        quantiles = options.get("quantiles")
        if quantiles is not None and tuple(float(q) for q in str(quantiles).split(",")) != QUANTILES:
            raise InvalidOptionError(f"--quantiles must be {','.join(f'{q:g}' for q in QUANTILES)} in this kiln "
                                     "(the contract's nine levels).")
        h = int(options["horizon"])
        frame = read_table(data)
        prepared = prepare(frame, target=target, time_column=options["time_column"],
                           id_column=options.get("id_column"), horizon=h, frequency=options.get("frequency"),
                           known_future=options.get("known_future"))
        for note in prepared.notes:
            reporter.note(note)
        panel = prepared.panel
        m = season_length(panel.freq)
        series = panel.series()
        lengths = panel.lengths()
        bt = windows(series, h, m)
        reporter.note(f"{len(series)} series, frequency {panel.freq} (season {m}), horizon {h}: "
                      f"{bt.n_windows} backtest window(s) of {h} steps")
        cluster = _RayPartitions(str(options["ray"]), reporter) if options.get("ray") else None
        try:
            return self._search(prepared, panel, series, lengths, bt, h, m, seed, started, deadline, time_limit,
                                reporter, cluster)
        finally:
            if cluster is not None:
                cluster.close()

    def _search(self, prepared: Any, panel: Any, series: dict[str, np.ndarray], lengths: np.ndarray, bt: Backtest,
                h: int, m: int, seed: int, started: float, deadline: float, time_limit: float,
                reporter: Reporter, cluster: _RayPartitions | None = None) -> Forecaster:
        scorer = _Scorer(bt)
        reserve = max(2.5, 0.15 * float(time_limit))  # saving, the report and the check forecast
        results: dict[str, dict[str, Any]] = {}
        board: list[dict[str, Any]] = []
        window_rows: list[dict[str, Any]] = []
        intermittent = prepared.intermittent
        imported = False
        order = list(FAMILIES)
        if prepared.known_future:  # the one family that reads covariates goes right after the baselines
            order.remove("lightgbm")
            order.insert(order.index("drift") + 1, "lightgbm")
        for name in order:
            fam = family(name)
            row: dict[str, Any] = {"model": name, "tags": ",".join(sorted(fam.tags)), "fit_s": 0.0}
            if not fam.usable(lengths, m, intermittent):
                board.append({**row, "status": "skipped: does not fit these series"})
                continue
            if name == "mstl":
                extra = long_season(panel.freq)
                if extra is None or int(lengths.min()) < 2 * extra + 2 + bt.n_windows * h:
                    board.append({**row, "status": "skipped: no second season two cycles long"})
                    continue
            left = deadline - reserve - time.time()
            if not bt.keys and "baseline" not in fam.tags:
                board.append({**row, "status": "skipped: the series are too short for a backtest window"})
                continue
            if left < 1.0 and "baseline" not in fam.tags:
                board.append({**row, "status": "skipped: the time limit was reached"})
                continue
            begun = time.time()
            if "baseline" in fam.tags:
                status, result = "ok", _local_job(name, series, bt, h, m)
            else:
                if not imported and not fam.is_global:
                    import statsforecast.models  # noqa: F401  (imported once, before the forks share it)
                    imported = True
                cap = begun + min(left, 0.45 * float(time_limit) if fam.slow else left)
                if fam.is_global:
                    recipe = fam.recipe(lengths - bt.n_windows * h, m, panel.freq, prepared.known_future, seed)
                    status, result = _in_child(_global_job, (panel.frame, bt, h, recipe), cap)
                    if status == "ok":
                        result["recipe"] = recipe
                else:
                    specs_m = m
                    if name == "mstl":
                        status, result = _in_child(_mstl_job, (series, bt, h, m, long_season(panel.freq)), cap)
                    elif cluster is not None:  # --ray: the series partitioned across the cluster's workers
                        status, result = cluster.run(name, series, bt, h, specs_m, cap)
                    else:
                        status, result = _in_child(_local_job, (name, series, bt, h, specs_m), cap)
            row["fit_s"] = round(time.time() - begun, 3)
            if status != "ok":
                board.append({**row, "status": "stopped at its deadline" if status == "stopped" else
                              f"failed: {str(result)[:160]}"})
                reporter.note(f"{name}: {board[-1]['status']}")
                continue
            mean = result["mean"]
            if bt.keys and not np.isfinite(mean).all():
                board.append({**row, "status": "failed: non-finite backtest forecasts"})
                continue
            results[name] = self._quantiles(name, result, bt, scorer)
            metrics = scorer.per_window(mean, results[name]["q"]) if bt.keys else []
            for metric_row in metrics:
                window_rows.append({"model": name, **metric_row})
            board.append({**row, **_summary(metrics), "status": "ok", "intervals": results[name]["intervals"],
                          "failures": int(result.get("failures", 0))})
            if bt.keys:
                reporter.note(f"{name}: backtest MASE {board[-1]['mase']:.3f}, WQL {board[-1]['wql']:.4f} "
                              f"({row['fit_s']:.1f}s)")
        members, info = self._ensemble(results, bt, scorer, board, window_rows)
        info["seconds"] = round(time.time() - started, 2)
        info["covariates"] = prepared.covariates
        info["notes"] = prepared.notes
        info["checks"] = prepared.checks
        info["windows"] = bt.n_windows
        info["time_limit"] = float(time_limit)
        info["seed"] = int(seed)
        info["backtest_keys"] = [[sid, w] for sid, w in bt.keys]
        context = panel.frame.groupby("unique_id", sort=False).tail(MAX_CONTEXT).reset_index(drop=True)
        used = {member["family"] for member in members}
        model = Forecaster(
            columns=prepared.columns, horizon=h, freq=panel.freq, m=m, known_future=prepared.known_future,
            members=members, specs={name: results[name].get("specs", {}) for name in used if name in results},
            sigmas={name: [float(s) for s in results[name]["sigma"]] for name in used},
            context=context, recipe=results.get("lightgbm", {}).get("recipe") if "lightgbm" in used else None,
            booster=results["lightgbm"]["booster"] if "lightgbm" in used else None,
            board=_ranked(board), windows=window_rows, backtest=_backtest_frame(bt, results, members, info),
            info=info)
        model.info["seconds"] = round(time.time() - started, 2)
        reporter.note(f"kept {info['best']}; trained in {model.info['seconds']:.1f}s")
        return model

    def summary(self, model: Forecaster) -> list[str]:
        """The kept model's backtest score with its interval, against the seasonal naive's."""
        return _summary_lines(model)

    def _quantiles(self, name: str, result: dict[str, Any], bt: Backtest, scorer: _Scorer) -> dict[str, Any]:
        """The model's own quantiles or conformal ones, whichever has the lower backtest WQL."""
        mean = result["mean"]
        if not bt.keys:
            return {**result, "q": np.empty((0, mean.shape[1] if mean.ndim == 2 else 0, len(QUANTILES))),
                    "sigma": np.zeros(1), "intervals": "model" if family(name).intervals else "conformal"}
        q_conformal, sigma = _conformal_backtest(bt, mean)
        q_model = result.get("quantiles")
        choice, q = "conformal", q_conformal
        if q_model is not None and np.isfinite(q_model).all():
            q_model = np.sort(q_model, axis=2)
            if scorer.objective(mean, q_model)[1] <= scorer.objective(mean, q_conformal)[1]:
                choice, q = "model", q_model
        return {**result, "q": q, "sigma": sigma, "intervals": choice}

    def _ensemble(self, results: dict[str, dict[str, Any]], bt: Backtest, scorer: _Scorer,
                  board: list[dict[str, Any]], window_rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]],
                                                                                          dict[str, Any]]:
        """Greedy selection with replacement (Caruana; AutoGluon-TimeSeries' ensemble) minimising MASE and WQL
        relative to the seasonal naive's on the backtest windows; kept when it beats the best single model."""
        names = [n for n in results if results[n].get("specs") is not None or results[n].get("booster")]
        names = [n for n in names if n in results]
        info: dict[str, Any] = {"spread": 1.0}
        if not bt.keys or len(names) == 1:
            best = "seasonal_naive" if "seasonal_naive" in results else names[0]
            info["best"] = best
            return [{"family": best, "weight": 1.0, "intervals": results[best]["intervals"]}], info
        base_mase, base_wql = scorer.objective(results["seasonal_naive"]["mean"], results["seasonal_naive"]["q"])

        def loss(mean: np.ndarray, q: np.ndarray) -> float:
            mase_, wql_ = scorer.objective(mean, q)
            return mase_ / max(base_mase, 1e-12) + wql_ / max(base_wql, 1e-12)

        single = {n: loss(results[n]["mean"], results[n]["q"]) for n in names}
        best = min(single, key=single.get)
        counts = dict.fromkeys(names, 0)
        total_mean = np.zeros_like(results[best]["mean"])
        total_q = np.zeros_like(results[best]["q"])
        chosen = 0
        for _ in range(ENSEMBLE_ROUNDS):
            trial = {n: loss((total_mean + results[n]["mean"]) / (chosen + 1),
                             (total_q + results[n]["q"]) / (chosen + 1)) for n in names}
            pick = min(trial, key=trial.get)
            counts[pick] += 1
            total_mean += results[pick]["mean"]
            total_q += results[pick]["q"]
            chosen += 1
        mean, q = total_mean / chosen, np.sort(total_q / chosen, axis=2)
        ensemble_loss = loss(mean, q)
        use_ensemble = sum(1 for c in counts.values() if c) > 1 and ensemble_loss < single[best] - 1e-9
        if use_ensemble:
            members = [{"family": n, "weight": counts[n] / chosen, "intervals": results[n]["intervals"]}
                       for n in names if counts[n]]
        else:
            members = [{"family": best, "weight": 1.0, "intervals": results[best]["intervals"]}]
            mean, q = results[best]["mean"], results[best]["q"]
        # One scaling of the quantile spread around the median, chosen on the windows (calibration).
        median = q[:, :, 4:5]
        spreads = {float(s): scorer.objective(mean, median + s * (q - median))[1] for s in SPREADS}
        info["spread"] = min(spreads, key=spreads.get)
        q = np.sort(median + info["spread"] * (q - median), axis=2)
        metrics = scorer.per_window(mean, q)
        for metric_row in metrics:
            window_rows.append({"model": "ensemble" if use_ensemble else f"{best} (calibrated)", **metric_row})
        weights = ", ".join(f"{m['family']} {m['weight']:.2f}" for m in members)
        board.append({"model": "ensemble" if use_ensemble else f"{best} (calibrated)", "tags": "ensemble",
                      "fit_s": 0.0, **_summary(metrics), "status": "ok",
                      "members": f"{weights}; quantile spread ×{info['spread']:.1f}", "intervals": "combined"})
        info["best"] = "ensemble" if use_ensemble else best
        info["ensemble_mean"], info["ensemble_q"] = mean, q
        info["dm"] = _dm_top(results, scorer, mean)
        return members, info


def _mstl_job(series: dict[str, np.ndarray], bt: Backtest, h: int, m: int, extra: int) -> dict[str, Any]:
    fam = family("mstl")
    means, quantiles, specs = [], [], {}
    spec = {"seasons": [m, extra]}
    for sid, w in bt.keys:
        result = fam.forecast(series[sid][: bt.cuts[(sid, w)]], h, m, spec)
        means.append(result.mean)
        quantiles.append(result.quantiles)
    for sid, y in series.items():
        specs[sid] = fam.forecast(y, h, m, spec).spec
    return {"mean": np.asarray(means).reshape(len(bt.keys), h),
            "quantiles": np.asarray(quantiles).reshape(len(bt.keys), h, len(QUANTILES)), "specs": specs,
            "failures": 0}


def _summary(metrics: list[dict[str, float]]) -> dict[str, float]:
    """Mean over windows and a 95% interval of MASE (the score), WQL, sMAPE; mean coverage."""
    if not metrics:
        return {"score": float("nan"), "ci_low": float("nan"), "ci_high": float("nan")}
    out: dict[str, float] = {}
    for key in ("mase", "wql", "smape"):
        mean, low, high = _t_interval([r[key] for r in metrics])
        out[key], out[f"{key}_ci_low"], out[f"{key}_ci_high"] = mean, low, high
    out["coverage_80"] = float(np.mean([r["coverage"] for r in metrics]))
    out["score"], out["ci_low"], out["ci_high"] = out["mase"], out["mase_ci_low"], out["mase_ci_high"]
    return out


def _t_interval(values: list[float]) -> tuple[float, float, float]:
    """Mean and Student's t 95% interval across windows (clipped at 0: the metrics are non-negative)."""
    from scipy import stats

    array = np.asarray(values, dtype="float64")
    mean = float(array.mean())
    if len(array) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, df=len(array) - 1) * array.std(ddof=1) / np.sqrt(len(array)))
    return mean, max(0.0, mean - half), mean + half


def _ranked(board: list[dict[str, Any]]) -> list[dict[str, Any]]:
    order = sorted(board, key=lambda r: (not np.isfinite(r.get("score", np.nan)), r.get("score", np.inf)))
    for rank, row in enumerate(order, 1):
        row["rank"] = rank
        row.setdefault("predict_s_per_1k", float("nan"))
        for key in ("score", "ci_low", "ci_high"):
            row.setdefault(key, float("nan"))
    return order


def _dm_top(results: dict[str, dict[str, Any]], scorer: _Scorer, ensemble: np.ndarray) -> list[dict[str, Any]]:
    """Diebold–Mariano tests of the ensemble against the best single candidates on the windows' scaled errors."""
    errors = {n: scorer.scaled_errors(r["mean"]).ravel() for n, r in results.items()}
    mine = scorer.scaled_errors(ensemble).ravel()
    top = sorted(errors, key=lambda n: errors[n].mean())[:4]
    out = []
    for name in top:
        test = diebold_mariano(mine, errors[name], h=scorer.bt.truth.shape[1])
        out.append({"against": name, "statistic": test.statistic, "p_value": test.p_value, "n": test.n,
                    "mean_difference": test.mean_difference})
    return out


def _backtest_frame(bt: Backtest, results: dict[str, dict[str, Any]], members: list[dict[str, Any]],
                    info: dict[str, Any]) -> pd.DataFrame:
    """The kept model's forecasts on every window (for the report's fan charts and residual checks)."""
    if not bt.keys:
        return pd.DataFrame(columns=["unique_id", "window", "step", "y", "prediction", "q10", "q90"])
    if "ensemble_q" in info:
        mean, q = info.pop("ensemble_mean"), info.pop("ensemble_q")
    else:
        name = members[0]["family"]
        mean, q = results[name]["mean"], results[name]["q"]
    rows = []
    for i, (sid, w) in enumerate(bt.keys):
        for step in range(bt.truth.shape[1]):
            rows.append({"unique_id": sid, "window": w, "cut": bt.cuts[(sid, w)], "step": step + 1,
                         "y": bt.truth[i, step], "prediction": mean[i, step], "q10": q[i, step, 0],
                         "q90": q[i, step, -1]})
    return pd.DataFrame(rows)


def _summary_lines(model: Forecaster) -> list[str]:
    board = model.leaderboard()
    kept = board.iloc[0]
    lines = [f"forecast: {model.info.get('best')} — backtest MASE {kept['score']:.3f}"
             + (f" (95% CI {kept['ci_low']:.3f}–{kept['ci_high']:.3f})" if np.isfinite(kept["ci_low"]) else "")
             + (f", WQL {kept['wql']:.4f}" if "wql" in kept and np.isfinite(kept["wql"]) else "")
             + f" over {model.info.get('windows', 0)} window(s) of {model.horizon} steps"]
    naive = board[board["model"] == "seasonal_naive"]
    if len(naive) and np.isfinite(naive.iloc[0]["score"]) and np.isfinite(kept["score"]):
        ratio = kept["score"] / naive.iloc[0]["score"] if naive.iloc[0]["score"] > 0 else np.nan
        lines.append(f"  {ratio:.2f}× the seasonal naive's error on the backtest "
                     f"({'better' if ratio < 1 else 'not better'} than repeating the last season)")
    lines.append(f"  trained in {model.info.get('seconds', 0):.1f}s; {len(model.series_ids)} series, frequency "
                 f"{model.freq}, horizon {model.horizon}")
    return lines


TRAINER = ForecastTrainer()

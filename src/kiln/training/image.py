"""Train the image kind: pictures → feature rows → kiln's tabular search, CV and ensemble, plus a CNN.

read (Pillow; bad files stop or, with --skip-bad, are skipped and listed) → image checks (errors
stop) → recipe (grey/colour, side) → copies of one image with one label trained once (same
perceptual hash), so no copy of a validation image sits in its training fold → feature rows →
`train_model` on them with the learners that suit dense, standardised features (`LEARNERS`) →
an RBF SVC on the pixel grid alone (`vision.pixels`: it wants the pixels on their shared 0-1 scale,
which the learners' standardising preprocessing does not keep) and the network (when torch is
installed and the budget allows), both cross-validated on the *same folds* (the tabular out-of-fold
frame records them) → the members' blend weights chosen on out-of-fold log loss → an `ImageModel`.

Budget: `--time-limit` covers the whole command. The feature search gets `FEATURE_SHARE` of what is
left after reading (all but `PIXEL_SHARE` without the network); the pixel SVC's candidates
`PIXEL_SHARE` (its first always runs: a few seconds); the network's folds split the rest, each
stopping early (a tenth of its training fold held out) or at its deadline.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.data.checks import CHECKS
from kiln.errors import InvalidDataError, InvalidOptionError
from kiln.evaluation.metrics import get_metric
from kiln.evaluation.stats import fold_interval
from kiln.training.progress import Reporter
from kiln.training.train import TrainSpec, train_model
from kiln.vision.checks import duplicate_groups, run_image_checks
from kiln.vision.features import FeatureRecipe, choose_recipe
from kiln.vision.model import ImageModel, log_linear
from kiln.vision.network import AUGMENTS, Network, NetworkSpec, fit_network, torch_available
from kiln.vision.pixels import cross_validate as cross_validate_pixels
from kiln.vision.pixels import usable as pixels_usable
from kiln.vision.read import labelled_listing, read_all
from kiln.vision.stats import dhash, statistics_frame

LEARNERS = ("linear", "knn")  # dense standardised features: logistic regression first (HOG + LR is the classic)
# With the network: the feature search's share of the time left after reading (0.45 left the digits suite's
# search at --time-limit 60 without a finished logistic regression at load 9).
FEATURE_SHARE = 0.6
PIXEL_SHARE = 0.1
# Below this per fold a network learns nothing the pool keeps on two busy cores (digits suite, --time-limit 60:
# 5 s a fold, 3-6 epochs, out-of-fold log loss 1.58); the network is then skipped before the feature search,
# which gets its time.
NETWORK_MIN_SECONDS = 10.0
# Writing the bundle: skops takes ~1 s per fitted preprocessing of ~1,800 feature columns on two
# busy cores (up to ~7 of them: an ensemble keeping fold models), plus the report; kept out of the
# search's time. Measured: 4.1 s for a one-model bundle of the digits at load 5; 0.1 of the limit (6 s
# at 60 s) left the whole `kiln train --time-limit 60` at 80-85 s on the digits suite.
SAVE_SHARE, SAVE_MIN = 0.2, 4.0
LABEL = "label"
N_FOLDS_EXPECTED = 3  # the feature search's folds on a few thousand images (the network's budget is per fold)


class ImageTrainer:
    """The train hook of the image kind (kiln.training.kind.Trainer)."""

    # network, augment, network_epochs, network_min_seconds (a fold's least time, NETWORK_MIN_SECONDS), max_trials
    # (of the feature search) and n_jobs: the Python API's
    options = frozenset({"path_column", "skip_bad", "network", "augment", "network_epochs", "ignore", "max_trials",
                         "n_jobs", "network_min_seconds"})

    def train(self, data: pd.DataFrame | str | Path, *, target: str | None, task: str, options: Mapping[str, Any],
              time_limit: float, seed: int, reporter: Reporter, started: float | None) -> ImageModel:
        started = started or time.time()
        if isinstance(data, pd.DataFrame):
            raise InvalidOptionError("--task image takes a folder (<class>/<file>.png) or a table file of paths "
                                     "with --path-column; pass its path.")
        augment = str(options.get("augment", "shift"))
        if augment not in AUGMENTS:
            raise InvalidOptionError(f"augment must be one of {', '.join(AUGMENTS)}, got {augment!r}.")
        want_network = options.get("network", True)
        listing = labelled_listing(data, target=target, path_column=options.get("path_column"))
        listing, images = read_all(listing, skip_bad=bool(options.get("skip_bad")))
        for name, why in listing.skipped:
            reporter.note(f"Skipped {name}: {why}")
        labels = [str(v) for v in listing.labels or []]
        names = listing.relative()
        hashes = [dhash(im) for im in images]
        findings = run_image_checks(labels, [im.size for im in images], hashes, names, listing.skipped,
                                    ignore=options.get("ignore", ()))
        errors = [f for f in findings if f.severity == "error"]
        if errors:
            first = errors[0]
            raise InvalidDataError(f"{first.code} {first.title}: {first.detail} {first.advice}")
        for finding in findings:
            if finding.severity != "info":
                reporter.note(f"{finding.code} {finding.title}: {finding.detail}")
        recipe = choose_recipe(images)
        arrays = recipe.arrays(images)
        keep = trained_once(hashes, labels)
        if len(keep) < len(labels):
            reporter.note(f"{len(labels) - len(keep)} images not trained on: copies of another image of the same "
                          "class are trained once, and images whose copy carries another label (IM005) not at all.")
        reporter.note(f"{len(labels):,} images, {len(set(labels))} classes; each read as {recipe.mode} "
                      f"{recipe.side}×{recipe.side} (box filter), {len(recipe.names())} features.")
        frame = recipe.frame(arrays[keep])
        frame[LABEL] = [labels[i] for i in keep]
        kept_arrays = arrays[keep]

        network_ok = want_network and torch_available()
        if want_network and not network_ok:
            reporter.note("The network is skipped: PyTorch is not installed (pip install 'kiln-ml[vision]').")
        save_reserve = max(SAVE_MIN, SAVE_SHARE * time_limit)
        left = time_limit - (time.time() - started) - save_reserve
        network_share = left * (1 - FEATURE_SHARE - PIXEL_SHARE) / N_FOLDS_EXPECTED
        least = float(options.get("network_min_seconds", NETWORK_MIN_SECONDS))
        if network_ok and network_share < least:
            network_ok = False
            reporter.note(f"The network is skipped: about {max(network_share, 0):.0f}s a fold would be left for it "
                          f"(it needs {least:g}s a fold to add anything); give a longer --time-limit.")
        feature_end = time.time() + left * (FEATURE_SHARE if network_ok else 1 - PIXEL_SHARE)
        n_classes = len(set(labels))
        spec = TrainSpec(target=LABEL, task="binary" if n_classes == 2 else "multiclass",
                         time_limit=max(feature_end - started, 1.0), seed=seed, learners=LEARNERS,
                         ignore=tuple(CHECKS), max_rows=max(len(frame), 10), max_trials=options.get("max_trials"),
                         n_jobs=options.get("n_jobs"))
        features = train_model(frame, spec, _Quiet(reporter), started=started)
        classes = [str(c) for c in features.classes_ or []]
        y = np.array([classes.index(v) for v in frame[LABEL]])
        folds = features.oof["fold"].to_numpy()
        final_oof = features.oof[[f"final__proba_{c}" for c in classes]].to_numpy()
        metric = get_metric(features.metric, features.task)
        network, network_info, pixels, pixel_info = None, None, None, None
        oofs = {"features": final_oof}
        deadline = started + time_limit - save_reserve
        if pixels_usable(y, folds):
            pixels, oofs["pixels"], pixel_info = cross_validate_pixels(
                frame[recipe.names()[: recipe.grid**2]].to_numpy(np.float64), y, folds, len(classes),
                deadline=time.time() + left * PIXEL_SHARE,
                score=lambda p: _mean_loss(metric, features.task, y, p, folds))
            reporter.note(f"Pixel SVC: C {pixels.config['C']:g}, gamma {pixels.config['gamma_scale']:g}×scale, "
                          f"{len(pixel_info['tried'])} candidate(s) in {pixel_info['fit_s']:.1f}s.")
        if network_ok:
            network, net_oof, network_info = _cross_validate_network(
                kept_arrays, y, folds, recipe, len(classes), deadline=deadline, seed=seed, augment=augment,
                reporter=reporter, max_epochs=int(options.get("network_epochs", 60)), least=least)
            if network is not None:
                oofs["network"] = net_oof
        weights = _blend_weights(oofs, y, folds, metric, features.task)
        if len(oofs) > 1:
            reporter.note("Blend exponents (log-linear pool, chosen on out-of-fold " + metric.name + "): "
                          + ", ".join(f"{name} {w:.2f}" for name, w in weights.items()) + ".")
        weight, pixel_weight = weights.get("network", 0.0), weights.get("pixels", 0.0)
        network = network if weight > 0 else None
        pixels = pixels if pixel_weight > 0 else None
        leaderboard, cv = _leaderboard(features, {"pixels": pixel_info, "network": network_info}, weights, oofs,
                                       y, folds, metric)
        blended = geometric_blend(oofs, weights)
        reference = statistics_frame([images[i] for i in keep], kept_arrays)
        reference["__fold"] = folds
        reference["__hash"] = [f"{hashes[i]:016x}" for i in keep]
        reference["__target"] = [classes[k] for k in y]
        reference["__predicted"] = [classes[k] for k in blended.argmax(axis=1)]
        for i, c in enumerate(classes):
            reference[f"__proba_{c}"] = blended[:, i]
        manifest = {
            "task": "image", "classes": classes, "metric": metric.name, "cv": cv, "recipe": recipe.to_dict(),
            "network": None if network_info is None else {k: v for k, v in network_info.items() if k != "oof"},
            "network_weight": weight, "pixels": pixel_info, "pixel_weight": pixel_weight,
            "feature_weight": weights["features"], "blend": "log_linear",
            "findings": [f.to_dict() for f in findings],
            "skipped": [{"path": p, "why": w} for p, w in listing.skipped],
            "training": {"images": len(labels), "trained_images": len(keep), "seed": seed,
                         "time_limit": time_limit, "seconds": round(time.time() - started, 2),
                         "network": bool(want_network), "augment": augment,  # what retrain's challenger reuses
                         "network_epochs": int(options.get("network_epochs", 60)), "network_min_seconds": least,
                         "max_trials": options.get("max_trials"),
                         "feature_model": features.manifest["cv"]["model"]},
            "created": pd.Timestamp.now(tz="UTC").isoformat(),
        }
        return ImageModel(recipe, features, network, weight, leaderboard, manifest, reference, pixels=pixels,
                          pixel_weight=pixel_weight, feature_weight=weights["features"])

    def summary(self, model: ImageModel) -> list[str]:
        cv = model.manifest["cv"]
        lines = [f"model: {cv['model']}  {cv['metric']} {cv['score']:.4f} [{cv['ci_low']:.4f}, {cv['ci_high']:.4f}]  "
                 f"in {model.manifest['training']['seconds']:.1f}s "
                 f"(--time-limit {model.manifest['training']['time_limit']:g}s)"]
        if model.manifest.get("skipped"):
            lines.append(f"skipped {len(model.manifest['skipped'])} unreadable image(s) (listed in kiln.json)")
        return lines


TRAINER = ImageTrainer()


def trained_once(hashes: list[int], labels: list[str]) -> np.ndarray:
    """The images training uses: one of each group with the same perceptual hash and label, and none of a hash
    that carries two labels. So no two training rows share a hash, and a validation image never has a copy in
    its training fold (the folds cannot split what is not there twice)."""
    labels_of: dict[int, set[str]] = {}
    for h, label in zip(hashes, labels, strict=True):
        labels_of.setdefault(h, set()).add(label)
    group = duplicate_groups(hashes, labels)
    return np.array([i for i, g in enumerate(group) if g == i and len(labels_of[hashes[i]]) == 1], dtype=int)


class _Quiet(Reporter):
    """Passes the feature search's progress on, without its notes on single feature columns (a HOG cell
    that is constant over the set is dropped: expected, and there are hundreds)."""

    def __init__(self, inner: Reporter) -> None:
        self.inner = inner
        self.dropped = 0

    def note(self, message: str) -> None:
        if message.startswith("Dropped column"):
            self.dropped += 1
            return
        self.inner.note(message)

    def start(self, *, budget: float, started: float, metric: str, n_folds: int) -> None:
        if self.dropped:
            self.inner.note(f"{self.dropped} constant feature columns dropped (e.g. HOG cells of a blank border).")
        self.inner.start(budget=budget, started=started, metric=metric, n_folds=n_folds)

    def trial(self, result: Any, results: list[Any], best: float) -> None:
        self.inner.trial(result, results, best)

    def stop(self) -> None:
        self.inner.stop()


def _cross_validate_network(arrays: np.ndarray, y: np.ndarray, folds: np.ndarray, recipe: FeatureRecipe,
                            n_classes: int, *, deadline: float, seed: int, augment: str, reporter: Reporter,
                            max_epochs: int = 60, least: float = NETWORK_MIN_SECONDS,
                            ) -> tuple[Network | None, np.ndarray | None, dict[str, Any] | None]:
    """The network fitted on each training fold (its out-of-fold probabilities); the fold networks, averaged,
    are the final network. None when the time left cannot give each fold `least` seconds."""
    spec = NetworkSpec(channels=recipe.channels, side=recipe.side, n_classes=n_classes)
    k = int(folds.max()) + 1
    left = deadline - time.time()
    if left / k < least:
        reporter.note(f"The network is skipped: {max(left, 0):.1f}s left for {k} folds "
                      f"(it needs {least:g}s a fold); give a longer --time-limit.")
        return None, None, None
    started = time.time()
    oof = np.zeros((len(y), n_classes))
    modules, runs = [], []
    for fold in range(k):
        fold_deadline = started + (fold + 1) * (deadline - started) / k
        train_rows, val_rows = np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)
        module, info = fit_network(arrays[train_rows], y[train_rows], spec, deadline=fold_deadline,
                                   seed=seed + fold, augment=augment, max_epochs=max_epochs)
        single = Network(spec, [module])
        oof[val_rows] = single.predict_proba(arrays[val_rows])
        modules.append(module)
        runs.append(info)
    seconds = time.time() - started
    reporter.note(f"Network: {k} folds in {seconds:.1f}s, epochs {[r['epochs'] for r in runs]}.")
    return Network(spec, modules), oof, {"spec": spec.to_dict(), "folds": runs, "count": len(modules),
                                         "augment": augment, "fit_s": round(seconds, 2), "oof": oof}


def _fold_scores(metric: Any, task: str, y: np.ndarray, proba: np.ndarray, folds: np.ndarray) -> list[float]:
    return [metric.score(y[folds == k], proba[folds == k], task) for k in range(int(folds.max()) + 1)]


def _mean_loss(metric: Any, task: str, y: np.ndarray, proba: np.ndarray, folds: np.ndarray) -> float:
    """The mean fold score as a loss (lower is better whatever the metric's direction)."""
    scores = _fold_scores(metric, task, y, proba, folds)
    return float(np.mean([-s if metric.greater_is_better else s for s in scores]))


BLEND_GRID = {2: np.round(np.arange(0, 2.01, 0.1), 2), 3: np.round(np.arange(0, 1.81, 0.3), 2)}  # by members


def geometric_blend(oofs: dict[str, np.ndarray], weights: dict[str, float]) -> np.ndarray:
    """Probabilities ∝ Π p_member ** weight (a log-linear pool: a member's confident "no" counts)."""
    return log_linear([(weights[name], oofs[name]) for name in oofs if weights.get(name, 0.0) > 0])


def _blend_weights(oofs: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray, metric: Any,
                   task: str) -> dict[str, float]:
    """Each member's exponent in the log-linear pool (a grid from 0 to 2, `BLEND_GRID`) with the best mean
    out-of-fold score among the pools at least as accurate out of fold as the most accurate member; the
    feature model alone (exponent 1, the others 0) unless a pool beats it.

    Why a log-linear pool: on the digits suite's folds the pixel SVC's probabilities (accuracy 0.990, log
    loss 0.105) only raised the feature model's log loss (0.060, accuracy 0.978) at every linear share,
    while the pool reached 0.046. Why the accuracy floor: the best-scoring pool there (0.046) was less
    accurate (0.988) than the SVC alone; the floor kept 0.048 at 0.990."""
    import itertools

    names = list(oofs)
    alone = {name: float(name == "features") for name in names}
    if len(names) == 1 or len(names) not in BLEND_GRID:
        return alone
    logs = [np.log(np.clip(oofs[name], 1e-15, 1.0)) for name in names]
    floor = max(float(np.mean(oofs[name].argmax(axis=1) == y)) for name in names) - 1e-9

    from scipy.special import softmax

    def pooled(weights: tuple[float, ...]) -> np.ndarray:  # log_linear with the logs taken once
        return softmax(sum(w * log for w, log in zip(weights, logs, strict=True) if w > 0), axis=1)

    best, best_loss = tuple(alone.values()), _mean_loss(metric, task, y, oofs["features"], folds)
    if float(np.mean(oofs["features"].argmax(axis=1) == y)) < floor:
        best_loss = np.inf
    for weights in itertools.product(BLEND_GRID[len(names)], repeat=len(names)):
        if sum(w > 0 for w in weights) < 2:
            continue
        proba = pooled(weights)
        if float(np.mean(proba.argmax(axis=1) == y)) < floor:
            continue
        loss = _mean_loss(metric, task, y, proba, folds)
        if loss < best_loss - 1e-12:
            best, best_loss = weights, loss
    return {name: float(w) for name, w in zip(names, best, strict=True)}


def _leaderboard(features: Any, infos: dict[str, dict[str, Any] | None], weights: dict[str, float],
                 oofs: dict[str, np.ndarray], y: np.ndarray, folds: np.ndarray,
                 metric: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The feature models' leaderboard with the pixel SVC, the network and the blend as rows; the chosen
    row's CV score."""
    import json

    frame = features.leaderboard().drop(columns=["rank"])
    chosen = features.manifest["cv"]["model"]
    rows = []
    task = features.task

    def row(name: str, learner: str, proba: np.ndarray, used: bool, config: dict[str, Any], fit_s: float) -> dict:
        scores = _fold_scores(metric, task, y, proba, folds)
        mean, low, high = fold_interval(scores, bounds=metric.bounds)
        return {"model": name, "learner": learner, "origin": "image", "metric": metric.name, "score": mean,
                "ci_low": low, "ci_high": high, "fit_s": fit_s, "predict_s_per_1k": float("nan"),
                "fold_scores": json.dumps([round(s, 10) for s in scores]), "status": "ok", "used": used,
                "config": json.dumps(config, sort_keys=True), "error": ""}

    pixel_info, network_info = infos.get("pixels"), infos.get("network")
    if "pixels" in oofs and pixel_info is not None:
        rows.append(row("pixel_svc", "svc", oofs["pixels"], weights["pixels"] == 1.0,
                        {k: v for k, v in pixel_info["config"].items() if k != "gamma"}, pixel_info["fit_s"]))
    if "network" in oofs and network_info is not None:
        rows.append(row("network", "cnn", oofs["network"], False,
                        {"augment": network_info["augment"], **network_info["spec"]}, network_info["fit_s"]))
    mixed = weights["features"] != 1.0 or sum(w > 0 for w in weights.values()) > 1
    if mixed:
        blend = geometric_blend(oofs, weights)
        rows.append(row("image_ensemble", "ensemble", blend, True,
                        {"features": chosen, **{f"{n}_weight": round(w, 3) for n, w in weights.items()}}, 0.0))
    if mixed:
        frame["used"] = False
    frame = pd.concat([frame, pd.DataFrame(rows)], ignore_index=True) if rows else frame
    key = frame["score"] if metric.greater_is_better else -frame["score"]
    frame = frame.assign(_key=key.fillna(-np.inf), _ok=frame["status"].isin(("ok", "truncated")))
    frame = frame.sort_values(["_ok", "_key"], ascending=False, kind="stable").drop(columns=["_key", "_ok"])
    frame = frame.reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    name = "image_ensemble" if mixed else chosen
    best = frame.loc[frame["model"] == name].iloc[0]
    cv = {"model": name, "metric": metric.name, "greater_is_better": metric.greater_is_better,
          "score": float(best["score"]), "ci_low": float(best["ci_low"]), "ci_high": float(best["ci_high"]),
          "n_folds": int(folds.max()) + 1, "feature_model": chosen,
          "interval": "95% corrected resampled t (Nadeau & Bengio) across folds"}
    return frame, cv

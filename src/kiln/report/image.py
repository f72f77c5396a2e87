"""The image kind's pages: the training report, `kiln profile --task image` and `kiln evaluate`.

Evaluation scores a labelled folder (or table of paths): accuracy, macro-F1 and log loss, each with a
95% bootstrap interval over the images; the confusion matrix; thumbnails of the most confused pairs;
a calibration plot; and occlusion-sensitivity maps for a few images (a grey square slid over the
picture: where covering it lowers the predicted class's probability most is what the answer rests on).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.kinds.outcome import Outcome
from kiln.report.html import Html, Section, escape, figure, paragraph, render_page, table
from kiln.vision.checks import run_image_checks
from kiln.vision.read import labelled_listing, read_all
from kiln.vision.stats import dhash

BOOTSTRAP = 1000
OCCLUSION_IMAGES = 4
THUMBNAIL = 64


class ImageReports:
    """Pages of an image model."""

    def training(self, model: Any) -> str:
        board = model.leaderboard()
        cv = model.manifest.get("cv", {})
        recipe = model.recipe
        facts = [{"what": "classes", "value": ", ".join(model.classes_)},
                 {"what": "images (trained once each)", "value": f"{model.manifest['training']['images']:,} "
                                                                 f"({model.manifest['training']['trained_images']:,})"},
                 {"what": "input", "value": f"{recipe.mode} {recipe.side}×{recipe.side}, box filter"},
                 {"what": "chosen", "value": f"{cv.get('model')} {cv.get('metric')} {cv.get('score', 0):.4f} "
                                             f"[{cv.get('ci_low', 0):.4f}, {cv.get('ci_high', 0):.4f}]"},
                 {"what": "network weight", "value": f"{model.network_weight:.2f}"},
                 {"what": "pixel SVC weight", "value": f"{model.pixel_weight:.2f}"},
                 {"what": "pool", "value": "linear mix (an earlier bundle)" if model.feature_weight is None else
                  f"log-linear, feature model exponent {model.feature_weight:.2f}"}]
        findings = model.manifest.get("findings", [])
        sections = [
            Section("Model", "What was trained, on what, and the score chosen on cross-validation.",
                    table(facts, ["what", "value"], headers={"what": "", "value": ""})),
            Section("Leaderboard", "Every trial's cross-validated score with its 95% interval.",
                    table(board.to_dict("records"), ["rank", "model", "learner", "score", "ci_low", "ci_high",
                                                     "fit_s", "status", "used"])),
            Section("Image checks", "The coded checks run before training.",
                    table(findings, ["code", "severity", "title", "detail", "advice"]) if findings
                    else paragraph("No findings.")),
        ]
        if model.manifest.get("skipped"):
            sections.append(Section("Skipped files", "Files that could not be read (`--skip-bad`).",
                                    table(model.manifest["skipped"], ["path", "why"])))
        return render_page("kiln training report (images)", sections)


class ImageProfiler:
    """`kiln profile DATA --task image`."""

    options = frozenset({"path_column"})

    def profile(self, data: str, *, target: str | None, options: Mapping[str, Any], ignore: tuple[str, ...],
                out: Path | None) -> Outcome:
        from kiln.settings import default_report_path

        listing = labelled_listing(data, target=target, path_column=options.get("path_column"))
        listing, images = read_all(listing, skip_bad=True)
        labels = [str(v) for v in listing.labels or []]
        names = listing.relative()
        findings = run_image_checks(labels, [im.size for im in images], [dhash(im) for im in images], names,
                                    listing.skipped, ignore=ignore)
        counts = pd.Series(labels).value_counts().sort_index()
        sizes = pd.Series([f"{w}×{h}" for w, h in (im.size for im in images)]).value_counts().head(10)
        rows = [f.to_dict() for f in findings]
        page = render_page("kiln image profile", [
            Section("Checks", "Coded checks; errors stop training.",
                    table(rows, ["code", "severity", "title", "detail", "advice"]) if rows
                    else paragraph("No findings.")),
            Section("Classes", "Images per class.",
                    table([{"class": k, "images": int(v)} for k, v in counts.items()], ["class", "images"])),
            Section("Sizes", "The commonest image sizes.",
                    table([{"size": k, "images": int(v)} for k, v in sizes.items()], ["size", "images"])),
        ])
        path = Path(out) if out else default_report_path(Path(data).stem, "profile")
        _write(path, page)
        lines = [f"{len(images):,} images, {len(counts)} classes, {len(listing.skipped)} unreadable"]
        lines += [f"{f.severity:7s} {f.code} {f.title}: {f.detail}" for f in findings]
        return Outcome(tuple(lines), {"images": len(images), "classes": counts.to_dict(),
                                      "findings": rows}, path, failed=any(f.severity == "error" for f in findings))


class ImageEvaluator:
    """`kiln evaluate MODEL DATA` for an image model: DATA is a labelled folder."""

    def evaluate(self, model: Any, data: str, *, out: Path | None) -> Outcome:
        from kiln.settings import default_report_path

        listing = labelled_listing(data, target=None, path_column=None)
        listing, images = read_all(listing, skip_bad=False)
        evaluation = evaluate_images(model, images, [str(v) for v in listing.labels or []], listing.relative())
        page = render_evaluation(model, evaluation, images)
        path = Path(out) if out else default_report_path(Path(data).stem, "evaluation")
        _write(path, page)
        lines = tuple(f"{m['metric']}: {m['value']:.4f} [{m['ci_low']:.4f}, {m['ci_high']:.4f}]"
                      for m in evaluation["metrics"])
        return Outcome(lines, {k: v for k, v in evaluation.items() if k not in ("proba", "y")}, path)


def _write(path: Path, page: str) -> None:
    from kiln.data.write import write_text

    write_text(page, path)


def evaluate_images(model: Any, images: list, labels: list[str], names: list[str], *, seed: int = 0) -> dict[str, Any]:
    """Scores with 95% bootstrap intervals, the confusion matrix and the most confused pairs."""
    from sklearn.metrics import confusion_matrix

    classes = model.classes_
    unknown = sorted(set(labels) - set(classes))
    if unknown:
        from kiln.errors import InvalidDataError

        raise InvalidDataError(f"Labels {unknown[:5]} were not classes at training ({classes}); evaluate on the "
                               "classes the model knows.")
    proba = model.proba_arrays(model.recipe.arrays(images))
    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    y = np.array([classes.index(v) for v in labels])
    predicted = proba.argmax(axis=1)
    index = list(range(len(classes)))
    k = len(classes)
    right = (predicted == y).astype(float)
    row_loss = -np.log(proba[np.arange(len(y)), y])

    def macro_f1(rows: np.ndarray) -> float:
        counts = np.bincount(y[rows] * k + predicted[rows], minlength=k * k).reshape(k, k)
        tp = np.diag(counts).astype(float)
        denominator = counts.sum(axis=0) + counts.sum(axis=1)
        return float(np.mean(np.divide(2 * tp, denominator, out=np.zeros(k), where=denominator > 0)))

    scorers = {"accuracy": lambda rows: float(right[rows].mean()), "macro_f1": macro_f1,
               "log_loss": lambda rows: float(row_loss[rows].mean())}
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, len(y), len(y)) for _ in range(BOOTSTRAP)]
    everything = np.arange(len(y))
    metrics = []
    for name, scorer in scorers.items():
        draws = np.array([scorer(s) for s in samples])
        low, high = np.quantile(draws, [0.025, 0.975])
        metrics.append({"metric": name, "value": scorer(everything), "ci_low": float(low), "ci_high": float(high)})
    matrix = confusion_matrix(y, predicted, labels=index)
    off = [(int(matrix[i, j]), i, j) for i in index for j in index if i != j and matrix[i, j] > 0]
    pairs = [{"true": classes[i], "predicted": classes[j], "images": n,
              "examples": [names[k] for k in np.flatnonzero((y == i) & (predicted == j))[:3]]}
             for n, i, j in sorted(off, reverse=True)[:5]]
    return {"metrics": metrics, "confusion": matrix.tolist(), "classes": classes, "confused_pairs": pairs,
            "n_images": len(y), "proba": proba, "y": y, "names": names}


def occlusion_map(model: Any, array: np.ndarray, label: int, *, patch: int | None = None) -> np.ndarray:
    """How much the probability of `label` drops when each patch of the image is covered with grey."""
    side = array.shape[0]
    patch = patch or max(side // 8, 2)
    steps = list(range(0, side - patch + 1, patch))
    covered = []
    for top in steps:
        for left in steps:
            copy = array.copy()
            copy[top:top + patch, left:left + patch, :] = 0.5
            covered.append(copy)
    base = model.proba_arrays(array[None])[0, label]
    drops = base - model.proba_arrays(np.stack(covered))[:, label]
    return drops.reshape(len(steps), len(steps))


def _thumbnail(image: Any) -> Html:
    thumb = image.convert("RGB").copy()
    thumb.thumbnail((THUMBNAIL, THUMBNAIL))
    buffer = io.BytesIO()
    thumb.save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    return Html(f'<img alt="" width="{THUMBNAIL}" src="data:image/png;base64,{encoded}">')


def render_evaluation(model: Any, evaluation: dict[str, Any], images: list) -> str:
    """The evaluation page: scores, confusion matrix, confused pairs with thumbnails, calibration, occlusion."""
    import plotly.graph_objects as go

    from kiln.report.plots import calibration_figure, confusion_figure

    classes = evaluation["classes"]
    y, proba = evaluation["y"], evaluation["proba"]
    names = evaluation["names"]
    by_name = dict(zip(names, images, strict=True))
    pairs_html = ["<table><tr><th>true</th><th>predicted</th><th>images</th><th>examples</th></tr>"]
    for pair in evaluation["confused_pairs"]:
        thumbs = "".join(_thumbnail(by_name[n]) for n in pair["examples"])
        pairs_html.append(f"<tr><td>{escape(pair['true'])}</td><td>{escape(pair['predicted'])}</td>"
                          f"<td>{pair['images']}</td><td>{thumbs}</td></tr>")
    pairs_html.append("</table>")
    predicted = proba.argmax(axis=1)
    confidence = proba.max(axis=1)
    correct = (predicted == y).astype(int)
    occlusion = []
    for k in np.argsort(-confidence)[:OCCLUSION_IMAGES]:
        array = model.recipe.array(images[k])
        drops = occlusion_map(model, array, int(predicted[k]))
        heat = go.Figure(go.Heatmap(z=drops[::-1], colorscale="Reds", showscale=False))
        heat.update_layout(width=220, height=220, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                           title={"text": f"{names[k][:30]} → {classes[int(predicted[k])]}"})
        occlusion.append(_thumbnail(images[k]) + figure(heat, div_id=f"occlusion-{k}"))
    sections = [
        Section("Scores", f"On {evaluation['n_images']:,} labelled images; 95% bootstrap intervals over the images.",
                table(evaluation["metrics"], ["metric", "value", "ci_low", "ci_high"])),
        Section("Confusion matrix", "Rows are the true class, columns the predicted one.",
                figure(confusion_figure(y, predicted, classes, False), div_id="confusion")),
        Section("Most confused pairs", "The commonest mistakes, with example images.",
                Html("".join(pairs_html)) if evaluation["confused_pairs"] else paragraph("No mistakes.")),
        Section("Calibration", "Confidence of the predicted class against how often it was right.",
                figure(calibration_figure(correct, confidence), div_id="calibration")),
        Section("Occlusion maps", "Where covering the image lowers the predicted class's probability most "
                                  "(darker red): what the answer rests on.", Html("".join(occlusion))),
    ]
    return render_page("kiln evaluation (images)", sections)


REPORTS = ImageReports()
PROFILER = ImageProfiler()
EVALUATOR = ImageEvaluator()

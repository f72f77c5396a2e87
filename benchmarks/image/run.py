"""The public image suite (../shared/bench/image_suite.md): load_digits as PNG folders and as a pixel table.

Runs the suite's CLI contracts at --time-limit 60, each `kiln` command as its own process, timed whole:

- image contract, kiln without the vision extra's network (torch made unimportable in that process, so
  the CNN is skipped as it is where the extra is absent) and with it;
- tabular contract (train.csv / test.csv);
- `kiln predict` on 1,000 images (a folder of the first 1,000 digits), images per second, load included.

Metrics as the suite defines them: log loss (probabilities clipped to [1e-15, 1] and renormalised per row),
accuracy, macro-F1; ± is the half-width of a 95% bootstrap interval over the 450 test images (1,000
resamples). The anchors' numbers are quoted from the suite's file (measured by its authors on 2 cores).

    python benchmarks/image/run.py            # writes the "image-suite" section of benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))
from sections import write_section

from kiln.demo.digits import suite_split, write_digits

TIME_LIMIT = 60
# Quoted from ../shared/bench/image_suite.md (measured by the suite's authors: 2 cores, about 1 busy elsewhere).
ANCHORS = [
    ("svc: RBF SVC on pixels / 16 (CV grid, Platt)", "pixel table", 0.0807, 0.015, 0.9933, 0.9934, 18),
    ("hog_lr: HOG (4×4-px cells) + standardised LogisticRegression", "PNG folders", 0.0523, 0.027, 0.9889, 0.9889, 21),
    ("kiln at 35e340c, tabular contract", "pixel table", 0.2849, 0.028, 0.9667, 0.9668, 63),
]
# torch unimportable (an import hook refusing it), as where the vision extra is not installed
NO_TORCH = ("import sys\n"
            "class NoTorch:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'torch' or name.startswith('torch.'):\n"
            "            raise ImportError('torch is not installed (benchmark: without the vision extra)')\n"
            "sys.meta_path.insert(0, NoTorch())\n"
            "sys.argv[0] = 'kiln'\n"
            "from kiln.cli.app import main\n"
            "main()\n")


def kiln(*args: str, no_torch: bool = False) -> float:
    """Run one kiln command; its wall seconds (a failure stops the benchmark with its output)."""
    command = [sys.executable, "-c", NO_TORCH, *args] if no_torch else \
        [str(Path(sys.executable).with_name("kiln")), *args]
    started = time.time()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KILN_HOME": str(HOME)})
    seconds = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"kiln {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    print(done.stdout[-1500:])
    return seconds


def scores(y: np.ndarray, proba: np.ndarray, seed: int = 0) -> dict[str, float]:
    from sklearn.metrics import accuracy_score, f1_score, log_loss

    proba = np.clip(proba, 1e-15, 1.0)
    proba = proba / proba.sum(axis=1, keepdims=True)
    labels = list(range(proba.shape[1]))
    metrics = {"log_loss": lambda t, p: log_loss(t, p, labels=labels),
               "accuracy": lambda t, p: accuracy_score(t, p.argmax(1)),
               "macro_f1": lambda t, p: f1_score(t, p.argmax(1), average="macro", labels=labels)}
    rng = np.random.default_rng(seed)
    samples = [rng.integers(0, len(y), len(y)) for _ in range(1000)]
    out = {}
    for name, metric in metrics.items():
        out[name] = float(metric(y, proba))
        low, high = np.quantile([metric(y[s], proba[s]) for s in samples], [0.025, 0.975])
        out[f"{name}_pm"] = float((high - low) / 2)
    return out


def read_predictions(path: Path, y_of_path: dict[str, int] | None, y_rows: np.ndarray | None) -> tuple:
    preds = pd.read_csv(path)
    proba = preds[[f"proba_{d}" for d in range(10)]].to_numpy()
    y = np.array([y_of_path[p] for p in preds["path"]]) if y_of_path is not None else y_rows
    return y, proba


def main() -> None:
    from sklearn.datasets import load_digits

    global HOME
    work = Path(tempfile.mkdtemp(prefix="kiln-image-suite-"))
    HOME = work / "home"
    digits = load_digits()
    train, test = suite_split()
    write_digits(work / "train_images", train)
    write_digits(work / "test_images", test, labelled=False)
    write_digits(work / "thousand", range(1000), labelled=False)
    columns = [f"p{i}" for i in range(64)]
    pd.DataFrame(digits.data[train], columns=columns).assign(digit=digits.target[train]).to_csv(
        work / "train.csv", index=False)
    pd.DataFrame(digits.data[test], columns=columns).to_csv(work / "test.csv", index=False)
    y_of_path = {f"{n:04d}.png": int(digits.target[n]) for n in test}
    load = os.getloadavg()
    rows = []
    for label, no_torch in (("kiln, image contract, without the network (no torch)", True),
                            ("kiln, image contract, with the vision extra's network", False)):
        model = work / ("model_features" if no_torch else "model_network")
        fit = kiln("train", str(work / "train_images"), "--task", "image", "--time-limit", str(TIME_LIMIT),
                   "--out", str(model), "--quiet", no_torch=no_torch)
        kiln("predict", str(model), str(work / "test_images"), "--out", str(work / f"{model.name}.csv"),
             no_torch=no_torch)
        y, proba = read_predictions(work / f"{model.name}.csv", y_of_path, None)
        rows.append((label, "PNG folders", scores(y, proba), fit, model))
    fit = kiln("train", str(work / "train.csv"), "--target", "digit", "--time-limit", str(TIME_LIMIT), "--out",
               str(work / "model_table"), "--quiet")
    kiln("predict", str(work / "model_table"), str(work / "test.csv"), "--out", str(work / "table.csv"))
    y, proba = read_predictions(work / "table.csv", None, digits.target[test])
    rows.append(("kiln, tabular contract", "pixel table", scores(y, proba), fit, work / "model_table"))
    speed = {}
    for model in (rows[0][4], rows[1][4]):
        seconds = kiln("predict", str(model), str(work / "thousand"), "--out", str(work / "thousand.csv"),
                       no_torch=model is rows[0][4])
        speed[model.name] = 1000 / seconds
    loading = {model.name: load_seconds(model, no_torch=model is rows[0][4]) for model in (rows[0][4], rows[1][4])}
    pools = {model.name: pool(model) for model in (rows[0][4], rows[1][4])}
    load_after = os.getloadavg()
    lines = ["| system | input | log loss ↓ | accuracy ↑ | macro-F1 ↑ | command s |", "|---|---|---:|---:|---:|---:|"]
    for name, data, ll, pm, acc, f1, seconds in ANCHORS:
        lines.append(f"| {name} (anchor, quoted) | {data} | {ll:.4f} ± {pm:.3f} | {acc:.4f} | {f1:.4f} | {seconds} |")
    for name, data, s, seconds, _ in rows:
        lines.append(f"| **{name}** | {data} | {s['log_loss']:.4f} ± {s['log_loss_pm']:.3f} | "
                     f"{s['accuracy']:.4f} ± {s['accuracy_pm']:.3f} | {s['macro_f1']:.4f} ± {s['macro_f1_pm']:.3f} | "
                     f"{seconds:.0f} |")
    body = "\n".join([
        "### Images: the public digits suite (`../shared/bench/image_suite.md`)",
        "",
        f"load_digits, the suite's split (1,347 training / 450 test images), every `kiln` command at "
        f"`--time-limit {TIME_LIMIT}`, run as its own process and timed whole (\"command s\": `kiln train`, "
        "reading to saved bundle). ± is the half-width of a 95% bootstrap interval over the 450 test images. "
        "The anchors' rows are quoted from the suite's file, as its authors measured them (2 cores, fixed CV "
        "grids, no time limit). \"Without the network\" runs kiln with torch unimportable, as where the "
        "`vision` extra is not installed.",
        "",
        *lines,
        "",
        f"`kiln predict` on 1,000 PNG images (32×32), wall time of the whole command (start, bundle load, "
        f"reading, features, prediction, writing): {speed['model_features']:.0f} images/s with the feature "
        f"model, {speed['model_network']:.0f} images/s with the network's bundle. `kiln.load` of the bundle in a "
        f"fresh process (after `import kiln`): {loading['model_features']:.1f} s without torch, "
        f"{loading['model_network']:.1f} s with it. What each image bundle pools (log-linear exponents chosen on "
        f"out-of-fold log loss): without torch {pools['model_features']}; with it {pools['model_network']}.",
        "",
        f"Machine load (1-minute load average, 2 cores shared with other work): {load[0]:.1f} at the start, "
        f"{load_after[0]:.1f} at the end.",
    ])
    print(body)
    write_section("image-suite", body, script=__file__)


def load_seconds(model: Path, *, no_torch: bool) -> float:
    """Seconds `kiln.load(model)` takes in a fresh process after `import kiln` (the median of three)."""
    code = ("import sys, time\nimport kiln\nstarted = time.time()\nkiln.load(sys.argv[1])\n"
            "print(time.time() - started)\n")
    prefix = NO_TORCH.split("sys.argv[0]")[0] if no_torch else ""
    times = []
    for _ in range(3):
        done = subprocess.run([sys.executable, "-c", prefix + code, str(model)], capture_output=True, text=True,
                              check=True, env={**os.environ, "KILN_HOME": str(HOME)})
        times.append(float(done.stdout.strip().splitlines()[-1]))
    return float(np.median(times))


def pool(model: Path) -> str:
    """The bundle's members and their exponents, and whether the network was trained."""
    import json

    manifest = json.loads((model / "kiln.json").read_text())
    weights = [("feature model", manifest.get("feature_weight")), ("pixel SVC", manifest.get("pixel_weight")),
               ("network", manifest.get("network_weight"))]
    kept = ", ".join(f"{name} {w:.2f}" for name, w in weights if w)
    ran = "network trained" if manifest.get("network") else "no network trained"
    return f"{kept} ({ran})"


HOME = Path(".")

if __name__ == "__main__":
    main()

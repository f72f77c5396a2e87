"""`kiln demo image`: the image loop on scikit-learn's handwritten digits, written as upscaled PNGs.

load_digits ships inside scikit-learn (1,797 labelled 8×8 images): no download. The demo writes the
image suite's training folder (ImageFolder, ×4 upscaled PNGs) and its test images, profiles them, trains
(default 60 s), shows the leaderboard, evaluates on the labelled test images (scores with intervals,
confusion, occlusion maps), predicts the folder, serves the model, sends the test images over HTTP and
then a drifted stream (the same digits dimmer and blurred), sends feedback labels, and runs the monitor,
which flags the drift (brightness, contrast, sharpness) and shows live accuracy.
"""

from __future__ import annotations

import base64
import os
import time
from pathlib import Path
from typing import Any

from kiln.demo.digits import suite_split, write_digits
from kiln.demo.loop import call, kiln_command, start_server, step_printer, stop_server

DEFAULT_TIME_LIMIT = 60.0
BATCH = 50


def _send(url: str, files: list[Path]) -> list[dict[str, Any]]:
    """POST the images in batches of base64 JSON; each answer with its request id and row."""
    answers = []
    for start in range(0, len(files), BATCH):
        part = files[start:start + BATCH]
        reply = call(f"{url}/predict", {"images": [base64.b64encode(p.read_bytes()).decode() for p in part]})
        answers += [{"request_id": reply["request_id"], "row": i, "prediction": p}
                    for i, p in enumerate(reply["predictions"])]
    return answers


def run(folder: Path, *, time_limit: float | None, keep_serving: bool, rows: int | None = None) -> None:
    """The loop in `folder`; the server stops at the end unless `keep_serving`."""
    from rich.console import Console
    from sklearn.datasets import load_digits

    console = Console()
    began = time.time()
    folder.mkdir(parents=True, exist_ok=True)
    step = step_printer(console)

    step("1. Write scikit-learn's digits as image folders (32×32 PNGs)")
    train, test = suite_split()
    if rows:
        train = train[:rows]
    write_digits(folder / "digits", train)
    write_digits(folder / "labelled_test", test)
    streamed = write_digits(folder / "stream", test, labelled=False)
    drifted = write_digits(folder / "stream_drifted", test, labelled=False, drift=True)
    console.print(f"{len(train):,} training images in {folder / 'digits'}/<digit>/, {len(test):,} test images; "
                  "a drifted copy of the test stream (dimmer, blurred)")
    step("2. Check the images")
    console.print(kiln_command("profile", str(folder / "digits"), "--task", "image",
                               "--out", str(folder / "profile.html")).strip())
    limit = f"{time_limit or DEFAULT_TIME_LIMIT:g}"
    step(f"3. Train (--time-limit {limit}s)")
    console.print(kiln_command("train", str(folder / "digits"), "--task", "image", "--time-limit", limit,
                               "--out", str(folder / "model"), "--quiet").strip())
    console.print(kiln_command("leaderboard", str(folder / "model")).rstrip())
    step("4. Evaluate on the labelled test images")
    console.print(kiln_command("evaluate", str(folder / "model"), str(folder / "labelled_test"),
                               "--out", str(folder / "evaluation.html")).strip())
    step("5. Predict a folder")
    console.print(kiln_command("predict", str(folder / "model"), str(folder / "stream"), "--out",
                               str(folder / "predictions.csv")).strip())
    step("6. Serve, send the stream and a drifted one, send labels, monitor")
    db = os.environ.get("KILN_DB") or f"sqlite:///{folder / 'kiln.db'}"
    server, url = start_server(str(folder / "model"), folder, env={**os.environ, "KILN_DB": db})
    truth = {f"{n:04d}.png": str(int(d)) for n, d in zip(test, load_digits().target[test], strict=True)}
    try:
        normal = _send(url, streamed)
        shifted = _send(url, drifted)
        labels = [{"request_id": a["request_id"], "row": a["row"], "label": truth[p.name]}
                  for a, p in zip(normal + shifted, streamed + drifted, strict=True)]
        call(f"{url}/feedback", {"labels": labels})
        right = [a["prediction"] == truth[p.name] for a, p in zip(normal + shifted, streamed + drifted, strict=True)]
        console.print(f"{len(normal)} test images and {len(shifted)} drifted ones sent to POST /predict: accuracy "
                      f"{sum(right[:len(normal)]) / len(normal):.3f} and {sum(right[len(normal):]) / len(shifted):.3f}")
        console.print(f"page: {url}/ (drop an image on it)")
        if keep_serving:
            console.print(f"serving at {url} (Ctrl-C to stop)")
            server.wait()
    finally:
        if not keep_serving:
            stop_server(server)
    import kiln
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.image import MONITORING

    time.sleep(1.5)  # the server's log writer flushes every second
    model = kiln.load(folder / "model")
    name = (folder / "model").resolve().name
    traffic = MONITORING.traffic(name, model, url=db)
    result = MONITORING.assess(model, traffic, name=name, version="demo", since=None, rules=AlertRules(min_rows=1))
    drifted_stats = [f"{f.column} (KS D {f.effect:.2f}, PSI {f.psi:.2f})" for f in result.features if f.drifted]
    overall = result.overall
    console.print(f"monitor: {result.rows} served images; drifted: {', '.join(drifted_stats) or 'none'}; live "
                  f"accuracy {overall.value:.3f} [{overall.ci_low:.3f}, {overall.ci_high:.3f}] on {overall.labelled} "
                  f"labels; alerts: {[a.message for a in result.alerts] or 'none'}" if overall and overall.value
                  is not None else f"monitor: {result.rows} served images; alerts: {len(result.alerts)}")
    console.print(f"\n[bold green]done in {time.time() - began:.0f}s[/bold green]; files in {folder}")

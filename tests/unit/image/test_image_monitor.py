"""The image monitor: served images' statistics against training, predicted-class drift, live accuracy."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from PIL import Image
from tiny_images import CLASSES, shape, shared_bundle

import kiln
from kiln.monitor.alerts import AlertRules
from kiln.monitor.image import MONITORING
from kiln.monitor.window import TrafficWindow
from kiln.vision.model import ImageModel
from kiln.vision.stats import STATISTICS, statistics_frame


def _window(model: ImageModel, images: list[Image.Image], labels: list[str]) -> TrafficWindow:
    """What read_window gives the hook: the logged statistics, and the log with outputs and labels."""
    arrays = model.recipe.arrays(images)
    frame = model.predict_images(images)
    log = pd.DataFrame({"at": time.time() + np.arange(len(images)), "label": labels,
                        "outputs": [{"prediction": p} for p in frame["prediction"]]})
    return TrafficWindow(statistics_frame(images, arrays)[list(STATISTICS)], log)


def test_dim_images_are_flagged_and_labels_give_live_accuracy() -> None:
    bundle, _ = shared_bundle()
    model = kiln.load(bundle)
    rng = np.random.default_rng(3)
    kinds = [CLASSES[i % 3] for i in range(120)]
    plain = [shape(k, rng) for k in kinds]
    dim = [Image.fromarray((np.asarray(im, dtype=float) * 0.4).astype(np.uint8), mode="L") for im in plain]
    rules = AlertRules(min_rows=30)
    same = MONITORING.assess(model, _window(model, plain, kinds), name="m", version="1", since=None, rules=rules)
    shifted = MONITORING.assess(model, _window(model, dim, kinds), name="m", version="1", since=None, rules=rules)
    assert "brightness" not in same.drifted
    assert {"brightness", "contrast"} <= set(shifted.drifted)
    assert any(a.rule == "image_drift" and "brightness" in a.message for a in shifted.alerts)
    assert same.overall is not None and same.overall.labelled == 120 and same.overall.value >= 0.75
    assert same.overall.ci_low <= same.overall.value <= same.overall.ci_high
    assert shifted.to_dict()["status"] == "alert"

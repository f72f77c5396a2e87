"""A bundle written by kiln's own writer, with valid checksums, whose only unusual content is a
tree with one bad index: refused at load with one sentence, never a segmentation fault. And the
allow-list trusts a callable only where scikit-learn's own models need it."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import BundleError

N = 200


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"torque": rng.normal(40, 10, N), "speed": rng.normal(1500, 100, N),
                          "type": rng.choice(["L", "M", "H"], N)})
    frame["failure"] = np.where(frame["torque"] + 15 * (frame["type"] == "H") + rng.normal(0, 5, N) > 48, "yes", "no")
    return frame


@pytest.fixture(scope="module")
def trained(table: pd.DataFrame) -> Callable[[str], kiln.Model]:
    models: dict[str, kiln.Model] = {}

    def get(learner: str) -> kiln.Model:
        if learner not in models:
            from kiln.learners import onehot

            saved, onehot.MAX_LEVELS = onehot.MAX_LEVELS, 0  # native category splits: what these checks guard
            try:
                models[learner] = kiln.train(table, target="failure", time_limit=20, max_trials=1, quiet=True,
                                             n_jobs=1, learners=[learner])
            finally:
                onehot.MAX_LEVELS = saved
        return models[learner]

    return get


def _estimator(model: kiln.Model):
    return model.members[0].folds[0].learner.estimator_


def _forest_child(est) -> None:
    est.estimators_[0].tree_.children_left[0] = 10**12  # the value that made `kiln predict` segfault


def _forest_cycle(est) -> None:
    est.estimators_[-1].tree_.children_right[0] = 0  # a loop: the walk would never end


def _forest_feature(est) -> None:
    est.estimators_[0].tree_.feature[0] = 10**6


def _hgb_child(est) -> None:
    est._predictors[0][0].nodes["left"][0] = 10**6


def _hgb_feature(est) -> None:
    nodes = est._predictors[0][0].nodes
    nodes["feature_idx"][np.flatnonzero(nodes["is_leaf"] == 0)[0]] = 10**6


def _hgb_bitset(est) -> None:
    for iteration in est._predictors:
        for predictor in iteration:
            nodes = predictor.nodes
            split = np.flatnonzero((nodes["is_leaf"] == 0) & (nodes["is_categorical"] == 1))
            if split.size:
                nodes["bitset_idx"][split[0]] = 10**6
                return
    raise AssertionError("no categorical split to damage")


def _hgb_known_category(est) -> None:
    f = int(np.flatnonzero(est._bin_mapper.is_categorical_)[0])
    est._bin_mapper.bin_thresholds_[f][0] = 10**6  # written as a bit into an 8-word set


CRAFTS = {
    "random_forest-child": ("random_forest", _forest_child, "child index points outside"),
    "random_forest-cycle": ("random_forest", _forest_cycle, "back up the tree"),
    "random_forest-feature": ("random_forest", _forest_feature, "feature outside the model's"),
    "extra_trees-child": ("extra_trees", _forest_child, "child index points outside"),
    "hist_gradient_boosting-child": ("hist_gradient_boosting", _hgb_child, "child index points outside"),
    "hist_gradient_boosting-feature": ("hist_gradient_boosting", _hgb_feature, "feature outside the model's"),
    "hist_gradient_boosting-bitset": ("hist_gradient_boosting", _hgb_bitset, "names a bitset it does not have"),
    "hist_gradient_boosting-known": ("hist_gradient_boosting", _hgb_known_category, "known categories are not"),
}


@pytest.fixture(scope="module")
def crafted(trained, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A bundle saved by kiln's writer (valid checksums) after one array of one tree was changed."""
    made: dict[str, Path] = {}

    def get(case: str) -> Path:
        if case not in made:
            learner, craft, _ = CRAFTS[case]
            model = kiln.load(kiln.save(trained(learner), tmp_path_factory.mktemp("clean") / "model"))  # a private copy
            craft(_estimator(model))
            made[case] = kiln.save(model, tmp_path_factory.mktemp("crafted") / case)
        return made[case]

    return get


@pytest.mark.parametrize("learner", ["random_forest", "extra_trees", "hist_gradient_boosting"])
def test_tree_models_saved_by_kiln_pass_the_structure_checks(trained, table, tmp_path, learner) -> None:
    model = trained(learner)
    loaded = kiln.load(kiln.save(model, tmp_path / "model"))

    features = table.drop(columns="failure")
    np.testing.assert_array_equal(loaded.predict_raw(features), model.predict_raw(features))


@pytest.mark.parametrize("case", sorted(CRAFTS))
def test_a_crafted_tree_with_valid_checksums_is_refused_at_load(crafted, case) -> None:
    path = crafted(case)

    with pytest.raises(BundleError, match=rf"holds a malformed tree \(.*{CRAFTS[case][2]}.*could crash the process"):
        kiln.load(path)


def test_kiln_predict_on_a_crafted_tree_exits_2_with_one_line_instead_of_crashing(crafted, table, tmp_path) -> None:
    rows = tmp_path / "rows.csv"
    table.drop(columns="failure").head(20).to_csv(rows, index=False)
    kiln_command = str(Path(sys.executable).with_name("kiln"))

    result = subprocess.run([kiln_command, "predict", str(crafted("random_forest-child")), str(rows), "--out",
                             str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=300)

    assert result.returncode == 2, (result.returncode, result.stderr)  # was -11 (SIGSEGV)
    assert "holds a malformed tree" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.csv").exists()


def test_kiln_serve_on_a_crafted_tree_exits_2_with_one_line_before_listening(crafted) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    kiln_command = str(Path(sys.executable).with_name("kiln"))

    result = subprocess.run([kiln_command, "serve", str(crafted("hist_gradient_boosting-child")), "--port", port],
                            capture_output=True, text=True, timeout=300)

    assert result.returncode == 2, (result.returncode, result.stderr)
    assert "holds a malformed tree" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_crafted_neighbours_tree_is_refused(tmp_path: Path) -> None:
    import skops.io as sio
    from sklearn.neighbors import KNeighborsClassifier

    from kiln.learners.safe_load import load_skops

    rng = np.random.default_rng(0)
    knn = KNeighborsClassifier(algorithm="kd_tree").fit(rng.normal(size=(300, 3)), rng.integers(0, 2, 300))
    sio.dump(knn, tmp_path / "good.skops")
    load_skops(tmp_path / "good.skops")
    knn._tree.get_arrays()[1][0] = 10**9  # idx_array: a point index far outside the data
    sio.dump(knn, tmp_path / "bad.skops")

    with pytest.raises(BundleError, match=r"neighbours tree indexes points outside its 300 samples"):
        load_skops(tmp_path / "bad.skops")


def test_hist_gradient_boosting_with_native_categoricals_needs_partial_and_check_array(trained, tmp_path) -> None:
    """Why `functools.partial` and `check_array` are on the allow-list: scikit-learn's own model holds them."""
    import skops.io as sio

    path = kiln.save(trained("hist_gradient_boosting"), tmp_path / "hgb")
    estimator = next(path.rglob("estimator.skops"))

    assert {"functools.partial", "sklearn.utils.validation.check_array"} <= set(sio.get_untrusted_types(file=estimator))
    assert kiln.load(path).members[0].folds[0].learner.estimator_._preprocessor is not None


@pytest.mark.parametrize("payload", [functools.partial(os.system, "echo owned"), functools.partial(eval, "1+1"),
                                     functools.partial(subprocess.call, ["true"])],
                         ids=["os.system", "eval", "subprocess.call"])
def test_partial_wrapping_another_function_is_refused(trained, tmp_path, payload) -> None:
    import skops.io as sio

    path = kiln.save(trained("hist_gradient_boosting"), tmp_path / "hgb")
    prep = next(path.rglob("prep.skops"))
    sio.dump(payload, prep)
    manifest = json.loads((path / "kiln.json").read_text())
    manifest["files"][prep.relative_to(path).as_posix()] = hashlib.sha256(prep.read_bytes()).hexdigest()
    (path / "kiln.json").write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match=r"needs types kiln does not trust: \[.*(system|eval|call)"):
        kiln.load(path)


def test_skops_is_at_least_the_release_that_fixed_the_trusted_type_bypass() -> None:
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("skops")) >= Version("0.12")  # CVE-2025-54412 in 0.11


def test_the_serving_pack_refuses_a_tree_whose_index_would_wrap_in_int32() -> None:
    """The fast path narrows indices to int32; 2**32 + 1 would wrap to a valid-looking node."""
    from sklearn.ensemble import RandomForestClassifier

    from kiln.serve.forest_arrays import pack_sklearn_forest

    rng = np.random.default_rng(0)
    forest = RandomForestClassifier(n_estimators=3, max_depth=3, random_state=0).fit(rng.normal(size=(100, 3)),
                                                                                      rng.integers(0, 2, 100))
    pack_sklearn_forest(forest)
    forest.estimators_[1].tree_.children_left[0] = 2**32 + 1

    with pytest.raises(ValueError, match=r"left child index lies outside its \d+ nodes"):
        pack_sklearn_forest(forest)


def _lightgbm_bundle(trained, tmp_path: Path, edit: Callable[[str], str]) -> Path:
    """A LightGBM bundle whose first booster.txt was edited, its checksum updated to match."""
    import re

    path = kiln.save(trained("lightgbm"), tmp_path / "lgb")
    booster = sorted(path.rglob("booster.txt"))[0]
    booster.write_text(edit(booster.read_text()))
    manifest = json.loads((path / "kiln.json").read_text())
    manifest["files"][booster.relative_to(path).as_posix()] = hashlib.sha256(booster.read_bytes()).hexdigest()
    (path / "kiln.json").write_text(json.dumps(manifest))
    assert re.search(r"^Tree=0$", booster.read_text(), re.M)
    return path


def _child_out_of_range(text: str) -> str:
    """The first tree's first left child pointed at node 9 (same length, so tree_sizes still match)."""
    start = text.index("\nTree=0\n")
    at = text.index("\nleft_child=", start) + len("\nleft_child=")
    return text[:at] + "9" + text[at + 1:]


def _truncated_tree(text: str) -> str:
    """The first tree's leaf values dropped: LightGBM's parser aborted the process on this (SIGABRT)."""
    start = text.index("\nTree=0\n")
    line = text.index("\nleaf_value=", start)
    return text[:line] + text[text.index("\n", line + 1):]


def test_lightgbm_models_saved_by_kiln_pass_the_text_checks(trained, table, tmp_path) -> None:
    model = trained("lightgbm")  # with the native categorical column 'type'
    loaded = kiln.load(kiln.save(model, tmp_path / "lgb"))

    np.testing.assert_array_equal(loaded.predict_raw(table), model.predict_raw(table))


@pytest.mark.parametrize(("edit", "message"), [(_child_out_of_range, "tree 0.s left_child points outside"),
                                               (_truncated_tree, "tree_sizes do not match|tree 0 has no leaf_value")])
def test_a_malformed_lightgbm_model_with_a_valid_checksum_is_refused(trained, tmp_path, edit, message) -> None:
    path = _lightgbm_bundle(trained, tmp_path, edit)

    with pytest.raises(BundleError, match=rf"is not a well-formed LightGBM model \(({message})"):
        kiln.load(path)


def test_kiln_predict_on_a_malformed_lightgbm_model_exits_2_instead_of_aborting(trained, table, tmp_path) -> None:
    path = _lightgbm_bundle(trained, tmp_path, _truncated_tree)
    rows = tmp_path / "rows.csv"
    table.drop(columns="failure").head(5).to_csv(rows, index=False)

    result = subprocess.run([str(Path(sys.executable).with_name("kiln")), "predict", str(path), str(rows), "--out",
                             str(tmp_path / "out.csv")], capture_output=True, text=True, timeout=300)

    assert result.returncode == 2, (result.returncode, result.stderr[-300:])  # was -6 (SIGABRT)
    assert "is not a well-formed LightGBM model" in result.stderr and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_reading_skops_does_not_import_torch() -> None:
    """skops lists scikit-learn's estimators by importing its packages, torch's array-API one among them
    (3.6 s of a bundle's load with the vision extra); kiln's import of skops refuses torch meanwhile,
    so a table model's bundle loads without it."""
    code = ("import sys\n"
            "from kiln.learners.safe_load import skops_io\n"
            "skops_io()\n"
            "from skops.io._trusted_types import SKLEARN_ESTIMATOR_TYPE_NAMES as names\n"
            "assert 'sklearn.linear_model._logistic.LogisticRegression' in names, len(names)\n"
            "print('torch' in sys.modules)\n")
    import importlib.util

    assert importlib.util.find_spec("torch") is not None  # the test extra installs it: the case that mattered
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"

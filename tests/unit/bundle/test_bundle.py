"""Model bundles: saved atomically, loaded only when every checksum matches and every
serialized type is one kiln trusts."""

from __future__ import annotations

import collections
import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.errors import BundleError

N = 150


class Payload:
    """A class no bundle should ever need: loading it would run foreign code paths."""

    def __init__(self) -> None:
        self.command = "rm -rf /"


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "torque": rng.normal(40, 10, N),
        "speed": np.where(rng.random(N) < 0.1, np.nan, rng.normal(1500, 100, N)),
        "type": rng.choice(["L", "M", "H"], N),
    })
    frame["failure"] = np.where(frame["torque"] + 15 * (frame["type"] == "H") + rng.normal(0, 5, N) > 48,
                                "yes", "no")
    return frame


@pytest.fixture(scope="module")
def model(table: pd.DataFrame) -> kiln.Model:
    return kiln.train(table, target="failure", time_limit=10, max_trials=3, quiet=True, n_jobs=1,
                      learners=["lightgbm", "linear"])


@pytest.fixture(scope="module")
def saved(model: kiln.Model, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return kiln.save(model, tmp_path_factory.mktemp("bundles") / "model")


@pytest.fixture
def bundle(saved: Path, tmp_path: Path) -> Path:
    """A private copy of the saved bundle, for tests that damage it."""
    return Path(shutil.copytree(saved, tmp_path / "copy"))


def _manifest(path: Path) -> dict:
    return json.loads((path / "kiln.json").read_text())


def _model_file(path: Path, suffix: str = "") -> Path:
    return sorted(p for p in (path / "model").rglob(f"*{suffix}") if p.is_file())[0]


def test_loaded_bundle_predicts_identically(model: kiln.Model, saved: Path, table: pd.DataFrame) -> None:
    loaded = kiln.load(saved)
    features = table.drop(columns="failure")

    np.testing.assert_array_equal(loaded.predict_raw(features), model.predict_raw(features))
    assert loaded.predict(features).tolist() == model.predict(features).tolist()
    pd.testing.assert_frame_equal(loaded.predict_proba(features), model.predict_proba(features))
    assert loaded.classes_ == ["no", "yes"]


def test_loaded_bundle_predicts_rows_with_unseen_categories_and_gaps_where_training_had_gaps(saved: Path) -> None:
    new = pd.DataFrame({"torque": [45.0, 30.0], "speed": [np.nan, 1400.0], "type": ["X", "L"]})
    loaded = kiln.load(saved)

    proba = loaded.predict_proba(new)

    assert list(proba.columns) == ["no", "yes"]
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert loaded.last_contract_report_.unseen_categories == {"type": 1}


def test_loaded_bundle_refuses_a_gap_where_training_never_had_one(saved: Path) -> None:
    new = pd.DataFrame({"torque": [45.0, np.nan], "speed": [1500.0, 1400.0], "type": ["L", "M"]})

    with pytest.raises(kiln.InvalidDataError, match=r"Column 'torque' is empty in row 2 \(counting from 1\)"):
        kiln.load(saved).predict_proba(new)


def test_manifest_describes_the_model(model: kiln.Model, saved: Path, table: pd.DataFrame) -> None:
    manifest = _manifest(saved)

    assert manifest["format"] == "kiln-bundle" and manifest["format_version"] == 1
    assert (manifest["task"], manifest["target"], manifest["classes"]) == ("binary", "failure", ["no", "yes"])
    assert manifest["metric"] == "roc_auc"
    assert [c["name"] for c in manifest["schema"]["columns"]] == ["torque", "speed", "type"]
    assert manifest["members"] and sum(m["weight"] for m in manifest["members"]) == pytest.approx(1.0)
    assert {m["learner"] for m in manifest["members"]} <= {"lightgbm", "linear"}
    assert {"score", "ci_low", "ci_high", "n_folds", "metric"} <= set(manifest["cv"])
    assert manifest["cv"]["ci_low"] <= manifest["cv"]["score"] <= manifest["cv"]["ci_high"]
    training = manifest["training"]
    assert (training["rows"], training["columns"], training["seed"]) == (N, 4, 0)
    assert len(training["data_sha256"]) == 64 and int(training["data_sha256"], 16) >= 0


def test_manifest_checksums_every_other_file(saved: Path) -> None:
    files = {p.relative_to(saved).as_posix() for p in saved.rglob("*") if p.is_file()} - {"kiln.json"}
    checksums = _manifest(saved)["files"]

    assert set(checksums) == files
    for relative, digest in checksums.items():
        assert hashlib.sha256((saved / relative).read_bytes()).hexdigest() == digest


def test_bundle_holds_leaderboard_and_out_of_fold_predictions(model: kiln.Model, saved: Path) -> None:
    leaderboard = pd.read_csv(saved / "leaderboard.csv")
    oof = pd.read_parquet(saved / "oof.parquet")

    assert leaderboard["model"].tolist() == model.leaderboard()["model"].tolist()
    assert "ensemble" in leaderboard["model"].tolist()
    assert len(oof) == N
    assert {"fold", "target", "final__proba_no", "final__proba_yes"} <= set(oof.columns)


@pytest.mark.parametrize("suffix", ["", "prep.skops", "learner.json"])
def test_tampered_model_file_is_refused_naming_the_checksum(bundle: Path, suffix: str) -> None:
    target = _model_file(bundle, suffix)
    content = bytearray(target.read_bytes())
    content[len(content) // 2] ^= 0x01
    target.write_bytes(bytes(content))

    relative = re.escape(target.relative_to(bundle).as_posix())
    with pytest.raises(BundleError, match=rf"file '{relative}' does not match its checksum"):
        kiln.load(bundle)


def test_missing_model_file_is_refused(bundle: Path) -> None:
    target = _model_file(bundle)
    target.unlink()

    with pytest.raises(BundleError, match=rf"is missing '{re.escape(target.relative_to(bundle).as_posix())}'"):
        kiln.load(bundle)


def test_folder_without_manifest_is_not_a_bundle(bundle: Path) -> None:
    (bundle / "kiln.json").unlink()

    with pytest.raises(BundleError, match=r"is not a kiln bundle \(no kiln\.json\)"):
        kiln.load(bundle)


def test_unreadable_manifest_is_refused(bundle: Path) -> None:
    (bundle / "kiln.json").write_text("{not json")

    with pytest.raises(BundleError, match=r"is not valid JSON"):
        kiln.load(bundle)


def test_manifest_of_another_format_version_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    manifest["format_version"] = 99
    (bundle / "kiln.json").write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match=r"has format kiln-bundle v99; this kiln reads kiln-bundle v1"):
        kiln.load(bundle)


def test_manifest_without_checksums_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    manifest["files"] = {}
    (bundle / "kiln.json").write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match=r"lists no file checksums"):
        kiln.load(bundle)


@pytest.mark.parametrize("payload", [collections.Counter("kiln"), Payload()], ids=["Counter", "custom_class"])
def test_untrusted_type_is_refused_even_with_matching_checksums(bundle: Path, payload: object) -> None:
    import skops.io as sio

    prep = _model_file(bundle, "prep.skops")
    sio.dump(payload, prep)
    manifest = _manifest(bundle)
    manifest["files"][prep.relative_to(bundle).as_posix()] = hashlib.sha256(prep.read_bytes()).hexdigest()
    (bundle / "kiln.json").write_text(json.dumps(manifest))

    with pytest.raises(BundleError, match=rf"needs types kiln does not trust: \[.*{type(payload).__name__}"):
        kiln.load(bundle)


def test_saving_over_a_bundle_replaces_it(model: kiln.Model, bundle: Path) -> None:
    (bundle / "stale.txt").write_text("from an older run")

    returned = kiln.save(model, bundle)

    assert returned == bundle.resolve()
    assert not (bundle / "stale.txt").exists()
    assert sorted(p.name for p in bundle.parent.iterdir()) == ["copy"]  # no staging or retired folders
    kiln.load(bundle)


def test_saving_into_a_new_nested_folder_creates_it(model: kiln.Model, tmp_path: Path) -> None:
    path = kiln.save(model, tmp_path / "a" / "b" / "model")

    assert (path / "kiln.json").is_file()


def test_saving_into_a_folder_that_is_not_a_bundle_is_refused(model: kiln.Model, tmp_path: Path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    (folder / "thesis.txt").write_text("precious")

    with pytest.raises(BundleError, match=r"exists and is not a kiln bundle; choose another --out folder"):
        kiln.save(model, folder)
    assert [p.name for p in folder.iterdir()] == ["thesis.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["documents"]


def test_saving_onto_an_existing_file_is_refused(model: kiln.Model, tmp_path: Path) -> None:
    target = tmp_path / "model.json"
    target.write_text("{}")

    with pytest.raises(BundleError, match=r"is a file"):
        kiln.save(model, target)


@pytest.fixture(scope="module")
def regression_model(table: pd.DataFrame) -> kiln.Model:
    noise = np.random.default_rng(1).normal(0, 8, len(table))  # without it, torque alone would leak power
    frame = table.drop(columns="failure").assign(power=lambda t: t["torque"] * 2 + (t["type"] == "H") * 5 + noise)
    return kiln.train(frame, target="power", time_limit=10, max_trials=1, quiet=True, n_jobs=1,
                      learners=["lightgbm"])


def test_regression_bundle_round_trips(regression_model: kiln.Model, table: pd.DataFrame, tmp_path: Path) -> None:
    features = table.drop(columns="failure")

    loaded = kiln.load(kiln.save(regression_model, tmp_path / "regression"))

    assert _manifest(tmp_path / "regression")["task"] == "regression"
    assert loaded.classes_ is None
    np.testing.assert_array_equal(loaded.predict(features), regression_model.predict(features))


def test_regression_model_has_no_probabilities(regression_model: kiln.Model, table: pd.DataFrame) -> None:
    with pytest.raises(kiln.InvalidOptionError, match=r"predict_proba applies to classification"):
        regression_model.predict_proba(table)


# -- confinement, completeness, the manifest's own integrity (issue 12) ---------------------------------------

def _rewrite_manifest(path: Path, manifest: dict) -> None:
    (path / "kiln.json").write_text(json.dumps(manifest))


def _outside_cases(bundle: Path, outside: Path) -> dict[str, str]:
    """Ways a manifest can name a file outside the bundle, to a file that exists and one that does not."""
    (bundle / "model" / "link-present").symlink_to(outside / "secret.txt")
    (bundle / "model" / "link-absent").symlink_to(outside / "absent.txt")
    return {"absolute-present": str(outside / "secret.txt"), "absolute-absent": str(outside / "absent.txt"),
            "dotdot-present": f"../{outside.name}/secret.txt", "dotdot-absent": f"../{outside.name}/absent.txt",
            "symlink-present": "model/link-present", "symlink-absent": "model/link-absent"}


@pytest.mark.parametrize("case", ["absolute", "dotdot", "symlink"])
def test_a_member_outside_the_bundle_is_refused_alike_whether_it_exists_or_not(bundle: Path, tmp_path: Path,
                                                                               case: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("root:$6$hash")
    paths = _outside_cases(bundle, outside)
    messages = []
    for which in ("present", "absent"):
        relative = paths[f"{case}-{which}"]
        manifest = _manifest(bundle)
        # the right digest of the present file: a loader that read and hashed it would accept it
        manifest["files"][relative] = hashlib.sha256(b"root:$6$hash").hexdigest()
        _rewrite_manifest(bundle, manifest)
        with pytest.raises(BundleError, match=r"names a member outside its folder") as caught:
            kiln.load(bundle)
        messages.append(str(caught.value).replace(relative, "PATH"))
        del manifest["files"][relative]
        _rewrite_manifest(bundle, manifest)
    assert messages[0] == messages[1]  # the error does not tell whether the file exists


def test_confinement_is_checked_before_any_member_is_hashed(bundle: Path) -> None:
    target = _model_file(bundle, "prep.skops")
    target.write_bytes(b"damaged")  # would be "does not match its checksum" if hashing came first
    manifest = _manifest(bundle)
    manifest["files"]["/nonexistent/elsewhere"] = "0" * 64
    _rewrite_manifest(bundle, manifest)

    with pytest.raises(BundleError, match=r"names a member outside its folder \('/nonexistent/elsewhere'\)"):
        kiln.load(bundle)


def test_a_fold_folder_outside_the_bundle_is_refused(bundle: Path) -> None:
    manifest = _manifest(bundle)
    manifest["members"][0]["folds"][0]["path"] = "../elsewhere"
    _rewrite_manifest(bundle, manifest)

    with pytest.raises(BundleError, match=r"names a member outside its folder \('\.\./elsewhere'\)"):
        kiln.load(bundle)


def test_a_manifest_symlinked_out_of_the_bundle_is_refused(bundle: Path, tmp_path: Path) -> None:
    real = tmp_path / "elsewhere.json"
    real.write_bytes((bundle / "kiln.json").read_bytes())
    (bundle / "kiln.json").unlink()
    (bundle / "kiln.json").symlink_to(real)

    with pytest.raises(BundleError, match=r"names a member outside its folder \('kiln.json'\)"):
        kiln.load(bundle)


@pytest.mark.parametrize("unlisted", ["reference.parquet", "oof.parquet"])
def test_a_file_the_manifest_does_not_list_is_refused(bundle: Path, unlisted: str) -> None:
    manifest = _manifest(bundle)
    del manifest["files"][unlisted]
    _rewrite_manifest(bundle, manifest)

    with pytest.raises(BundleError, match=rf"holds '{unlisted}', which its manifest does not list"):
        kiln.load(bundle)


def test_an_extra_file_in_a_model_folder_is_refused(bundle: Path) -> None:
    folder = _model_file(bundle, "prep.skops").parent
    (folder / "extra.skops").write_bytes(b"anything")

    relative = re.escape((folder / "extra.skops").relative_to(bundle).as_posix())
    with pytest.raises(BundleError, match=rf"holds '{relative}', which its manifest does not list"):
        kiln.load(bundle)


def _cli(*args: str) -> subprocess.CompletedProcess:
    import sys

    return subprocess.run([str(Path(sys.executable).with_name("kiln")), *args], capture_output=True, text=True,
                          timeout=300)


def test_a_member_that_matches_its_checksum_but_does_not_parse_is_one_line_and_exit_2(bundle: Path,
                                                                                     table: pd.DataFrame,
                                                                                     tmp_path: Path) -> None:
    prep = _model_file(bundle, "prep.skops")
    prep.write_bytes(b"PK\x03\x04 not a zip archive")
    manifest = _manifest(bundle)
    manifest["files"][prep.relative_to(bundle).as_posix()] = hashlib.sha256(prep.read_bytes()).hexdigest()
    _rewrite_manifest(bundle, manifest)
    with pytest.raises(BundleError, match=r"cannot be loaded \(BadZipFile"):
        kiln.load(bundle)

    rows = tmp_path / "rows.csv"
    table.drop(columns="failure").head(5).to_csv(rows, index=False)
    result = _cli("predict", str(bundle), str(rows), "--out", str(tmp_path / "out.csv"))

    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert "cannot be loaded" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_saved_under_a_signing_key_the_bundle_carries_an_hmac_of_its_manifest(model: kiln.Model, tmp_path: Path,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    import hmac

    monkeypatch.setenv("KILN_SIGNING_KEY", "a long random secret")
    path = kiln.save(model, tmp_path / "signed")

    expected = hmac.new(b"a long random secret", (path / "kiln.json").read_bytes(), hashlib.sha256).hexdigest()
    assert (path / "kiln.sig").read_text().strip() == f"hmac-sha256:{expected}"
    assert kiln.load(path).classes_ == ["no", "yes"]


def test_with_a_signing_key_set_unsigned_and_wrongly_signed_bundles_are_refused(
        model: kiln.Model, saved: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_SIGNING_KEY", "a long random secret")
    with pytest.raises(BundleError, match=r"is not signed, and KILN_SIGNING_KEY is set"):
        kiln.load(saved)  # saved without a key

    monkeypatch.setenv("KILN_SIGNING_KEY", "the key of somebody else")
    other = kiln.save(model, tmp_path / "other")
    monkeypatch.setenv("KILN_SIGNING_KEY", "a long random secret")
    with pytest.raises(BundleError, match=r"is signed with another key, or its kiln.json changed after signing"):
        kiln.load(other)

    monkeypatch.setenv("KILN_SIGNING_KEY", "")
    with pytest.raises(BundleError, match=r"KILN_SIGNING_KEY is set but empty"):
        kiln.load(other)


def test_with_a_signing_key_a_changed_decision_threshold_is_refused(model: kiln.Model, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KILN_SIGNING_KEY", "a long random secret")
    path = kiln.save(model, tmp_path / "signed")
    manifest = _manifest(path)
    manifest["decision"]["threshold"] = 1.0 - manifest["decision"]["threshold"]  # flips predictions, nothing else
    _rewrite_manifest(path, manifest)

    with pytest.raises(BundleError, match=r"its kiln.json changed after signing"):
        kiln.load(path)


def test_the_registry_digest_is_checked_when_given(saved: Path, bundle: Path) -> None:
    from kiln.bundle import load_bundle, manifest_digest

    digest = manifest_digest(saved)
    assert digest == hashlib.sha256((saved / "kiln.json").read_bytes()).hexdigest()
    load_bundle(bundle, manifest_sha256=digest)
    manifest = _manifest(bundle)
    manifest["decision"]["threshold"] = 0.99
    _rewrite_manifest(bundle, manifest)

    with pytest.raises(BundleError, match=r"differs from the one the registry recorded"):
        load_bundle(bundle, manifest_sha256=digest)

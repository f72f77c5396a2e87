"""`kiln predict --ray` on a real local Ray cluster: Ray Data across two nodes, the same
predictions as without Ray, as partitioned Parquet in input order, or gathered into the
one file `--out` names."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

# The cluster of the training tests (a head and a worker node of one CPU each, stopped by
# process group); imported, not copied, so both files start Ray the same way.
from test_ray import RayCluster, ray_cluster  # noqa: F401

import kiln
from kiln.errors import MissingDependencyError

KILN = Path(sys.executable).with_name("kiln")
TARGET = "Machine failure"
ROWS = 300_000  # three batches of 100,000 rows: three part files


@pytest.fixture(scope="module")
def bundle(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = kiln.train(ai4i, target=TARGET, time_limit=20, max_trials=1, n_jobs=1, learners=["lightgbm"],
                       quiet=True)
    return kiln.save(model, tmp_path_factory.mktemp("ray_predict") / "bundle")


@pytest.fixture(scope="module")
def big_file(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """AI4I repeated to 300,000 rows, with a running row number so that order is visible."""
    frame = pd.concat([ai4i.drop(columns=TARGET)] * (ROWS // len(ai4i)), ignore_index=True)
    frame["UDI"] = range(len(frame))
    path = tmp_path_factory.mktemp("ray_predict_data") / "big.parquet"
    frame.to_parquet(path, index=False)
    return path


def _kiln(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(KILN), *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.slow  # 90 s on 2 cores (300,000 rows); the contract-violation test keeps Ray predict in the default run
def test_predict_on_ray_writes_ordered_parts_equal_to_the_local_predictions(
        ray_cluster: RayCluster, bundle: Path, big_file: Path, tmp_path: Path) -> None:  # noqa: F811
    local = tmp_path / "local.parquet"
    assert _kiln("predict", str(bundle), str(big_file), "--out", str(local)).returncode == 0
    out = tmp_path / "predictions"
    process = _kiln("predict", str(bundle), str(big_file), "--out", str(out), "--ray", ray_cluster.address,
                    env=ray_cluster.env)
    assert process.returncode == 0, process.stderr[-3000:]
    assert f"{ROWS:,} predictions written to {out}" in process.stdout
    parts = sorted(out.iterdir())
    assert [p.name for p in parts] == [f"part-{i:06d}.parquet" for i in range(len(parts))]
    assert len(parts) >= 2
    on_ray = pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)
    pd.testing.assert_frame_equal(on_ray, pd.read_parquet(local), check_exact=True)
    assert not list(tmp_path.glob(".predictions.tmp-*"))


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_parts_are_gathered_in_order_into_the_file_the_suffix_names(suffix: str, tmp_path: Path) -> None:
    from kiln.data.write import write_table
    from kiln.predict.ray_data import PART_NAME, _gather, is_file_out

    frame = pd.DataFrame({"prediction": ["=SUM(1+1)", "no", "yes"] * 70, "proba_yes": [0.25, 0.5, 0.75] * 70})
    parts = tmp_path / "parts"
    parts.mkdir()
    for i, start in enumerate(range(0, len(frame), 100)):  # three parts: 100, 100 and 10 rows
        frame.iloc[start:start + 100].to_parquet(parts / PART_NAME.format(i), index=False)
    out, whole = tmp_path / f"preds{suffix}", tmp_path / f"whole{suffix}"

    assert is_file_out(out) and not is_file_out(tmp_path / "preds")
    _gather(parts, out)

    write_table(frame, whole)  # what `kiln predict` without Ray writes for the whole frame
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(whole))
    else:
        assert out.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["parts", out.name, whole.name])


@pytest.mark.slow  # a second Ray run of 300,000 rows; the gathering itself is tested above
def test_predict_on_ray_to_a_csv_name_writes_that_file_as_kiln_predict_does(
        ray_cluster: RayCluster, bundle: Path, big_file: Path, tmp_path: Path) -> None:  # noqa: F811
    local = tmp_path / "local.csv"
    assert _kiln("predict", str(bundle), str(big_file), "--out", str(local)).returncode == 0
    out = tmp_path / "preds.csv"
    process = _kiln("predict", str(bundle), str(big_file), "--out", str(out), "--ray", ray_cluster.address,
                    env=ray_cluster.env)
    assert process.returncode == 0, process.stderr[-3000:]
    assert f"{ROWS:,} predictions written to {out}\n" in process.stdout
    assert out.is_file()  # not a folder named preds.csv
    assert out.read_bytes() == local.read_bytes()  # rows in input order, same columns and text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["local.csv", "preds.csv"]  # no staging left


def test_a_file_name_that_is_an_existing_folder_is_refused_with_one_sentence(bundle: Path, big_file: Path,
                                                                              tmp_path: Path) -> None:
    folder = tmp_path / "preds.parquet"
    folder.mkdir()
    process = _kiln("predict", str(bundle), str(big_file), "--out", str(folder), "--ray", "auto")
    assert process.returncode == 2 and "Traceback" not in process.stderr
    assert process.stderr.strip().splitlines()[-1] == (
        f"error: --out '{folder}' is a folder; name a new file (.csv, .parquet or .jsonl), or a folder without a "
        "file suffix for the Parquet parts.")


def test_a_contract_violation_on_ray_names_its_row_in_the_file(
        ray_cluster: RayCluster, bundle: Path, ai4i: pd.DataFrame, tmp_path: Path) -> None:  # noqa: F811
    frame = pd.concat([ai4i.drop(columns=TARGET)] * 25, ignore_index=True).astype({"Torque [Nm]": object})
    frame.loc[212_345, "Torque [Nm]"] = "high"
    path = tmp_path / "broken.parquet"
    frame.astype({"Torque [Nm]": str}).to_parquet(path, index=False)
    out = tmp_path / "predictions"
    process = _kiln("predict", str(bundle), str(path), "--out", str(out), "--ray", ray_cluster.address,
                    env=ray_cluster.env)
    assert process.returncode == 2
    # Ray's C++ core may log a line of its own first; kiln's is the last, and the only traceback-free one.
    assert process.stderr.strip().splitlines()[-1] == (
        "error: Column 'Torque [Nm]' must be a number but row 212346 (counting from 1) holds 'high'; "
        "fix or remove that value.")
    assert "Traceback" not in process.stderr
    assert not out.exists() and not list(tmp_path.glob(".predictions.tmp-*"))


def test_without_the_extra_predict_ray_names_the_install_command(bundle: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln.predict.ray_data import predict_on_ray

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"pip install .*kiln-ml\[ray\]"):
        predict_on_ray(bundle, tmp_path / "any.parquet", tmp_path / "out", address="auto")


def test_an_existing_file_is_not_replaced_by_a_prediction_folder(bundle: Path, big_file: Path,
                                                                 tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("keep me")
    process = _kiln("predict", str(bundle), str(big_file), "--out", str(precious), "--ray", "auto")
    assert process.returncode == 2 and "is not a kiln prediction folder" in process.stderr
    assert precious.read_text() == "keep me"

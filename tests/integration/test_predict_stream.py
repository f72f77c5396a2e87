"""`kiln predict` on files larger than memory: chunks in, chunks out, the same predictions."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import kiln
from kiln.data.load import read_table
from kiln.data.write import write_table
from kiln.errors import InvalidDataError
from kiln.model import Model
from kiln.predict.stream import predict_file

KILN = Path(sys.executable).with_name("kiln")
TARGET = "Machine failure"
MiB = 1024 * 1024
# Peak RSS of a command, measured by the kernel (ru_maxrss of the waited-for child, in KiB).
PEAK_RSS = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


@pytest.fixture(scope="module")
def model(ai4i: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> tuple[Model, Path]:
    """One LightGBM on AI4I (a couple of seconds), saved for the CLI."""
    trained = kiln.train(ai4i, target=TARGET, time_limit=20, max_trials=1, n_jobs=1, learners=["lightgbm"],
                         quiet=True)
    return trained, kiln.save(trained, tmp_path_factory.mktemp("stream") / "bundle")


@pytest.fixture(scope="module")
def rows(ai4i: pd.DataFrame) -> pd.DataFrame:
    """2,500 AI4I rows with an unseen product type and out-of-range torques scattered over
    every chunk, so each chunk's contract report has something to add."""
    frame = ai4i.drop(columns=TARGET).iloc[:2500].reset_index(drop=True)
    frame.loc[frame.index % 97 == 5, "Type"] = "Z"
    frame.loc[frame.index % 131 == 7, "Torque [Nm]"] = 250.0
    return frame


@pytest.mark.parametrize("source", ["parquet", "csv", "jsonl"])
def test_streamed_predictions_equal_the_in_memory_path(model: tuple[Model, Path], rows: pd.DataFrame,
                                                       tmp_path: Path, source: str) -> None:
    trained, _ = model
    path = tmp_path / f"rows.{source}"
    write_table(rows, path)
    expected = trained.predictions_frame(read_table(path))
    expected_report = trained.last_contract_report_
    assert expected_report is not None and not expected_report.clean
    for out_kind in ("parquet", "csv", "jsonl"):
        out = tmp_path / f"streamed.{out_kind}"
        result = predict_file(trained, path, out, chunk_rows=600)
        assert (result.rows, result.chunks) == (2500, 5)
        assert result.report.to_dict() == expected_report.to_dict()
        whole = write_table(expected, tmp_path / f"whole.{out_kind}")  # what `kiln predict` wrote before
        if out_kind == "parquet":  # the same table (the streamed file has one row group per chunk)
            pd.testing.assert_frame_equal(pd.read_parquet(out), pd.read_parquet(whole), check_exact=True)
        else:  # byte for byte
            assert out.read_bytes() == whole.read_bytes()


def test_a_contract_violation_names_its_row_in_the_whole_file_and_writes_nothing(
        model: tuple[Model, Path], rows: pd.DataFrame, tmp_path: Path) -> None:
    trained, _ = model
    broken = rows.astype({"Air temperature [K]": object})
    broken.loc[2222, "Air temperature [K]"] = "warm"
    path = tmp_path / "broken.csv"
    broken.to_csv(path, index=False)
    with pytest.raises(InvalidDataError) as whole:
        trained.predictions_frame(path)
    assert "line 2224 holds" in str(whole.value)  # data row 2222 from 0: the file's line 2224, the header is line 1
    out = tmp_path / "out" / "predictions.parquet"
    with pytest.raises(InvalidDataError) as streamed:
        predict_file(trained, path, out, chunk_rows=500)  # row 222 of the fifth chunk
    assert str(streamed.value) == str(whole.value)
    assert list(out.parent.iterdir()) == []  # no output, no temporary file left behind


def _peak_rss_mib(*args: str, env: dict[str, str]) -> float:
    process = subprocess.run([sys.executable, "-c", PEAK_RSS, str(KILN), *args], capture_output=True, text=True,
                             env=env, timeout=300, check=True)
    code, peak_kib = map(int, process.stdout.split())
    assert code == 0, f"kiln {' '.join(args)} exited with {code}"
    return peak_kib / 1024


def test_predicting_a_file_five_times_the_memory_cap_stays_under_the_cap(
        model: tuple[Model, Path], ai4i: pd.DataFrame, tmp_path: Path) -> None:
    """The cap is the memory the data may take beyond what `kiln predict` needs anyway
    (Python, the libraries, the model): the peak on a 10,000-row slice of the same file.

    The file is AI4I repeated to 1M rows plus a 200-character operator note per row,
    a column the model ignores: it makes the table 5× the cap in memory at a third of
    the rows the AI4I columns alone would need, which keeps the test near 30 s.
    """
    _, bundle = model
    cap = 64 * MiB
    frame = pd.concat([ai4i.drop(columns=TARGET)] * 100, ignore_index=True)
    rng = np.random.default_rng(0)
    words = np.array(["spindle", "bearing", "coolant", "vibration", "inspected", "replaced", "noise", "shift"])
    notes = np.array([" ".join(rng.choice(words, 40)) for _ in range(1000)], dtype=object)
    frame["Notes"] = notes[np.arange(len(frame)) % len(notes)]
    assert frame.memory_usage(deep=True).sum() >= 5 * cap
    big, small = tmp_path / "big.parquet", tmp_path / "small.parquet"
    frame.to_parquet(big, index=False)
    frame.iloc[:10_000].to_parquet(small, index=False)
    del frame
    env = {**os.environ, "KILN_MEMORY_LIMIT": str(cap)}  # chunks are sized to the cap

    baseline = _peak_rss_mib("predict", str(bundle), str(small), "--out", str(tmp_path / "small.csv"), env=env)
    peak = _peak_rss_mib("predict", str(bundle), str(big), "--out", str(tmp_path / "big.csv"), env=env)
    assert peak - baseline < cap / MiB, f"peak {peak:.0f} MiB, baseline {baseline:.0f} MiB, cap {cap / MiB:.0f} MiB"
    predictions = pd.read_csv(tmp_path / "big.csv")
    assert len(predictions) == 1_000_000
    first = pd.read_csv(tmp_path / "small.csv")
    pd.testing.assert_frame_equal(predictions.iloc[:10_000], first)  # AI4I repeats: so do its predictions


def test_cli_predict_prints_the_count_and_merged_warnings(model: tuple[Model, Path], rows: pd.DataFrame,
                                                          tmp_path: Path) -> None:
    _, bundle = model
    path = tmp_path / "rows.jsonl"
    rows.to_json(path, orient="records", lines=True)
    out = tmp_path / "predictions.jsonl"
    process = subprocess.run([str(KILN), "predict", str(bundle), str(path), "--out", str(out)],
                             capture_output=True, text=True, timeout=120)
    assert process.returncode == 0, process.stderr
    assert process.stdout.strip() == f"2,500 predictions written to {out}"
    unseen = int((rows["Type"] == "Z").sum())
    assert f"Column 'Type': {unseen} of 2,500 rows hold a category not seen in training" in process.stderr
    lines = out.read_text().splitlines()
    assert len(lines) == 2500 and set(json.loads(lines[0])) == {"prediction", "proba_0", "proba_1"}

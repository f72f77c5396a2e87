"""Prediction files: CSV output cannot smuggle a spreadsheet formula (OWASP CSV injection)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kiln.data.write import spreadsheet_safe, write_table


def test_text_cells_that_start_a_formula_get_an_apostrophe_and_numbers_do_not() -> None:
    frame = pd.DataFrame({"prediction": ["=SUM(1+1)", "+1", "-2", "@cmd", "\tx", "ok", None],
                          "score": [-1.5, 2.0, -3.0, 0.0, 1.0, 2.0, 3.0],
                          "label": pd.Categorical(["=A1", "b", "b", "b", "b", "b", "b"])})
    safe = spreadsheet_safe(frame)
    assert safe["prediction"].tolist()[:6] == ["'=SUM(1+1)", "'+1", "'-2", "'@cmd", "'\tx", "ok"]
    assert pd.isna(safe["prediction"].iloc[6])  # a missing cell stays missing
    assert safe["score"].tolist() == frame["score"].tolist()
    assert safe["label"].tolist()[:2] == ["'=A1", "b"]
    assert frame["prediction"].iloc[0] == "=SUM(1+1)"  # the caller's frame is untouched


def test_a_formula_column_name_is_neutralised_too() -> None:
    assert list(spreadsheet_safe(pd.DataFrame({"=cmd": ["a"], "id": ["b"]})).columns) == ["'=cmd", "id"]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_only_csv_files_are_changed(tmp_path: Path, suffix: str) -> None:
    frame = pd.DataFrame({"prediction": ["=1+1", "b"]})
    path = write_table(frame, tmp_path / f"out{suffix}")
    if suffix == ".csv":
        assert path.read_text().splitlines() == ["prediction", "'=1+1", "b"]
    else:  # typed formats carry no formulas: the label stays as the model predicts it
        read = pd.read_parquet(path) if suffix == ".parquet" else pd.read_json(path, lines=True)
        assert read["prediction"].tolist() == ["=1+1", "b"]


def test_kiln_predict_writes_formula_labels_as_text(tmp_path: Path) -> None:
    """A model whose class labels are formulas, streamed to CSV by `kiln.predict.stream`."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tiny_models import cancer_frame

    import kiln
    from kiln.predict.stream import predict_file

    frame = cancer_frame()
    frame["target"] = frame["target"].map({0: "=HYPERLINK(\"http://evil.example\")", 1: "@SUM(1+1)"})
    model = kiln.train(frame, target="target", time_limit=20, max_trials=1, n_jobs=1, quiet=True)
    source = tmp_path / "rows.csv"
    frame.drop(columns=["target"]).to_csv(source, index=False)
    predict_file(model, source, tmp_path / "out.csv", chunk_rows=50)
    written = pd.read_csv(tmp_path / "out.csv")
    assert set(written["prediction"]) <= {"'=HYPERLINK(\"http://evil.example\")", "'@SUM(1+1)"}
    assert len(written) == len(frame)

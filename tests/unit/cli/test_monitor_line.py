"""`kiln monitor`'s terminal line says why a live or estimated score is missing, as the report does."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from kiln.cli.console import print_monitor
from kiln.monitor.performance import WindowPerformance


def _result(overall: WindowPerformance) -> SimpleNamespace:
    return SimpleNamespace(name="ai4i", version="1", status="ok", rows=1, labelled=0, alerts=[], features=[],
                           overall=overall, cv={"score": 0.95, "low": 0.94, "high": 0.96})


def test_a_missing_score_is_printed_with_its_reason(capsys: pytest.CaptureFixture[str]) -> None:
    overall = WindowPerformance(start=0.0, end=1.0, rows=1, labelled=0, metric="roc_auc", value=None, ci_low=None,
                                ci_high=None, estimated=None, value_note="too few labelled rows (0 < 30)",
                                estimate_note="too few rows (1 < 30)")
    print_monitor(_result(overall))
    line = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert "live roc_auc: — (too few labelled rows (0 < 30))" in line
    assert "estimated (CBPE): — (too few rows (1 < 30))" in line


def test_a_present_estimate_is_printed_as_a_number(capsys: pytest.CaptureFixture[str]) -> None:
    overall = WindowPerformance(start=0.0, end=1.0, rows=500, labelled=0, metric="roc_auc", value=None, ci_low=None,
                                ci_high=None, estimated=0.9312)
    print_monitor(_result(overall))
    line = " ".join(capsys.readouterr().out.split())  # rich wraps at the terminal width
    assert "estimated (CBPE): 0.9312" in line and "live roc_auc: — (no labels yet)" in line

"""The child-process check a new version passes before a server swaps it in: a crash in the
child is reported as one line (the signal), a refusal with kiln's own sentence, success as None."""

from __future__ import annotations

import sys
from pathlib import Path

from tiny_models import train_tiny

from kiln.serve.lifecycle import run_child, verify_in_child


def test_a_child_killed_by_a_segmentation_fault_is_reported_and_the_caller_lives_on() -> None:
    reason = run_child([sys.executable, "-c", "import ctypes; ctypes.string_at(0)"], timeout_s=120)

    assert reason == "the verifying process died with SIGSEGV"


def test_a_child_that_exits_with_an_error_reports_its_last_line() -> None:
    code = "import sys; print('noise', file=sys.stderr); print('the reason', file=sys.stderr); sys.exit(3)"

    assert run_child([sys.executable, "-c", code], timeout_s=120) == "the verifying process exited with 3: the reason"


def test_a_child_that_hangs_is_stopped_at_the_timeout() -> None:
    reason = run_child([sys.executable, "-c", "import time; time.sleep(60)"], timeout_s=1)

    assert reason == "the verifying process did not finish within 1 s"


def test_verify_in_child_refuses_what_kiln_refuses_with_kiln_s_sentence(tmp_path: Path) -> None:
    (tmp_path / "not-a-bundle").mkdir()

    reason = verify_in_child(str(tmp_path / "not-a-bundle"), timeout_s=300)

    assert reason is not None and reason.startswith("the verifying process exited with 2: ")
    assert "is not a kiln bundle (no kiln.json)" in reason


def test_verify_in_child_passes_a_good_bundle(tmp_path: Path) -> None:
    assert verify_in_child(str(train_tiny(tmp_path / "model")), timeout_s=300) is None

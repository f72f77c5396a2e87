"""Text data checks TX001-TX005: each fires on the problem planted for it, none on the clean intent set."""

from __future__ import annotations

import numpy as np
import pandas as pd

from kiln.data.checks import CHECKS, run_checks
from kiln.data.text_checks import MAX_TEXT_CHARS
from kiln.demo.intents import load_intents


def _codes(frame: pd.DataFrame, target: str | None = "intent") -> dict[str, list]:
    found: dict[str, list] = {}
    for finding in run_checks(frame, target=target):
        found.setdefault(finding.code, []).append(finding)
    return found


def test_the_clean_intent_set_raises_no_text_finding() -> None:
    assert not [code for code in _codes(load_intents()) if code.startswith("TX")]
    assert {"TX001", "TX002", "TX003", "TX004", "TX005"} <= set(CHECKS)


def test_each_text_problem_is_found_with_its_numbers() -> None:
    frame = load_intents()
    frame.loc[:9, "utterance"] = " "  # near-empty
    frame.loc[10, "utterance"] = frame.loc[11, "utterance"].upper()  # same text (case aside), another label
    frame.loc[12, "intent"] = frame.loc[11, "intent"] if frame.loc[12, "intent"] != frame.loc[11, "intent"] else "jam"
    frame.loc[13, "utterance"] = "pump " * (MAX_TEXT_CHARS // 4)
    frame.loc[20:59, "utterance"] = "насос снова течёт, масло на полу у пресса"  # a second script
    found = _codes(frame)
    assert "10 of" in found["TX001"][0].detail
    assert found["TX002"][0].column == "utterance" and "→" in found["TX002"][0].detail
    assert "longer than 10,000" in found["TX003"][0].detail
    assert "CYRILLIC" in found["TX004"][0].detail


def test_short_multi_word_text_read_as_a_category_is_told() -> None:
    rng = np.random.default_rng(0)
    n = 300
    levels = [f"a fairly long repeated category value number {i}" for i in range(5)]
    words = ["pump", "valve", "seal", "motor", "belt", "leak"]
    frame = pd.DataFrame({"kind": rng.choice(levels, n),
                          "note": [" ".join(rng.choice(words, 4)) for _ in range(n)],
                          "y": rng.integers(0, 2, n)})
    found = _codes(frame, target="y")
    columns = {f.column: f.detail for f in found.get("TX005", [])}
    assert "note" in columns and "--text-column note" in columns["note"]

"""render_profile: every section present and explained, findings with how to silence
them, odd column names shown as typed, and nothing fetched from the network."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from plotly.offline import get_plotlyjs

from kiln.data.profile import profile_table
from kiln.report.profile import MAX_COLUMN_CHARTS, render_profile

N = 200


@pytest.fixture(scope="module")
def page() -> str:
    rng = np.random.default_rng(0)
    y = (rng.random(N) < 0.2).astype(int)
    refund = np.zeros(N, dtype=int)
    refund[np.flatnonzero(y)] = 1  # a leak (it reproduces y), so the page shows an error finding
    frame = pd.DataFrame({
        "<b>x</b>": rng.normal(size=N),
        'say "hi"\nnow': rng.choice(["é", "ü", "<i>"], N),
        "refund": refund,
        "row_id": np.arange(N),
        "y": y,
    })
    return render_profile(profile_table(frame, target="y"))


def test_profile_page_has_every_section_with_an_introduction(page: str) -> None:
    for title in ("Overview", "Findings", "Target: y", "Columns", "Association with the target"):
        assert f">{title}</h2>" in page
    assert page.count('<p class="intro">') == 5


def test_profile_page_lists_findings_with_how_to_silence_them(page: str) -> None:
    assert "<code>--ignore DQ004</code>" in page and "<code>--ignore DQ006</code>" in page
    assert "kiln profile DATA --ignore DQ004" in page


def test_profile_page_escapes_odd_column_names(page: str) -> None:
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page
    assert "<i>" not in page.replace(get_plotlyjs(), "")


def test_profile_page_is_self_contained(page: str) -> None:
    own = page.replace(get_plotlyjs(), "")

    assert page.count(get_plotlyjs()) == 1
    assert not re.search(r"<script[^>]*\bsrc=", page) and "<link" not in page
    assert "http://" not in own and "https://" not in own


def test_profile_page_without_target_skips_target_sections() -> None:
    page = render_profile(profile_table(pd.DataFrame({"a": [1.0, 2.0, 3.5], "b": ["x", "y", "x"]})))

    assert ">Overview</h2>" in page and ">Columns</h2>" in page
    assert ">Target: " not in page and ">Association with the target</h2>" not in page


def test_profile_page_charts_at_most_the_first_columns() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"c{i}": rng.normal(size=30) for i in range(MAX_COLUMN_CHARTS + 5)})

    page = render_profile(profile_table(frame))

    assert page.count('class="plotly-graph-div"') == MAX_COLUMN_CHARTS
    assert f"first {MAX_COLUMN_CHARTS} of {MAX_COLUMN_CHARTS + 5} columns" in page


def test_columns_that_leak_together_get_their_joint_figure_beside_their_own() -> None:
    # issue 13, item 5: AI4I's failure modes are DQ004 strong leaks, yet each ranks weakly alone
    rng = np.random.default_rng(1)
    n = 2000
    y = (rng.random(n) < 0.1).astype(int)
    mode = np.where(y == 1, rng.integers(0, 3, n), -1)  # each failure has one of three modes
    frame = pd.DataFrame({"a": (mode == 0).astype(int), "b": (mode == 1).astype(int), "c": (mode == 2).astype(int),
                          "noise": rng.normal(size=n), "y": y})

    profile = profile_table(frame, target="y")

    (joint,) = profile.joint_leaks
    assert joint.columns == ["a", "b", "c"] and joint.right == n and joint.majority == int((y == 0).sum())
    assert all(joint.majority < right < 0.96 * n for right in joint.alone.values())
    own = {c.name: c.association.value for c in profile.column_profiles if c.name in "abc"}
    assert all(value < 0.7 for value in own.values())  # weak bars in the chart ...
    section = render_profile(profile).split("<h2>Association with the target</h2>")[1]
    assert "Columns that reproduce the target together (DQ004)" in section  # ... beside the joint figure
    assert "a, b, c together" in section and "together they get 100.00% of rows right" in section
    assert profile.to_dict()["joint_leaks"][0]["alone"] == joint.alone

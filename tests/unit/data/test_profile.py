"""profile_table: per-column statistics, roles, association with the target, and the
JSON and table views of the result."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from resources import AI4I
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from kiln.data.profile import Profile, profile_table


@pytest.fixture(scope="module")
def small() -> pd.DataFrame:
    """Ten hand-made rows whose statistics can be checked by eye."""
    return pd.DataFrame({
        "size": [1.5, 2, 3, 4, 5, 6, 7, 8, 9, 100],
        "colour": ["a", "a", "a", "b", "a", "b", None, "a", "b", "a"],
        "site": "north",
        "empty": np.nan,
        "y": [0, 0, 1, 0, 1, 0, 1, 1, 0, 1],
    })


@pytest.fixture(scope="module")
def small_profile(small: pd.DataFrame) -> Profile:
    return profile_table(small, target="y")


def _column(profile: Profile, name: str):
    return next(c for c in profile.column_profiles if c.name == name)


def test_profile_counts_the_table(small: pd.DataFrame, small_profile: Profile) -> None:
    assert (small_profile.rows, small_profile.columns, small_profile.duplicated_rows) == (10, 5, 0)
    assert small_profile.memory_bytes == int(small.memory_usage(deep=True).sum())


def test_profile_states_numeric_summary_and_iqr_outliers(small_profile: Profile) -> None:
    size = _column(small_profile, "size")

    assert (size.kind, size.role, size.missing, size.distinct) == ("numeric", "feature", 0, 10)
    assert size.summary is not None
    assert size.summary["min"] == 1.5 and size.summary["max"] == 100 and size.summary["median"] == 5.5
    assert size.summary["mean"] == pytest.approx(14.55)
    assert (size.outliers, size.outlier_share) == (1, 0.1)  # 100 is beyond q3 + 1.5 IQR
    assert size.distribution is not None and sum(size.distribution.counts) == 10
    assert len(size.distribution.edges or []) == len(size.distribution.counts) + 1


def test_profile_states_categorical_levels_and_missing_share(small_profile: Profile) -> None:
    colour = _column(small_profile, "colour")

    assert (colour.kind, colour.missing, colour.missing_share, colour.distinct) == ("categorical", 1, 0.1, 2)
    assert colour.distribution is not None
    assert (colour.distribution.levels, colour.distribution.counts) == (["a", "b"], [6, 3])
    assert colour.outliers is None


def test_profile_gives_each_column_its_role(small_profile: Profile) -> None:
    roles = {c.name: c.role for c in small_profile.column_profiles}

    assert roles == {"size": "feature", "colour": "feature", "site": "constant", "empty": "empty", "y": "target"}


def test_profile_roles_cover_identifiers_datetimes_and_text() -> None:
    rng = np.random.default_rng(0)
    words = np.array(["the", "pump", "was", "noisy", "after", "a", "long", "night", "shift", "again"])
    frame = pd.DataFrame({"id": np.arange(40), "when": pd.date_range("2024-01-01", periods=40),
                          "note": [" ".join(rng.choice(words, 9)) + f" {i}" for i in range(40)],
                          "x": rng.normal(size=40)})

    profile = profile_table(frame)

    assert {c.name: c.role for c in profile.column_profiles} == {"id": "identifier", "when": "datetime",
                                                                 "note": "text", "x": "feature"}
    when = _column(profile, "when")
    assert when.distribution is not None and str(when.distribution.edges[0]).startswith("2024-01-01")


def test_profile_states_class_balance(small_profile: Profile) -> None:
    target = small_profile.target

    assert target is not None
    assert (target.task, target.classes, target.counts, target.shares) == ("binary", ["0", "1"], [5, 5], [0.5, 0.5])


def test_profile_measures_association_by_kind_and_task(small: pd.DataFrame, small_profile: Profile) -> None:
    size, colour = _column(small_profile, "size"), _column(small_profile, "colour")
    auc = roc_auc_score(small["y"], small["size"])

    assert size.association is not None and size.association.measure == "ROC AUC"
    assert size.association.value == pytest.approx(max(auc, 1 - auc), abs=1e-6)
    assert colour.association is not None and colour.association.measure == "Cramér's V"
    assert 0 <= colour.association.value <= 1
    assert _column(small_profile, "site").association is None


def test_profile_measures_regression_association_with_spearman(small: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"x": rng.normal(size=50), "group": rng.choice(["a", "b"], 50)})
    frame["price"] = frame["x"] * 3 + rng.normal(size=50) * 2

    profile = profile_table(frame, target="price")

    x = _column(profile, "x").association
    assert x is not None and x.measure == "|Spearman|"
    assert x.value == pytest.approx(abs(spearmanr(frame["x"], frame["price"]).statistic), abs=1e-6)
    assert _column(profile, "group").association.measure == "η"
    assert profile.target is not None and profile.target.task == "regression"
    assert profile.target.summary is not None and profile.target.distribution is not None


def test_profile_measures_multiclass_association_with_eta() -> None:
    frame = pd.DataFrame({"x": [1.0, 1.1, 0.9, 5.0, 5.1, 4.9, 9.0, 9.2, 8.8] * 3, "kind": list("aaabbbccc") * 3})

    x = _column(profile_table(frame, target="kind"), "x").association

    assert x is not None and x.measure == "η" and x.value > 0.99


def test_profile_counts_duplicated_rows(small: pd.DataFrame) -> None:
    assert profile_table(pd.concat([small, small.iloc[:3]])).duplicated_rows == 3


def test_profile_to_dict_is_strict_json_with_the_documented_keys(small_profile: Profile) -> None:
    data = small_profile.to_dict()

    text = json.dumps(data, allow_nan=False)

    assert set(data) == {"rows", "columns", "duplicated_rows", "memory_bytes", "target", "column_profiles",
                         "findings", "joint_leaks"}
    assert json.loads(text) == data
    assert [f["code"] for f in data["findings"]] == [f.code for f in small_profile.findings]


def test_profile_to_dict_turns_infinities_and_nan_into_none() -> None:
    frame = pd.DataFrame({"x": [1.0, np.inf, -np.inf, np.nan, 2.0, 3.0]})

    json.dumps(profile_table(frame).to_dict(), allow_nan=False)


def test_profile_frame_has_one_row_per_column(small_profile: Profile) -> None:
    frame = small_profile.frame()

    assert frame["column"].tolist() == ["size", "colour", "site", "empty", "y"]
    assert {"role", "kind", "missing_share", "distinct", "outliers", "association", "measure"} <= set(frame.columns)


def test_profile_findings_frame_lists_findings(small_profile: Profile) -> None:
    findings = small_profile.findings_frame()

    assert list(findings.columns) == ["code", "severity", "title", "column", "detail", "advice"]
    assert {"DQ001", "DQ003"} <= set(findings["code"])


def test_profile_passes_ignore_and_compare_to_the_checks(small: pd.DataFrame) -> None:
    shifted = small.assign(size=small["size"] + 50)

    profile = profile_table(small, target="y", compare=shifted, ignore=["DQ001"])

    codes = {f.code for f in profile.findings}
    assert "DQ001" not in codes and "DQ015" in codes


def test_profile_figures_cover_target_columns_and_association(small_profile: Profile) -> None:
    figures = small_profile.figures()

    assert figures.target is not None and figures.association is not None
    assert set(figures.columns) == {"size", "colour", "site"}
    assert list(small_profile.figures(max_columns=1).columns) == ["size"]


def test_profile_of_ai4i_finds_the_leaks_and_the_class_balance() -> None:
    profile = profile_table(pd.read_csv(AI4I), target="Machine failure")

    leaks = [f.column for f in profile.findings if f.code == "DQ004"]
    assert leaks == ["TWF", "HDF", "PWF", "OSF"]
    assert profile.target is not None and profile.target.counts == [9661, 339]

"""The demo generator follows the AI4I 2020 rules and matches the published file's statistics.

Tolerances come from the generator's own spread, measured over 40-60 seeds of 10,000
rows (per-mode count standard deviations: TWF 5.9, HDF 9.8, PWF 8.5, OSF 14.3, RNF 3.6;
numeric stds move by under 0.7 % between seeds, speed's by 1.6 %), and from the fact
that the file is itself a single draw of rare events.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from resources import AI4I

from kiln.demo.generate import COLUMNS, FAILURE_MODES, WORN_AND_HOT, Drift, generate
from kiln.errors import InvalidOptionError, KilnError

NUMERIC = ["Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]", "Tool wear [min]"]
SEEDS = [0, 1, 2]
# Relative std tolerance: 4 % (6 seed-to-seed sds or more), but speed's std rides on the
# ~2 % of runs below 20 Nm that spin at 2,100-2,900 rpm, so it gets 4 of its 1.6 % sds.
STD_TOLERANCE = {column: 0.04 for column in NUMERIC} | {"Rotational speed [rpm]": 0.065}

# Allowed |generated - file| per 10,000 rows, for the mean over an 80,000-row table.
# The file's count is one draw, so the gap has std ≈ sqrt(sd² + sd²/8) ≈ 1.06 sd; we
# allow 3 of those (TWF ±41 %, HDF ±27 %, PWF ±28 %, OSF ±47 %, RNF ±61 % of the file).
# Seeds 0-29 all pass; the largest gap seen is 0.62 of the allowance (PWF).
MODE_TOLERANCE = {"TWF": 19, "HDF": 31, "PWF": 27, "OSF": 46, "RNF": 11.5}


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    """The real AI4I 2020 file shipped in tests/data: the generator's fidelity reference."""
    return pd.read_csv(AI4I)


def rule_flags(table: pd.DataFrame) -> pd.DataFrame:
    """HDF, PWF and OSF as the published rules state them, applied to a table."""
    speed = table["Rotational speed [rpm]"]
    torque = table["Torque [Nm]"]
    power_w = torque * speed * 2 * np.pi / 60
    limit = table["Type"].map({"L": 11_000, "M": 12_000, "H": 13_000})
    return pd.DataFrame({
        "HDF": (table["Process temperature [K]"] - table["Air temperature [K]"] < 8.6) & (speed < 1_380),
        "PWF": (power_w < 3_500) | (power_w > 9_000),
        "OSF": table["Tool wear [min]"] * torque > limit,
    }).astype(np.int64)


def test_columns_and_dtypes_match_the_real_file(real):
    table = generate(500, seed=0)
    assert list(table.columns) == list(real.columns) == list(COLUMNS)
    assert table.dtypes.equals(real.dtypes)
    assert table["UDI"].tolist() == list(range(1, 501))
    assert (table["Product ID"].str[0] == table["Type"]).all()
    assert table["Product ID"].str[1:].str.isdigit().all()
    assert table["Product ID"].is_unique


def test_same_seed_gives_the_same_table_and_another_seed_does_not():
    pd.testing.assert_frame_equal(generate(2_000, seed=7), generate(2_000, seed=7))
    drifted = generate(2_000, seed=7, drift=WORN_AND_HOT)
    pd.testing.assert_frame_equal(drifted, generate(2_000, seed=7, drift=WORN_AND_HOT))
    assert not generate(2_000, seed=7).equals(generate(2_000, seed=8))


def test_no_drift_is_the_normal_plant():
    pd.testing.assert_frame_equal(generate(1_000, seed=3, drift=Drift()), generate(1_000, seed=3))


def test_published_rules_hold_on_the_real_file_and_on_generated_tables(real):
    # The rule helper reproduces the file exactly, so checking it on our tables checks the rules.
    pd.testing.assert_frame_equal(rule_flags(real), real[["HDF", "PWF", "OSF"]])
    for drift in (None, WORN_AND_HOT):
        table = generate(10_000, seed=0, drift=drift)
        pd.testing.assert_frame_equal(rule_flags(table), table[["HDF", "PWF", "OSF"]])
        assert (table["Machine failure"] == table[list(FAILURE_MODES)].max(axis=1)).all()


def test_tool_wear_failures_end_a_tool_between_200_and_240_minutes():
    table = generate(10_000, seed=0)
    wear = table["Tool wear [min]"]
    failed = table["TWF"] == 1
    # The last run keeps wear + its 2-5 min within a 200-240 min life, so it starts above 190.
    assert wear[failed].between(190, 240).all()
    after = wear.shift(-1)[failed]
    assert (after.dropna() == 0).all()  # a failed tool is replaced by a fresh one
    assert wear.min() == 0 and wear.max() <= 240


@pytest.mark.parametrize("seed", SEEDS)
def test_type_shares_match_the_real_file(real, seed):
    generated = generate(10_000, seed=seed)["Type"].value_counts(normalize=True)
    expected = real["Type"].value_counts(normalize=True)
    for kind in ("L", "M", "H"):
        assert abs(generated[kind] - expected[kind]) <= 0.03, kind


@pytest.mark.parametrize("seed", SEEDS)
def test_failure_rate_matches_the_real_file(real, seed):
    rate = generate(10_000, seed=seed)["Machine failure"].mean()
    assert abs(rate - real["Machine failure"].mean()) <= 0.012


def test_failure_mode_counts_match_the_real_file(real):
    per_10k = generate(80_000, seed=0)[list(FAILURE_MODES)].sum() / 8
    for mode, tolerance in MODE_TOLERANCE.items():
        assert abs(per_10k[mode] - real[mode].sum()) <= tolerance, (mode, per_10k[mode], real[mode].sum())


@pytest.mark.parametrize("seed", SEEDS)
def test_numeric_means_and_stds_match_the_real_file(real, seed):
    table = generate(10_000, seed=seed)
    for column in NUMERIC:
        expected_std = real[column].std()
        # means compared on the column's own scale: 300 K is no yardstick for a 2 K spread
        assert abs(table[column].mean() - real[column].mean()) <= 0.05 * expected_std, column
        assert table[column].std() == pytest.approx(expected_std, rel=STD_TOLERANCE[column]), column
    assert table["Torque [Nm]"].min() >= 0


def test_worn_and_hot_shifts_air_and_wear_and_raises_failures():
    normal = pd.concat([generate(10_000, seed=seed) for seed in SEEDS])
    drifted = pd.concat([generate(10_000, seed=seed, drift=WORN_AND_HOT) for seed in SEEDS])
    air_shift = drifted["Air temperature [K]"].mean() - normal["Air temperature [K]"].mean()
    assert air_shift == pytest.approx(WORN_AND_HOT.air_temperature_shift_k, abs=0.05)
    delta = drifted["Process temperature [K]"] - drifted["Air temperature [K]"]
    assert delta.mean() == pytest.approx(10.0, abs=0.05)  # the process temperature follows
    wear_shift = drifted["Tool wear [min]"].mean() - normal["Tool wear [min]"].mean()
    assert wear_shift > 0.8 * WORN_AND_HOT.tool_wear_shift_min
    assert (drifted["Type"] == "L").mean() == pytest.approx(0.8, abs=0.02)
    assert drifted["Machine failure"].mean() >= 1.5 * normal["Machine failure"].mean()


def test_a_model_learns_failures_from_the_generated_table():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    table = generate(10_000, seed=0)
    features = table.drop(columns=["UDI", "Product ID", "Machine failure", *FAILURE_MODES])
    features["Type"] = features["Type"].map({"L": 0, "M": 1, "H": 2})
    model = HistGradientBoostingClassifier(categorical_features=[0], random_state=0)
    folds = StratifiedKFold(3, shuffle=True, random_state=0)
    # The file gives 0.975 here, seeds 0-9 give 0.946-0.966: the generator's random failures
    # all count as machine failures (the file flags 1 of its 19), and they cannot be learned.
    auc = cross_val_score(model, features, table["Machine failure"], scoring="roc_auc", cv=folds).mean()
    assert auc > 0.9


def test_ten_thousand_rows_take_well_under_a_second():
    start = time.perf_counter()
    generate(10_000, seed=0, drift=WORN_AND_HOT)
    assert time.perf_counter() - start < 1.0


@settings(max_examples=40, deadline=None)
@given(n_rows=st.integers(1, 400), seed=st.integers(0, 2**32 - 1), wear_shift=st.floats(0, 100))
def test_any_size_gives_a_complete_table_that_keeps_the_rules(n_rows, seed, wear_shift):
    table = generate(n_rows, seed=seed, drift=Drift(tool_wear_shift_min=wear_shift))
    assert len(table) == n_rows
    assert not table.isna().any().any()
    pd.testing.assert_frame_equal(rule_flags(table), table[["HDF", "PWF", "OSF"]])
    assert (table["Tool wear [min]"] >= round(wear_shift)).all()


@pytest.mark.parametrize(
    ("n_rows", "drift", "match"),
    [
        (0, None, "n_rows must be a positive whole number; got 0"),
        (2.5, None, "n_rows must be a positive whole number"),
        (10, Drift(type_shares=(0.5, 0.5, 0.5)), r"must be three non-negative shares .* got \(0.5, 0.5, 0.5\)"),
        (10, Drift(type_shares=(1.2, -0.1, -0.1)), "type_shares must be three non-negative shares"),
        (10, Drift(tool_wear_shift_min=-5), "tool_wear_shift_min must be 0 or more"),
        (10, Drift(air_temperature_shift_k=float("nan")), "air_temperature_shift_k must be a finite number"),
    ],
)
def test_bad_options_are_refused_with_the_fix(n_rows, drift, match):
    with pytest.raises(KilnError, match=match) as error:
        generate(n_rows, drift=drift)
    assert isinstance(error.value, InvalidOptionError)

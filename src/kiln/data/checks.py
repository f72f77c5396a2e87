"""Coded data-quality checks: what in a table could make a model on it wrong or weak.

Each finding carries a stable code from `CHECKS` (DQ001, ...), a severity, what was
found with its numbers, and one sentence of advice. A user silences a code with
`--ignore CODE`. `kiln profile` shows the findings; `kiln train` can refuse on errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import pandas as pd

from kiln.data.association import find_leaks, numbers, texts
from kiln.data.load import read_table
from kiln.data.percent import part_of, percent
from kiln.data.schema import Schema, infer_schema
from kiln.data.target import Target, infer_target
from kiln.data.text_checks import TEXT_CHECKS, text_findings
from kiln.errors import InvalidDataError, InvalidOptionError, KilnError

Severity = Literal["error", "warning", "info"]
SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}

NEAR_CONSTANT_SHARE = 0.99
MOSTLY_MISSING_SHARE = 0.5
IMBALANCE_SHARE = 0.05
HIGH_CARDINALITY_LEVELS = 50
HIGH_CARDINALITY_SHARE = 0.05
NUMERIC_TEXT_SHARE = 0.9
TEXT_SAMPLE = 20_000  # string checks read at most this many values (a seeded sample)
PSI_SHIFT = 0.2
PSI_BINS = 10
UNSEEN_SHARE = 0.01


@dataclass(frozen=True)
class Check:
    """One kind of problem: its stable code, title, default severity and what to do about it."""

    code: str
    title: str
    severity: Severity
    advice: str


CHECKS: dict[str, Check] = {check.code: check for check in (
    Check("DQ001", "Constant column", "warning",
          "Drop it or check how it was collected: one value cannot help a model, and kiln drops it."),
    Check("DQ002", "Near-constant column", "warning",
          "Check that the rare values are real; a column that almost never varies adds little and can overfit "
          "on its few exceptions."),
    Check("DQ003", "All-missing column", "warning", "Drop it or fix the export that left it empty; kiln drops it."),
    Check("DQ004", "Strong target leakage", "error",
          "Drop the column(s) unless they are truly known when predictions are made; if they are, silence this "
          "check with --ignore DQ004."),
    Check("DQ005", "Weak target leakage", "warning",
          "Confirm that the column is known before the outcome, and drop it if it is recorded afterwards; a "
          "strong predictor that is known in time is what a model needs."),
    Check("DQ006", "Identifier-like column", "info",
          "Nothing to do: kiln drops identifiers, because a value unique to one row cannot generalise."),
    Check("DQ007", "Duplicated rows", "warning",
          "Remove the duplicates, or the same row lands in both training and validation folds and inflates "
          "the scores."),
    Check("DQ008", "Duplicated column", "warning",
          "Keep one of the copies; they add no information and split importance between them."),
    Check("DQ009", "Severe class imbalance", "warning",
          "Select models by a metric that sees the rare class, such as average precision (kiln train --metric "
          "pr_auc; or log_loss, balanced_accuracy), so the leaderboard ranks by it rather than by accuracy; "
          "collect more rare cases if you can."),
    Check("DQ010", "Rare class", "warning",
          "Collect more rows of the class, merge it with a similar class or drop its rows; cross-validation "
          "cannot put it in every fold."),
    Check("DQ011", "High-cardinality categorical", "warning",
          "Group rare levels or check that the column is not an identifier or free text; many small levels "
          "overfit easily."),
    Check("DQ012", "Numbers stored as text", "warning",
          "Replace the stray values with blanks (missing) so that the column is read as numbers, not categories."),
    Check("DQ013", "Numbers with units or separators", "warning",
          "Strip units, currency signs and thousands separators so that the column is read as numbers, "
          "not categories."),
    Check("DQ014", "Datetimes stored as text", "info",
          "Nothing to do unless the format is ambiguous: kiln parses the column as dates and uses year, month, "
          "day, weekday and hour."),
    Check("DQ015", "Train/test skew", "warning",
          "Check that both files come from the same population and period; a model fitted on one may score "
          "worse on the other."),
    Check("DQ016", "Mostly missing column", "warning",
          "Find out why values are missing: kiln imputes them, but missingness tied to the outcome can leak it."),
    Check("DQ017", "Target has missing values", "warning",
          "Fill in the labels if you can; rows without a target are dropped from training."),
    Check("DQ018", "Target cannot be learned", "error",
          "Choose another --target column or fix its labels; no model can be trained on it as it is."),
)}
CHECKS.update({code: Check(code, title, severity, advice)  # type: ignore[arg-type]
               for code, (title, severity, advice) in TEXT_CHECKS.items()})  # TX001-TX005: data/text_checks.py


@dataclass(frozen=True)
class Finding:
    """One problem found in one table (and, when it concerns one, in one column)."""

    code: str
    severity: Severity
    title: str
    column: str | None
    detail: str
    advice: str

    def to_dict(self) -> dict[str, str | None]:
        return asdict(self)


@dataclass(frozen=True)
class _Table:
    """What every check reads, computed once."""

    frame: pd.DataFrame
    schema: Schema
    target: str | None
    task_target: Target | None
    target_problem: str | None
    compare: pd.DataFrame | None
    n_folds: int

    @property
    def labelled(self) -> pd.Series:
        return self.frame[self.target].notna() if self.target else pd.Series(True, index=self.frame.index)

    @property
    def identifiers(self) -> list[str]:
        return [name for name, reason in self.schema.dropped.items() if reason.startswith("identifier")]


_Raw = tuple[str, str | None, str]  # code, column, detail


def run_checks(frame: pd.DataFrame, *, target: str | None = None, compare: pd.DataFrame | None = None,
               ignore: Iterable[str] = (), n_folds: int = 5, schema: Schema | None = None) -> list[Finding]:
    """Every finding on `frame` (errors first, then warnings, then info), except codes in `ignore`.

    `target` enables leakage, imbalance and label checks; `compare` (e.g. the test file)
    enables the train/test skew check; `n_folds` is the cross-validation the model will use;
    `schema`, when the caller already has `feature_schema(frame, target)`, saves inferring it again.
    """
    silenced = validate_ignore(ignore)
    if isinstance(n_folds, bool) or not isinstance(n_folds, int) or n_folds < 2:
        raise InvalidOptionError(f"n_folds must be an integer of at least 2, got {n_folds!r}.")
    frame = read_table(frame)
    task_target, problem = read_target(frame, target)
    schema = schema if schema is not None else feature_schema(frame, target)
    table = _Table(frame, schema, target, task_target, problem,
                   None if compare is None else read_table(compare), n_folds)
    findings = []
    for codes, check in _RUNS:
        if codes <= silenced:
            continue  # nothing it could say would be shown, so skip its cost
        for code, column, detail in check(table):
            if code not in silenced:
                entry = CHECKS[code]
                findings.append(Finding(code, entry.severity, entry.title, column, detail, entry.advice))
    position = {name: i for i, name in enumerate(frame.columns)}
    return sorted(findings, key=lambda f: (SEVERITY_RANK[f.severity], f.code,
                                           -1 if f.column is None else position.get(f.column, len(position))))


def validate_ignore(ignore: Iterable[str]) -> frozenset[str]:
    """The codes to silence, upper-cased; an unknown code is an error naming the known ones."""
    if isinstance(ignore, str):
        ignore = [ignore]
    codes = frozenset(str(code).strip().upper() for code in ignore)
    unknown = sorted(codes - CHECKS.keys())
    if unknown:
        raise InvalidOptionError(f"Unknown check code(s) {unknown} in --ignore; known codes are "
                                 f"{', '.join(CHECKS)}.")
    return codes


def feature_schema(frame: pd.DataFrame, target: str | None = None) -> Schema:
    """`infer_schema` of the columns besides `target`, but never refusing: a profile must
    describe a table even when none of its columns is usable (then `columns` is empty)."""
    features = frame.drop(columns=[target]) if target in frame.columns else frame
    try:
        return infer_schema(features)
    except InvalidDataError:
        pass
    # Every column was dropped; a stand-in column that is always kept lets infer_schema
    # state each one's reason. A single row is doubled so the stand-in has two values.
    probe = features if len(features) > 1 else pd.concat([features, features], ignore_index=True)
    stand_in = "kiln stand-in " + "_" * max((len(str(name)) for name in frame.columns), default=0)
    probe = probe.assign(**{stand_in: np.arange(len(probe)) % 2})
    return Schema([], {name: reason for name, reason in infer_schema(probe).dropped.items() if name != stand_in})


def read_target(frame: pd.DataFrame, target: str | None) -> tuple[Target | None, str | None]:
    """The target and its task, or why it cannot be learned; a name not in the table is an error."""
    if target is None:
        return None, None
    if target not in frame.columns:
        infer_target(frame, target)  # raises, naming close matches
    try:
        return infer_target(frame, target), None
    except KilnError as exc:
        return None, str(exc)


def duplicated_rows(frame: pd.DataFrame, schema: Schema) -> int:
    """Rows that repeat an earlier row in the features and target. Dropped columns do not
    count: identifiers differ by design, and constant or empty columns tell no row apart."""
    if not schema.columns:
        return 0
    kept = frame.drop(columns=list(schema.dropped))
    try:
        return int(kept.duplicated().sum())
    except TypeError:  # unhashable cells (lists from JSON) compare by their text
        return int(kept.astype(str).duplicated().sum())


def _column_health(t: _Table) -> Iterator[_Raw]:
    n = len(t.frame)
    for name, reason in t.schema.dropped.items():
        values = t.frame[name]
        if reason.startswith("all values"):
            yield "DQ003", name, f"{name}: all {n:,} values are missing."
        elif reason.startswith("constant"):
            present = values.dropna()
            gap = f"; the other {n - len(present):,} are missing" if len(present) < n else ""
            yield "DQ001", name, f"{name}: a single value ({_show(present.iloc[0])}) in {len(present):,} rows{gap}."
        elif reason.startswith("identifier"):
            yield "DQ006", name, f"{name}: {reason.split(': ', 1)[1]} ({values.nunique():,} distinct in {n:,} rows)."
    for name in t.frame.columns:
        missing = float(t.frame[name].isna().mean())
        if name != t.target and MOSTLY_MISSING_SHARE < missing < 1:
            count = int(t.frame[name].isna().sum())
            yield "DQ016", name, f"{name}: {percent(missing)} of values are missing ({count:,} rows)."
    for column in t.schema.columns:
        shares = t.frame[column.name].value_counts(normalize=True)
        if len(shares) > 1 and shares.iloc[0] >= NEAR_CONSTANT_SHARE:
            rest = (f"the only other value, {_show(shares.index[1])}, makes up {shares.iloc[1]:.2%}" if len(shares) == 2
                    else f"{len(shares) - 1:,} other values share the remaining {1 - shares.iloc[0]:.2%}")
            yield "DQ002", column.name, (f"{column.name}: {shares.iloc[0]:.2%} of its values are "
                                         f"{_show(shares.index[0])}; {rest}.")


def _target_checks(t: _Table) -> Iterator[_Raw]:
    if t.target is None:
        return
    if t.target_problem is not None:
        yield "DQ018", t.target, t.target_problem
        return
    values = t.frame[t.target]
    missing = int(values.isna().sum())
    if missing:
        yield "DQ017", t.target, (f"{t.target}: {missing:,} of {len(values):,} rows ({part_of(missing, len(values))}) "
                                  "have no target value; they are dropped from training.")
    if t.task_target is None or t.task_target.task == "regression":
        return
    counts = texts(values.dropna()).value_counts()
    total = int(counts.sum())
    rare = counts[counts / total < IMBALANCE_SHARE].sort_values(kind="stable")
    if len(rare):
        listed = _listing([f"{label} is {part_of(n, total)} ({n:,} of {total:,})" for label, n in rare.items()])
        yield "DQ009", t.target, f"{t.target}: the rarest class(es): {listed} of labelled rows."
    scarce = counts[counts < t.n_folds].sort_values(kind="stable")
    if len(scarce):
        listed = _listing([f"{label} has {n:,} row(s)" for label, n in scarce.items()])
        yield "DQ010", t.target, (f"{t.target}: class {listed}, fewer than the {t.n_folds} cross-validation "
                                  "folds.")


def _duplicates(t: _Table) -> Iterator[_Raw]:
    repeated = duplicated_rows(t.frame, t.schema)
    if repeated:
        ignoring = f" (ignoring identifier columns {', '.join(t.identifiers)})" if t.identifiers else ""
        yield "DQ007", None, (f"{repeated:,} of {len(t.frame):,} rows ({part_of(repeated, len(t.frame))}) repeat an "
                              f"earlier row{ignoring}.")
    seen: dict[bytes, list[str]] = {}
    varying = [c.name for c in t.schema.columns] + t.identifiers
    for name in t.frame.columns:
        if name not in varying:
            continue
        key = _fingerprint(t.frame[name])
        twin = next((other for other in seen.get(key, []) if t.frame[other].equals(t.frame[name])), None)
        if twin is not None:
            yield "DQ008", name, f"{name}: holds exactly the same values as {twin}."
        seen.setdefault(key, []).append(name)


def _cardinality(t: _Table) -> Iterator[_Raw]:
    n = len(t.frame)
    for name in t.schema.of_kind("categorical"):
        levels = t.frame[name].nunique()
        if levels > HIGH_CARDINALITY_LEVELS and levels > HIGH_CARDINALITY_SHARE * n:
            yield "DQ011", name, f"{name}: {levels:,} distinct levels in {n:,} rows ({part_of(levels, n)})."


_FORMATTED = re.compile(r"^\s*[-+]?\s*[$€£¥]?\s*[-+]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?\s*([^\W\d_]{1,6}\.?|%|°\w?)?\s*$")


def _text_numbers(t: _Table) -> Iterator[_Raw]:
    datetimes = set(t.schema.of_kind("datetime"))
    for name in t.frame.columns:
        values = t.frame[name]
        if name in datetimes and not pd.api.types.is_datetime64_any_dtype(values):
            yield "DQ014", name, f"{name}: dates or times stored as text (e.g. {_show(values.dropna().iloc[0])})."
            continue
        if not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
            continue
        present = values.dropna()
        if len(present) > TEXT_SAMPLE:
            present = present.sample(TEXT_SAMPLE, random_state=0)
        counts = texts(present).value_counts()  # each distinct string is parsed once
        if counts.empty:
            continue
        strings = counts.index.to_series().astype(object)
        parsed = pd.to_numeric(strings, errors="coerce").notna().to_numpy()
        formatted = ~parsed & np.array([_FORMATTED.fullmatch(s) is not None for s in strings], dtype=bool)
        weights = counts.to_numpy() / counts.sum()
        sampled = f" (in a sample of {TEXT_SAMPLE:,})" if len(present) == TEXT_SAMPLE else ""
        if formatted.any() and weights[parsed | formatted].sum() >= NUMERIC_TEXT_SHARE:
            yield "DQ013", name, (f"{name}: {weights[formatted].sum():.1%} of values are numbers written with units "
                                  f"or separators{sampled}, e.g. {_examples(strings[formatted])}.")
        elif NUMERIC_TEXT_SHARE <= weights[parsed].sum() < 1:
            stray = int(counts[~parsed].sum())
            yield "DQ012", name, (f"{name}: {weights[parsed].sum():.1%} of values are numbers{sampled}, but "
                                  f"{stray:,} are not, e.g. {_examples(strings[~parsed])}.")


def _leakage(t: _Table) -> Iterator[_Raw]:
    if t.task_target is None:
        return
    rows = t.labelled
    kinds = {c.name: c.kind for c in t.schema.columns}
    features = t.frame.loc[rows, [name for name in t.frame.columns if name in kinds]]
    for leak in find_leaks(features, kinds, t.frame.loc[rows, t.target], task=t.task_target.task):
        yield ("DQ004" if leak.strength == "strong" else "DQ005"), leak.column, leak.detail


def _skew(t: _Table) -> Iterator[_Raw]:
    if t.compare is None:
        return
    ignored = set(t.identifiers) | {name for name, r in t.schema.dropped.items() if not r.startswith("identifier")}
    for name in t.frame.columns:
        if name not in t.compare.columns and name not in ignored and name != t.target:
            yield "DQ015", name, f"{name}: in the table but missing from the comparison file."
    for name in t.compare.columns:
        if name not in t.frame.columns:
            yield "DQ015", name, f"{name}: in the comparison file but not in the table."
    kinds = {c.name: c.kind for c in t.schema.columns}
    if t.task_target is not None:
        kinds[t.target] = "numeric" if t.task_target.task == "regression" else "categorical"
    for name, kind in kinds.items():
        if name not in t.compare.columns or kind == "text":
            continue
        if kind == "categorical":
            detail = _level_shift(name, t.frame[name], t.compare[name])
        else:
            detail = _number_shift(name, numbers(t.frame[name], kind), numbers(t.compare[name], kind))
        if detail:
            yield "DQ015", name, detail


def _number_shift(name: str, reference: pd.Series, current: pd.Series) -> str | None:
    finite = reference[np.isfinite(reference)]
    if finite.empty:
        return None
    with np.errstate(all="ignore"):  # interpolating between huge values may overflow
        quantiles = np.quantile(finite, np.linspace(0, 1, PSI_BINS + 1))
    inner = np.unique(quantiles[~np.isnan(quantiles)])[1:-1]

    def shares(values: pd.Series) -> np.ndarray:
        codes = np.searchsorted(inner, values.fillna(0).to_numpy(), side="right")
        codes[values.isna().to_numpy()] = len(inner) + 1
        return np.bincount(codes, minlength=len(inner) + 2) / max(len(values), 1)

    index = _psi(shares(reference), shares(current))
    if index < PSI_SHIFT:
        return None
    return (f"{name}: PSI {index:.2f} between the table and the comparison file (0.2 or more is a real shift); "
            f"median {reference.dropna().median():.4g} → {current.dropna().median():.4g}.")  # all-NaN: nan, no warning


def _level_shift(name: str, reference: pd.Series, current: pd.Series) -> str | None:
    ref, cur = texts(reference).fillna("(missing)"), texts(current).fillna("(missing)")
    ref_shares, cur_shares = ref.value_counts(normalize=True), cur.value_counts(normalize=True)
    levels = ref_shares.index[:20].tolist()
    a = np.append(ref_shares.reindex(levels, fill_value=0).to_numpy(), 1 - ref_shares.reindex(levels).sum())
    b = np.append(cur_shares.reindex(levels, fill_value=0).to_numpy(), 1 - cur_shares.reindex(levels).sum())
    index = _psi(a, b)
    unseen = cur[~cur.isin(ref_shares.index)]
    parts = []
    if index >= PSI_SHIFT:
        moved = levels[int(np.argmax(np.abs(a[:-1] - b[:-1])))]
        parts.append(f"PSI {index:.2f} (0.2 or more is a real shift); the share of {_show(moved)} moves "
                     f"{ref_shares[moved]:.1%} → {cur_shares.get(moved, 0.0):.1%}")
    if len(unseen) >= UNSEEN_SHARE * len(cur):
        parts.append(f"{len(unseen) / len(cur):.1%} of comparison rows hold categories the table never has, "
                     f"e.g. {_examples(unseen.value_counts().index.to_series())}")
    return f"{name}: {'; '.join(parts)}." if parts else None


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    e, a = np.clip(expected, 1e-4, None), np.clip(actual, 1e-4, None)
    return float(((a - e) * np.log(a / e)).sum())


def _fingerprint(values: pd.Series) -> bytes:
    try:
        hashed = pd.util.hash_pandas_object(values, index=False).to_numpy()
    except TypeError:
        hashed = pd.util.hash_pandas_object(values.astype(str), index=False).to_numpy()
    return hashlib.blake2b(hashed.tobytes(), digest_size=16).digest()


def _show(value: object) -> str:
    text = str(value)
    return repr(text[:40] + "…") if len(text) > 40 else repr(text)


def _listing(items: list[str], limit: int = 5) -> str:
    more = f" and {len(items) - limit:,} more" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


def _examples(values: pd.Series, limit: int = 3) -> str:
    """The first few of `values` (already ordered, commonest first), quoted."""
    return ", ".join(_show(v) for v in values.iloc[:limit])


_RUNS: tuple[tuple[frozenset[str], Callable[[_Table], Iterator[_Raw]]], ...] = (
    (frozenset({"DQ001", "DQ002", "DQ003", "DQ006", "DQ016"}), _column_health),
    (frozenset({"DQ009", "DQ010", "DQ017", "DQ018"}), _target_checks),
    (frozenset({"DQ007", "DQ008"}), _duplicates),
    (frozenset({"DQ011"}), _cardinality),
    (frozenset({"DQ012", "DQ013", "DQ014"}), _text_numbers),
    (frozenset({"DQ004", "DQ005"}), _leakage),
    (frozenset({"DQ015"}), _skew),
    (frozenset(TEXT_CHECKS), lambda t: text_findings(t.frame, t.schema, t.target)),
)

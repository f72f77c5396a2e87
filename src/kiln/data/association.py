"""How strongly one column tells the target: the measure a profile shows beside each
column, and the evidence that a column is too good to be true (target leakage).

Everything is computed from a handful of group counts per column (its values when it
has few, its top levels, or quantile bins of numbers), so a wide table costs one cheap
pass per column. Rank-based scores use a seeded sample of rows beyond `RANK_MAX_ROWS`.

Only a target *reproduced* on (nearly) all rows, by one column or a few taken together, is
a strong leak (an error that stops training): that is what a column recorded with or after
the outcome looks like. A value that implies a class, a high purity or a strong lift is what
a good feature looks like too, so those are weak leaks (warnings with their numbers).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from kiln.data.schema import DISCRETE_MAX_LEVELS, category_text
from kiln.types import ColumnKind, Task

AssociationMeasure = Literal["ROC AUC", "η", "Cramér's V", "|Spearman|"]
Strength = Literal["strong", "weak"]

MIN_GROUP_ROWS = 20  # a group smaller than this is too small to trust its purity
N_BINS = 20
TOP_LEVELS = 30
RANK_MAX_ROWS = 50_000
STRONG_SCORE = 0.99  # single-column ROC AUC or |Spearman| this high is rarely honest
IMPLIED_MIN_LIFT = 5.0
WEAK_PURITY = 0.8
# A class target is *reproduced* when one column's values (a number: its best cut, or bins)
# get it right on REPRODUCED_SHARE of rows with at most ERROR_RATIO of the errors of guessing
# the commonest class, or when a few columns' joint values do so on JOINT_SHARE with at most
# JOINT_ERROR_RATIO (stricter: a search over sets has more ways to look good). AI4I's four
# failure modes together reach 99.91% with 0.03 of the errors, credit card spending 98.2%
# with 0.08; the closest honest table of benchmarks/checks_refusals.py stays below 93%.
REPRODUCED_SHARE = 0.98
ERROR_RATIO = 0.1
JOINT_SHARE = 0.99
JOINT_ERROR_RATIO = 0.05
MIN_REPRODUCED_ROWS = 50
MAX_JOINT = 5  # "a small set of columns taken together"
MAX_SETS = 3
JOINT_CANDIDATES = 20  # the columns that help most alone; bounds the search on wide tables
JOINT_MAX_ROWS = 100_000
FINE_BINS = 50
MISSING = "(missing)"
OTHER = "(other)"


@dataclass(frozen=True)
class Association:
    """One column's association with the target, and the measure it is stated in."""

    measure: AssociationMeasure
    value: float


@dataclass(frozen=True)
class Leak:
    """A column suspected of carrying the target: `strong` is near certain, `weak` worth a look."""

    column: str
    strength: Strength
    detail: str


@dataclass(frozen=True)
class Reproduction:
    """Columns whose joint values give a class target right on `right` of `rows` rows (each group
    of rows sharing them predicts its commonest class), against `majority` right by the commonest
    class alone."""

    columns: tuple[str, ...]
    right: int
    rows: int
    majority: int

    @property
    def share(self) -> float:
        return self.right / self.rows

    @property
    def error_ratio(self) -> float:
        """Its errors as a share of those of guessing the commonest class for every row."""
        return (self.rows - self.right) / max(self.rows - self.majority, 1)

    @property
    def reproduces(self) -> bool:
        """Right on (nearly) all rows, and far better than guessing the commonest class."""
        share, ratio = (REPRODUCED_SHARE, ERROR_RATIO) if len(self.columns) == 1 else (JOINT_SHARE, JOINT_ERROR_RATIO)
        return self.share >= share and self.error_ratio <= ratio


@dataclass(frozen=True)
class _Trigger:
    """A value that always comes with `outcome` (base rate `base`), and its share of rows."""

    value: str
    share: float
    outcome: str
    base: float


@dataclass(frozen=True)
class _Outcome:
    """The class target once: its name, its classes (as text) and each row's class number."""

    name: object
    classes: np.ndarray
    codes: np.ndarray


@dataclass(frozen=True)
class _Groups:
    codes: np.ndarray  # a group number per row
    labels: list[str]  # a label per group number
    discrete: bool  # the groups are the column's own values, not bins or top levels


def texts(values: pd.Series) -> pd.Series:
    """Every value as the text kiln uses for categories (object dtype; missing stays NaN).

    Computed once per distinct value, except in object columns of mixed types, which go
    value by value because hashing would merge True with 1, and they print differently.
    """
    mixed = pd.api.types.is_object_dtype(values) and pd.api.types.infer_dtype(values, skipna=True) in (
        "mixed", "mixed-integer")
    if mixed:
        return values.map(category_text, na_action="ignore").astype(object)
    codes, uniques = pd.factorize(values)
    lookup = np.array([category_text(u) for u in uniques] + [np.nan], dtype=object)
    return pd.Series(lookup[codes], index=values.index, dtype=object, name=values.name)


def numbers(values: pd.Series, kind: ColumnKind) -> pd.Series:
    """A numeric, boolean or datetime column as floats (datetimes as seconds since 1970); NaN where unreadable."""
    if kind == "datetime":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # dateutil warns about formats it guesses
            try:
                stamps = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
                if getattr(stamps.dtype, "tz", None) is None:  # nothing parsed: naive NaT
                    stamps = stamps.dt.tz_localize("UTC")
                return (stamps - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
            except (ValueError, TypeError, OverflowError, AttributeError):
                return pd.Series(np.nan, index=values.index, dtype="float64")
    if pd.api.types.is_bool_dtype(values):
        return values.astype("float64")
    return pd.to_numeric(values, errors="coerce").astype("float64")


def association(values: pd.Series, target: pd.Series, *, task: Task, kind: ColumnKind) -> Association | None:
    """The association of `values` with a non-missing `target` on the same rows (None if undefined).

    Numbers against classes: ROC AUC as max(auc, 1 - auc) (binary) or η (multiclass);
    categories against classes: Cramér's V; against a numeric target: |Spearman| or η.
    """
    if kind == "text" or len(values) < 3:
        return None
    numeric = kind in ("numeric", "boolean", "datetime")
    if task == "regression":
        y = target.to_numpy(dtype="float64")
        if numeric:
            return _maybe("|Spearman|", _spearman(numbers(values, kind).to_numpy(), y))
        return _maybe("η", _eta(y, _top_levels(values, TOP_LEVELS).codes))
    labels = texts(target)
    if numeric:
        x = numbers(values, kind).to_numpy()
        if task == "binary":
            return _maybe("ROC AUC", _rank_auc(x, _positive(labels)))
        return _maybe("η", _eta(x, pd.factorize(labels, sort=True)[0]))
    return _maybe("Cramér's V", _cramers_v(_top_levels(values, TOP_LEVELS).codes, labels))


def find_leaks(features: pd.DataFrame, kinds: dict[str, ColumnKind], target: pd.Series, *, task: Task) -> list[Leak]:
    """Columns of `features` (rows with a target, in the table's column order) that leak `target`.

    Strong (near certain, so `kiln train` stops): the target is *reproduced* on (nearly) all
    rows by one column, or by a few columns taken together (`reproduction`), or a number's
    ranks match a numeric target's. Weak (worth a look, never a stop): a value that comes
    (almost) only with a rare class, a column with ROC AUC ≥ 0.99 that still does not
    reproduce the target, and a rare indicator of the same make as strong leaks beside it.
    A strongly predictive column is what a model is for; only reproducing the outcome is
    evidence that a column was recorded after it.
    """
    if task == "regression":
        found = [_regression_leak(name, features[name], kinds[name], target) for name in features.columns
                 if kinds.get(name) not in (None, "text")]
        return [leak for leak in found if leak is not None]
    labels = texts(target)
    outcome = _Outcome(target.name, *np.unique(labels.to_numpy(dtype=str), return_inverse=True))
    usable = [name for name in features.columns if kinds.get(name) not in (None, "text")]
    codes = {name: _codes(features[name], kinds[name]) for name in usable}
    leaks: dict[str, Leak] = {}
    triggers: dict[str, _Trigger] = {}
    implied: dict[str, tuple[Leak, _Trigger | None]] = {}
    for name in usable:
        value_leak = _value_leak(name, features[name], kinds[name], outcome)
        if value_leak is not None:
            implied[name] = value_leak
    cuts = {name: numbers(features[name], kinds[name]).to_numpy() for name in usable
            if kinds[name] in ("numeric", "boolean", "datetime")} if len(outcome.classes) == 2 else {}
    for found in _reproductions(codes, cuts, outcome):
        for name in found.columns:
            pure = implied.get(name, (None, None))[1]
            leaks[name] = _reproduction_leak(name, found, features[name], kinds[name], outcome, pure)
            if pure is not None:
                triggers[name] = pure
    for name in usable:
        if name not in leaks:
            weak = implied[name][0] if name in implied else _auc_leak(name, features[name], kinds[name], outcome)
            if weak is not None:
                leaks[name] = weak
    for leak in _siblings(features, kinds, labels, leaks, triggers) if triggers else ():
        leaks[leak.column] = leak
    return [leaks[name] for name in features.columns if name in leaks]


def reproduction(features: pd.DataFrame, kinds: dict[str, ColumnKind], target: pd.Series,
                 exclude: tuple[str, ...] = ()) -> Reproduction | None:
    """The columns (at most `MAX_JOINT`) whose joint values best give a class target, found greedily.

    Each group of rows sharing the columns' values predicts its commonest class; groups of
    fewer than `MIN_GROUP_ROWS` rows are pooled into one, so no set of columns can look
    perfect by singling rows out. None when no column does better than the commonest class.
    """
    labels = texts(target)
    outcome = _Outcome(target.name, *np.unique(labels.to_numpy(dtype=str), return_inverse=True))
    usable = [name for name in features.columns if kinds.get(name) not in (None, "text") and name not in exclude]
    codes = {name: _codes(features[name], kinds[name]) for name in usable}
    y, n_classes = outcome.codes, len(outcome.classes)
    majority = int(np.bincount(y).max())
    found = [Reproduction((name,), _right(column, y, n_classes), len(y), majority) for name, column in codes.items()]
    if n_classes == 2:  # a number's best cut may beat its bins
        found += [Reproduction((name,), _cut_right(numbers(features[name], kinds[name]).to_numpy(), y), len(y),
                               majority) for name in usable if kinds[name] in ("numeric", "boolean", "datetime")]
    joint = _greedy(codes, outcome)
    found += [joint] if joint is not None else []
    best = max(found, key=lambda r: (r.share, -len(r.columns)), default=None)
    return best if best is not None and best.right > best.majority else None


def _reproductions(codes: dict[str, np.ndarray], cuts: dict[str, np.ndarray],
                   outcome: _Outcome) -> list[Reproduction]:
    """Every column that reproduces the target alone, then sets of columns that do it together.

    `cuts` holds the numbers of numeric columns, whose best single cut is tried on a binary target."""
    if len(outcome.codes) < MIN_REPRODUCED_ROWS:
        return []
    majority = int(np.bincount(outcome.codes).max())
    n_classes = len(outcome.classes)
    found = []
    for name, column in codes.items():
        right = _right(column, outcome.codes, n_classes)
        if n_classes == 2 and name in cuts:
            right = max(right, _cut_right(cuts[name], outcome.codes))
        single = Reproduction((name,), right, len(outcome.codes), majority)
        if single.reproduces:
            found.append(single)
    left = {name: column for name, column in codes.items() if all(name not in f.columns for f in found)}
    for _ in range(MAX_SETS):
        joint = _greedy(left, outcome)
        if joint is None or len(joint.columns) < 2 or not joint.reproduces:
            break
        found.append(joint)
        left = {name: column for name, column in left.items() if name not in joint.columns}
    return found


def _greedy(codes: dict[str, np.ndarray], outcome: _Outcome) -> Reproduction | None:
    """Add the column that gets the most rows right until the set reproduces the target (or
    MAX_JOINT columns), among the JOINT_CANDIDATES columns that do best alone; then drop any
    column the set does not need."""
    y, n_classes = outcome.codes, len(outcome.classes)
    rows = _sample(len(y), JOINT_MAX_ROWS)
    y = y[rows]
    majority = int(np.bincount(y, minlength=n_classes).max())
    gains = {name: _right(column[rows], y, n_classes) for name, column in codes.items()}
    candidates = sorted((name for name in gains if gains[name] > majority), key=lambda name: -gains[name])
    candidates = candidates[:JOINT_CANDIDATES]
    if not candidates:
        return None
    chosen: list[str] = []
    joint, right = np.zeros(len(y), dtype="int64"), majority
    while len(chosen) < MAX_JOINT:
        best, best_right, best_codes = None, right, joint
        for name in candidates:
            if name in chosen:
                continue
            combined = _combine(joint, codes[name][rows])
            trial = _right(combined, y, n_classes)
            if trial > best_right:
                best, best_right, best_codes = name, trial, combined
        if best is None:
            break
        chosen.append(best)
        joint, right = best_codes, best_right
        if Reproduction(tuple(chosen), right, len(y), majority).reproduces:
            break
    found = Reproduction(tuple(chosen), right, len(y), majority)
    if found.reproduces and len(chosen) > 1:  # keep only the columns it needs
        for name in list(chosen):
            others = [c for c in chosen if c != name]
            combined = np.zeros(len(y), dtype="int64")
            for other in others:
                combined = _combine(combined, codes[other][rows])
            without = Reproduction(tuple(others), _right(combined, y, n_classes), len(y), majority)
            if without.reproduces:
                chosen, found = others, without
    order = {name: i for i, name in enumerate(codes)}
    return Reproduction(tuple(sorted(found.columns, key=order.__getitem__)), found.right, found.rows, found.majority)


def _combine(joint: np.ndarray, column: np.ndarray) -> np.ndarray:
    """Dense codes of the pairs (joint, column)."""
    return pd.factorize(joint * (int(column.max()) + 1) + column)[0].astype("int64")


def _right(groups: np.ndarray, y: np.ndarray, n_classes: int) -> int:
    """Rows whose class is the commonest of their group; groups under MIN_GROUP_ROWS rows pooled into one."""
    sizes = np.bincount(groups)
    big = sizes >= MIN_GROUP_ROWS
    relabel = np.where(big, np.cumsum(big) - 1, int(big.sum()))  # the pool comes last
    n_groups = int(big.sum()) + 1
    pairs = relabel[groups] * n_classes + y
    if n_groups * n_classes <= 4_000_000:
        return int(np.bincount(pairs, minlength=n_groups * n_classes).reshape(n_groups, n_classes).max(axis=1).sum())
    unique, counts = np.unique(pairs, return_counts=True)
    best = np.zeros(n_groups, dtype="int64")
    np.maximum.at(best, unique // n_classes, counts)
    return int(best.sum())


def _cut_right(x: np.ndarray, y: np.ndarray) -> int:
    """Rows a binary target's best single cut of `x` gets right (missing values predict their commonest class)."""
    missing = np.isnan(x)
    right_missing = int(np.bincount(y[missing], minlength=2).max()) if missing.any() else 0
    x, y = x[~missing], y[~missing]
    if len(x) == 0:
        return right_missing
    order = np.argsort(x, kind="stable")
    x, y = x[order], y[order]
    cuts = np.concatenate([[0], np.flatnonzero(np.diff(x) != 0) + 1, [len(x)]])  # rows left of each cut
    positives_left = np.concatenate([[0], np.cumsum(y)])[cuts]
    negatives_left = cuts - positives_left
    positives, negatives = int(y.sum()), len(y) - int(y.sum())
    below_negative = negatives_left + (positives - positives_left)
    below_positive = positives_left + (negatives - negatives_left)
    return right_missing + int(max(below_negative.max(), below_positive.max()))


def _codes(values: pd.Series, kind: ColumnKind) -> np.ndarray:
    """Group numbers for a reproduction: a few values as they are, numbers in quantile bins of
    about MIN_GROUP_ROWS rows (at most FINE_BINS), other categories by level; missing is a value."""
    if values.nunique() > DISCRETE_MAX_LEVELS and kind in ("numeric", "boolean", "datetime"):
        return _bins(numbers(values, kind).to_numpy(), max(1, min(FINE_BINS, len(values) // MIN_GROUP_ROWS))).codes
    codes = pd.factorize(texts(values))[0].astype("int64")
    codes[codes < 0] = codes.max() + 1
    return codes


def _reproduction_leak(name: str, found: Reproduction, values: pd.Series, kind: ColumnKind, outcome: _Outcome,
                       pure: _Trigger | None) -> Leak:
    target = outcome.name
    right = (f"the right {target} on {found.share:.2%} of rows ({found.right:,} of {found.rows:,}; the "
             f"commonest class alone: {found.majority / found.rows:.2%})")
    if len(found.columns) == 1:
        auc = ""
        if len(outcome.classes) == 2 and kind in ("numeric", "boolean", "datetime"):
            score = _rank_auc(numbers(values, kind).to_numpy(), outcome.codes == 1)
            auc = f", ROC AUC {score:.3f}" if score is not None else ""
        return Leak(name, "strong", f"{name}: on its own, its values give {right}{auc}; a column that reproduces "
                    "the target is almost always recorded after the outcome or derived from it.")
    own = ""
    if pure is not None:
        value = "missing" if pure.value == MISSING else f"with value {pure.value}"
        own = (f" Every one of its {round(pure.share * len(outcome.codes)):,} rows {value} has {target} = "
               f"{pure.outcome} (base rate {pure.base:.1%}).")
    return Leak(name, "strong", f"{name}: taken together, {', '.join(found.columns)} give {right}, which none of "
                "them does alone; columns that jointly reproduce the target are almost always recorded with or "
                f"after the outcome (like failure modes beside a failure flag).{own}")


def _value_leak(name: str, values: pd.Series, kind: ColumnKind,
                outcome: _Outcome) -> tuple[Leak, _Trigger | None] | None:
    """A value of the column (≥ MIN_GROUP_ROWS rows) that comes (almost) only with a rare class."""
    groups = _groups(values, kind)
    if not groups.discrete:
        return None
    y, n_classes = outcome.codes, len(outcome.classes)
    counts = np.bincount(groups.codes * n_classes + y, minlength=len(groups.labels) * n_classes)
    counts = counts.reshape(len(groups.labels), n_classes)
    return _implication(name, groups, counts, outcome.classes, counts.sum(axis=0) / len(y), outcome.name)


def _auc_leak(name: str, values: pd.Series, kind: ColumnKind, outcome: _Outcome) -> Leak | None:
    """A binary target's column whose ranks alone almost separate the classes (but do not reproduce them)."""
    y = outcome.codes
    if len(outcome.classes) != 2 or min(np.bincount(y)) < 10:
        return None
    numeric = kind in ("numeric", "boolean", "datetime")
    rank = _rank_auc(numbers(values, kind).to_numpy(), y == 1) if numeric else None
    groups = _groups(values, kind)
    counts = np.bincount(groups.codes * 2 + y, minlength=len(groups.labels) * 2).reshape(-1, 2)
    auc = max(rank or 0.0, _grouped_auc(_merge_small(counts)))
    if auc < STRONG_SCORE:
        return None
    return Leak(name, "weak", f"{name}: on its own it ranks {outcome.name} with ROC AUC {auc:.3f}, though its values "
                "do not reproduce it on nearly all rows; check that it is known before the outcome.")


def _implication(name: str, groups: _Groups, counts: np.ndarray, classes: np.ndarray, base: np.ndarray,
                 target_name: object) -> tuple[Leak, _Trigger | None] | None:
    """A value of the column (≥ 20 rows) that comes (almost) only with a rare class: a warning with its numbers."""
    sizes = counts.sum(axis=1)
    purity = counts / np.maximum(sizes, 1)[:, None]
    lift = purity / np.maximum(base, 1e-12)[None, :]
    eligible = (sizes[:, None] >= MIN_GROUP_ROWS) & (base[None, :] <= 0.5) & (lift >= IMPLIED_MIN_LIFT)
    strong = eligible & (counts == sizes[:, None])
    weak = eligible & (purity >= WEAK_PURITY)
    pick = strong if strong.any() else weak
    if not pick.any():
        return None
    g, k = np.unravel_index(np.argmax(np.where(pick, sizes[:, None], -1)), pick.shape)
    value, n, hits = groups.labels[g], int(sizes[g]), int(counts[g, k])
    rows = "rows where it is missing" if value == MISSING else f"rows with value {value}"
    outcome = f"{target_name} = {classes[k]} (base rate {base[k]:.1%})"
    if strong.any():
        rest = int(counts[:, k].sum()) - hits
        others = f"{rest:,} other rows have that class too" if rest else "that class has no other rows"
        detail = (f"{name}: every one of its {n:,} {rows} has {outcome}, {lift[g, k]:.1f}× the base rate; {others}. "
                  "A value that implies a class is often just a strong predictor: check that it is known before "
                  "the outcome.")
        return Leak(name, "weak", detail), _Trigger(value, n / len(groups.codes), str(classes[k]), float(base[k]))
    detail = (f"{name}: {hits:,} of its {n:,} {rows} ({purity[g, k]:.0%}) have {outcome}, {lift[g, k]:.1f}× "
              "the base rate; check that it is known before the outcome.")
    return Leak(name, "weak", detail), None


def _siblings(features: pd.DataFrame, kinds: dict[str, ColumnKind], labels: pd.Series, leaks: dict[str, Leak],
              triggers: dict[str, _Trigger]) -> list[Leak]:
    """Unflagged rare indicators that sit in one run of like columns with strong implication leaks.

    Failure-mode flags (TWF, HDF, ... beside 'Machine failure') are recorded together; one
    of them can be as much an after-the-fact record as the others yet show no association.
    """
    as_text = {name: texts(features[name]) for name in features.columns
               if kinds.get(name) not in (None, "text") and features[name].nunique() <= DISCRETE_MAX_LEVELS}
    signatures = {name: _value_set(values) for name, values in as_text.items()}
    runs: list[list[str]] = []
    previous = None
    for name in features.columns:
        signature = signatures.get(name)
        if signature is not None and signature == previous:
            runs[-1].append(name)
        else:
            runs.append([name])
        previous = signature
    found = []
    for run in runs:
        leaking = [name for name in run if name in triggers]
        for name in run:
            if name in leaks or not leaking:
                continue
            shares = as_text[name].value_counts(normalize=True)
            for trigger in (triggers[leak] for leak in leaking):
                share = float(shares.get(trigger.value, 0.0))
                if 0 < share <= 2 * trigger.share:
                    found.append(_sibling_leak(name, as_text[name] == trigger.value, trigger, leaking, labels))
                    break
    return found


def _sibling_leak(name: str, rows: pd.Series, trigger: _Trigger, leaking: list[str], labels: pd.Series) -> Leak:
    hits = labels == trigger.outcome
    rate, base = float(hits[rows].mean()), float(hits.mean())
    alone = "hardly predicts it" if rate < 2 * base else "has too few rows to prove a leak"
    detail = (f"{name}: a rare indicator ({int(rows.sum()):,} rows with value {trigger.value}, {rows.mean():.2%}) "
              f"beside {', '.join(leaking)}, which leak {labels.name}. On its own it {alone} ({rate:.1%} of those "
              f"rows have {labels.name} = {trigger.outcome} vs {base:.1%} overall), but as a sibling of leaking "
              "columns it is probably recorded the same way, after the outcome.")
    return Leak(name, "weak", detail)


def _regression_leak(name: str, values: pd.Series, kind: ColumnKind, target: pd.Series) -> Leak | None:
    y = target.to_numpy(dtype="float64")
    if kind in ("numeric", "boolean", "datetime") and len(y) >= MIN_GROUP_ROWS:
        rho = _spearman(numbers(values, kind).to_numpy(), y)
        if rho is not None and rho >= STRONG_SCORE:
            return Leak(name, "strong", f"{name}: its ranks match those of {target.name} almost exactly "
                        f"(|Spearman| {rho:.3f}); a single column this good is usually derived from the outcome.")
    present = values.notna().to_numpy()
    keys = values[present] if pd.api.types.is_numeric_dtype(values) else texts(values[present])
    n_values = keys.nunique()
    if 2 <= n_values <= present.sum() / 2 and pd.Series(y[present]).nunique() >= 2:
        spread = pd.Series(y[present]).groupby(pd.factorize(keys)[0]).nunique()
        if (spread == 1).all():
            return Leak(name, "strong", f"{name}: {target.name} is a function of it (each of its {n_values:,} "
                        "values comes with a single target value); it is derived from the outcome or the "
                        "outcome from it.")
    return None


def _groups(values: pd.Series, kind: ColumnKind) -> _Groups:
    if values.nunique() <= DISCRETE_MAX_LEVELS:
        return _top_levels(values, DISCRETE_MAX_LEVELS, discrete=True)
    if kind in ("numeric", "boolean", "datetime"):
        return _bins(numbers(values, kind).to_numpy(), max(1, min(N_BINS, len(values) // MIN_GROUP_ROWS)))
    return _top_levels(values, TOP_LEVELS, min_rows=MIN_GROUP_ROWS)


def _top_levels(values: pd.Series, top: int, *, min_rows: int = 1, discrete: bool = False) -> _Groups:
    """Codes for the `top` commonest levels (with ≥ `min_rows` rows), one for the rest, one for missing."""
    codes, uniques = pd.factorize(texts(values))  # missing → -1
    sizes = np.bincount(codes[codes >= 0], minlength=len(uniques))
    order = np.argsort(-sizes, kind="stable")
    keep = order[sizes[order] >= min_rows][:top]
    remap = np.full(len(uniques) + 1, len(keep), dtype="int64")  # the last slot is for code -1
    remap[keep] = np.arange(len(keep))
    remap[-1] = len(keep) + 1
    labels = [str(uniques[i]) for i in keep] + [OTHER, MISSING]
    return _Groups(remap[codes], labels, discrete)


def _bins(x: np.ndarray, n_bins: int) -> _Groups:
    finite = np.isfinite(x)
    with np.errstate(all="ignore"):  # interpolating between huge values may overflow; edges stay ordered
        quantiles = np.quantile(x[finite], np.linspace(0, 1, n_bins + 1)) if finite.any() else np.array([0.0])
    edges = np.unique(quantiles[~np.isnan(quantiles)])
    inner = edges[1:-1]
    codes = np.searchsorted(inner, np.where(finite, x, 0.0), side="right")
    codes[np.isposinf(x)] = len(inner)
    codes[np.isneginf(x)] = 0
    codes[np.isnan(x)] = len(inner) + 1
    labels = [f"bin {i + 1}" for i in range(len(inner) + 1)] + [MISSING]
    return _Groups(codes.astype("int64"), labels, discrete=False)


def _merge_small(counts: np.ndarray) -> np.ndarray:
    """Pool groups under MIN_GROUP_ROWS rows into one, so tiny groups cannot look pure by chance."""
    sizes = counts.sum(axis=1)
    small = sizes < MIN_GROUP_ROWS
    if small.sum() <= 1:
        return counts
    return np.vstack([counts[~small], counts[small].sum(axis=0, keepdims=True)])


def _value_set(strings: pd.Series) -> frozenset[str] | None:
    levels = strings.dropna().unique()
    if len(levels) == 0:
        return None
    return frozenset(levels) if len(levels) <= DISCRETE_MAX_LEVELS else None


def _positive(labels: pd.Series) -> np.ndarray:
    return (labels == sorted(labels.dropna().unique())[-1]).to_numpy()


def _sample(n: int, limit: int = RANK_MAX_ROWS) -> np.ndarray:
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, limit, replace=False))


def _rank_auc(x: np.ndarray, positive: np.ndarray) -> float | None:
    """ROC AUC of the column as a score for the positive class, whichever way it points."""
    from sklearn.metrics import roc_auc_score

    keep = ~np.isnan(x)
    x, positive = x[keep], positive[keep]
    rows = _sample(len(x))
    x, positive = x[rows], positive[rows]
    n_pos = int(positive.sum())
    if n_pos == 0 or n_pos == len(x):
        return None
    auc = float(roc_auc_score(positive, x))
    return max(auc, 1 - auc)


def _grouped_auc(counts: np.ndarray) -> float:
    """ROC AUC of scoring each row by its group's positive rate (binary counts: negatives, positives):
    scikit-learn's, with each group's negatives and positives as two weighted rows."""
    from sklearn.metrics import roc_auc_score

    negatives, positives = counts[:, 0].astype(float), counts[:, 1].astype(float)
    if positives.sum() == 0 or negatives.sum() == 0:
        return 0.5
    rates = positives / np.maximum(negatives + positives, 1)
    k = len(rates)
    auc = float(roc_auc_score(np.r_[np.zeros(k), np.ones(k)], np.r_[rates, rates],
                              sample_weight=np.r_[negatives, positives]))
    return max(auc, 1 - auc)


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    keep = np.isfinite(x) & np.isfinite(y)
    rows = _sample(int(keep.sum()))
    x, y = x[keep][rows], y[keep][rows]
    if len(x) < 3 or x.min() == x.max() or y.min() == y.max():
        return None
    rho = np.corrcoef(rankdata(x), rankdata(y))[0, 1]
    return float(abs(rho)) if np.isfinite(rho) else None


def _eta(values: np.ndarray, codes: np.ndarray) -> float | None:
    """Correlation ratio: the share of the spread of `values` explained by the groups `codes`."""
    keep = np.isfinite(values)
    values, codes = values[keep], codes[keep]
    if len(values) < 3:
        return None
    with np.errstate(all="ignore"):  # huge values overflow to inf; the ratio is then undefined
        centred = values - values.mean()
        total = float((centred**2).sum())
        if not 0 < total < np.inf:
            return None
        sums = np.bincount(codes, weights=centred)
        sizes = np.bincount(codes)
        between = float((sums[sizes > 0] ** 2 / sizes[sizes > 0]).sum())
    return float(np.sqrt(min(max(between / total, 0.0), 1.0))) if np.isfinite(between) else None


def cramers_v(table: np.ndarray) -> float:
    """Cramér's V of a contingency table of counts: SciPy's `contingency.association`, kiln's only one.

    √(χ² / (n · (min(rows, columns) − 1))), without Yates' correction; 0 is no association, 1 perfect.
    Rows and columns must each hold a count (a zero row has no expected frequency).
    """
    from scipy.stats.contingency import association

    return float(min(association(np.rint(np.asarray(table)).astype(np.int64), method="cramer"), 1.0))


def _cramers_v(codes: np.ndarray, labels: pd.Series) -> float | None:
    y, classes = pd.factorize(labels)
    table = np.bincount(codes * len(classes) + y, minlength=(codes.max() + 1) * len(classes))
    table = table.reshape(-1, len(classes))
    table = table[table.sum(axis=1) > 0]
    if min(table.shape) < 2:
        return None
    return cramers_v(table)


def _maybe(measure: AssociationMeasure, value: float | None) -> Association | None:
    return None if value is None or not np.isfinite(value) else Association(measure, round(value, 6))

"""How strongly one column tells the target: the measure a profile shows beside each
column, and the evidence that a column is too good to be true (target leakage).

Everything is computed from a handful of group counts per column (its values when it
has few, its top levels, or quantile bins of numbers), so a wide table costs one cheap
pass per column. Rank-based scores use a seeded sample of rows beyond `RANK_MAX_ROWS`.
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
STRONG_SCORE = 0.99  # single-column ROC AUC, accuracy or |Spearman| this high is rarely honest
IMPLIED_MIN_LIFT = 5.0
WEAK_PURITY = 0.8
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
class _Trigger:
    """The value of a strong implication leak that always comes with `outcome`, and its share of rows."""

    value: str
    share: float
    outcome: str


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

    Strong: one column alone predicts the target almost perfectly, or one of its values
    (≥ 20 rows) always comes with a rare class. Weak: such a value comes with it ≥ 80% of
    the time, or the column is a rare indicator of the same make as strong leaks beside it.
    """
    leaks: dict[str, Leak] = {}
    triggers: dict[str, _Trigger] = {}
    labels = texts(target)
    outcome = _Outcome(target.name, *np.unique(labels.to_numpy(dtype=str), return_inverse=True))
    for name in features.columns:
        kind = kinds.get(name)
        if kind is None or kind == "text":
            continue
        if task == "regression":
            leak = _regression_leak(name, features[name], kind, target)
        else:
            leak, trigger = _class_leak(name, features[name], kind, outcome, task)
            if trigger is not None:
                triggers[name] = trigger
        if leak is not None:
            leaks[name] = leak
    for leak in _siblings(features, kinds, labels, leaks, triggers) if triggers else ():
        leaks[leak.column] = leak
    return [leaks[name] for name in features.columns if name in leaks]


def _class_leak(name: str, values: pd.Series, kind: ColumnKind, outcome: _Outcome,
                task: Task) -> tuple[Leak | None, _Trigger | None]:
    y, n_classes = outcome.codes, len(outcome.classes)
    groups = _groups(values, kind)
    counts = np.bincount(groups.codes * n_classes + y, minlength=len(groups.labels) * n_classes)
    counts = counts.reshape(len(groups.labels), n_classes)
    base = counts.sum(axis=0) / len(y)
    implied = _implication(name, groups, counts, outcome.classes, base, outcome.name) if groups.discrete else None
    if implied is not None and implied[0].strength == "strong":
        return implied
    solid = _merge_small(counts)
    if task == "binary" and min(counts.sum(axis=0)) >= 10:
        numeric = kind in ("numeric", "boolean", "datetime")
        rank = _rank_auc(numbers(values, kind).to_numpy(), y == 1) if numeric else None
        auc = max(rank or 0.0, _grouped_auc(solid))
        if auc >= STRONG_SCORE:
            return Leak(name, "strong", f"{name}: on its own it predicts {outcome.name} with ROC AUC {auc:.3f}; "
                        "a single column this good is usually recorded after the outcome or derived from it."), None
    elif task == "multiclass" and len(y) >= 50:
        accuracy = solid.max(axis=1).sum() / len(y)
        majority = base.max()
        if accuracy >= STRONG_SCORE and 1 - accuracy <= 0.1 * (1 - majority):
            return Leak(name, "strong", f"{name}: grouping rows by its values alone gives the right {outcome.name} "
                        f"for {accuracy:.1%} of rows (the majority class alone: {majority:.1%}); a single column "
                        "this good is usually recorded after the outcome or derived from it."), None
    return (implied[0], None) if implied is not None else (None, None)


def _implication(name: str, groups: _Groups, counts: np.ndarray, classes: np.ndarray, base: np.ndarray,
                 target_name: object) -> tuple[Leak, _Trigger | None] | None:
    """A value of the column (≥ 20 rows) that comes (almost) only with a rare class."""
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
        detail = (f"{name}: every one of its {n:,} {rows} has {outcome}; it is known only after the outcome "
                  "or derived from it.")
        return Leak(name, "strong", detail), _Trigger(value, n / len(groups.codes), str(classes[k]))
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


def _sample(n: int) -> np.ndarray:
    if n <= RANK_MAX_ROWS:
        return np.arange(n)
    return np.sort(np.random.default_rng(0).choice(n, RANK_MAX_ROWS, replace=False))


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

"""Per-feature drift: is a window of recent traffic distributed like the training data?

Each column gets the test that suits it: the two-sample Kolmogorov–Smirnov test for
numbers, and chi-squared on the 2×k table of counts for categories and for numbers with
few distinct values. Beside the p-value sits an effect size on a fixed scale, and the
decision needs both::

    drifted = p_value < alpha  AND  effect >= threshold

A p-value answers "could this be chance?", not "does it matter?". With 200,000 rows a
shift of 0.02 standard deviations has p < 0.01 but nothing a model would notice; with 40
rows a large shift may still miss significance. The p-value guards against noise at
small n, the effect size against trivia at large n. Both are reported, with the PSI and
the Jensen–Shannon distance on the same bins, so a reader sees why a feature was flagged.

Thresholds (`DEFAULT_THRESHOLDS`)
---------------------------------
alpha = 0.01
    Ten features checked at 0.05 raise a false alarm in 40 % of windows of unchanged
    traffic (1 − 0.95¹⁰); at 0.01 about 10 %, and the effect-size gate removes most of
    the rest.
KS D >= 0.1
    D is the largest gap between the two cumulative distributions: some cut point has 10
    percentage points more of one sample below it than of the other. For a normal
    feature D = 2Φ(d/2) − 1, so D = 0.1 is a mean shift of d ≈ 0.25 standard deviations,
    just above Cohen's (1988) "small" effect d = 0.2.
Cramér's V >= 0.1
    Cohen's (1988) "small" effect for contingency tables, w = 0.1 (V = w for a 2×k table).
PSI 0.1 / 0.2
    The population stability index rule of thumb from credit scoring (Siddiqi 2006,
    *Credit Risk Scorecards*): below 0.1 no real change, then a moderate one, and above
    0.25 a major one. kiln draws the major line at 0.2, a common rounding that calls a
    shift major a little earlier.
min_rows = 30
    The usual large-sample rule of thumb. With fewer values in either sample the result
    is reported, with its p-value, but never flagged.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

from kiln.data.association import cramers_v
from kiln.data.schema import DISCRETE_MAX_LEVELS, category_text
from kiln.errors import InvalidDataError, InvalidOptionError

MAX_LEVELS = 50  # beyond this many levels, the rarest share one "(other)" bin
OTHER = "(other)"
PSI_EPSILON = 1e-4
CATEGORICAL_KINDS = frozenset({"categorical", "boolean"})
KS_ASYMPTOTIC_ROWS = 1_000  # both samples at least this large: KS's asymptotic p-value


@dataclass(frozen=True)
class DriftThresholds:
    """The documented defaults of the drift decision; the module docstring says why."""

    alpha: float = 0.01
    ks_d: float = 0.1
    cramers_v: float = 0.1
    psi_moderate: float = 0.1
    psi_major: float = 0.2
    min_rows: int = 30


DEFAULT_THRESHOLDS = DriftThresholds()


@dataclass(frozen=True)
class FeatureDrift:
    """One column's drift between the reference (training) and current (served) samples.

    `kind` is the column's kind as given; `test` says how it was tested ("chi2" for a
    numeric column with few distinct values). `effect` is KS D for the KS test and
    Cramér's V for chi-squared. `severity` grades a drifted feature by PSI ("major"
    above 0.2, else "moderate") and is "none" when the feature is not drifted: PSI's own
    sampling noise is about (bins − 1)·(1/n_reference + 1/n_current), 0.3 for ten bins
    and 30 current rows, so PSI alone would call chance "major". `bins`, and the two
    share lists aligned with them, are for plots. `n_*` count non-missing values.
    """

    column: str
    kind: str
    test: str
    statistic: float
    p_value: float
    psi: float
    js_distance: float
    effect: float
    drifted: bool
    severity: str
    n_reference: int
    n_current: int
    reference_shares: list[float]
    current_shares: list[float]
    bins: list[str]
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values for JSON; a number that is not finite (no test was possible) is None."""
        return {key: _json_safe(value) for key, value in asdict(self).items()}


def psi(reference_shares: Sequence[float] | np.ndarray, current_shares: Sequence[float] | np.ndarray, *,
        epsilon: float = PSI_EPSILON) -> float:
    """Population stability index, Σ (c − r)·ln(c / r), over shared bins.

    Shares (or counts: each list is divided by its sum) below `epsilon` are raised to it,
    so a bin present in one sample only, such as a new category, adds a large but finite
    term. NaN when either sample is empty.
    """
    shares = _share_pair(reference_shares, current_shares)
    if shares is None:
        return math.nan
    reference, current = (np.maximum(s, epsilon) for s in shares)
    return float(np.sum((current - reference) * np.log(current / reference)))


def js_distance(reference_shares: Sequence[float] | np.ndarray, current_shares: Sequence[float] | np.ndarray) -> float:
    """Jensen–Shannon distance in base 2: 0 for equal distributions, 1 for disjoint ones.

    Unlike PSI it needs no epsilon and is bounded, so it compares across features.
    NaN when either sample is empty.
    """
    shares = _share_pair(reference_shares, current_shares)
    if shares is None:
        return math.nan
    with np.errstate(invalid="ignore"):  # near-equal shares can round to a tiny negative before the root
        distance = float(jensenshannon(shares[0], shares[1], base=2))
    return 0.0 if math.isnan(distance) else min(distance, 1.0)


def numeric_drift(column: str, reference: np.ndarray | pd.Series | Sequence[float],
                  current: np.ndarray | pd.Series | Sequence[float], *,
                  alpha: float = DEFAULT_THRESHOLDS.alpha, bins: int = 10) -> FeatureDrift:
    """Drift of a numeric column: two-sample KS test, effect KS D, PSI and JS on quantile bins.

    NaN and ±inf are left out (missing values have their own check). The bins are
    quantiles of the reference, so each holds about the same reference share and PSI
    weighs the whole range evenly; the first and last are open, so current values beyond
    the reference range land there. A reference with at most 10 distinct values
    (`DISCRETE_MAX_LEVELS`) is tested as categories instead: KS assumes continuous data
    (ties make it conservative) and quantile bins would collapse onto a few values.
    """
    _check_alpha(alpha)
    if isinstance(bins, bool) or not isinstance(bins, int | np.integer) or bins < 2:
        raise InvalidOptionError(f"bins must be an integer of at least 2; got {bins!r}.")
    ref = _finite(reference, column, "reference")
    cur = _finite(current, column, "current")
    levels = np.unique(ref)
    if len(levels) <= DISCRETE_MAX_LEVELS:
        note = f"{len(levels)} distinct reference values: tested as categories" if len(levels) else ""
        ref_counts = pd.Series(ref).value_counts()
        cur_counts = pd.Series(cur).value_counts()
        values = np.union1d(ref_counts.index.to_numpy(), cur_counts.index.to_numpy())
        table = np.vstack([ref_counts.reindex(values, fill_value=0).to_numpy(),
                           cur_counts.reindex(values, fill_value=0).to_numpy()])
        return _chi2_drift(column, "numeric", [category_text(v) for v in values], table, alpha, note)

    edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
    # side="left" counts the edges below a value, so bin i is (edge[i-1], edge[i]].
    table = np.vstack([np.bincount(np.searchsorted(edges, sample, side="left"), minlength=len(edges) + 1)
                       for sample in (ref, cur)])
    if len(cur):
        with warnings.catch_warnings():  # SciPy falls back to the asymptotic p-value and says so; that is fine
            warnings.filterwarnings("ignore", message=".*Exact calculation unsuccessful.*", category=RuntimeWarning)
            # The exact p-value costs ~10 ms at thousands of rows, where the asymptotic one is as good.
            result = stats.ks_2samp(ref, cur, method="asymp" if min(len(ref), len(cur)) >= KS_ASYMPTOTIC_ROWS
                                    else "auto")
        statistic, p_value = float(result.statistic), float(result.pvalue)
    else:
        statistic = p_value = math.nan
    return _result(column, "numeric", "ks", statistic, p_value, statistic, DEFAULT_THRESHOLDS.ks_d, alpha,
                   table, _bin_labels(edges), "")


def categorical_drift(column: str, reference: Sequence[Any] | np.ndarray | pd.Series,
                      current: Sequence[Any] | np.ndarray | pd.Series, *,
                      alpha: float = DEFAULT_THRESHOLDS.alpha) -> FeatureDrift:
    """Drift of a categorical column: chi-squared on the 2×k table of counts, effect Cramér's V.

    The levels are the union of both samples; a level the reference never saw counts
    like any other and so raises chi-squared, V and PSI. Missing values are left out.
    With more than 50 levels the 49 most common (in both samples together) are kept and
    the rest share an "(other)" bin, so expected counts stay large enough for the test.
    """
    _check_alpha(alpha)
    ref_counts, cur_counts = _level_counts(reference), _level_counts(current)
    labels = list(ref_counts.index) + [level for level in cur_counts.index if level not in ref_counts.index]
    table = np.vstack([ref_counts.reindex(labels, fill_value=0).to_numpy(),
                       cur_counts.reindex(labels, fill_value=0).to_numpy()])
    return _chi2_drift(column, "categorical", labels, table, alpha, "")


def drift_table(reference: pd.DataFrame, current: pd.DataFrame, kinds: dict[str, str], *,
                alpha: float = DEFAULT_THRESHOLDS.alpha) -> list[FeatureDrift]:
    """Drift of every numeric, categorical or boolean column in `kinds`, in its order.

    Booleans are tested as two categories; other kinds (datetime, text) are skipped.
    """
    _check_alpha(alpha)
    tested = {column: kind for column, kind in kinds.items() if kind == "numeric" or kind in CATEGORICAL_KINDS}
    for name, frame in (("reference", reference), ("current", current)):
        missing = [column for column in tested if column not in frame.columns]
        if missing:
            raise InvalidDataError(
                f"The {name} data lacks {len(missing)} column(s) to check for drift: {', '.join(map(repr, missing))} "
                f"(it has {len(frame.columns)} columns). Log and compare the same input columns the model uses.")
    return [numeric_drift(column, reference[column], current[column], alpha=alpha) if kind == "numeric"
            else categorical_drift(column, reference[column], current[column], alpha=alpha)
            for column, kind in tested.items()]


def column_psi(column: str, reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, kind: str, *,
               bins: int = 10) -> float:
    """PSI alone, on the bins `numeric_drift` / `categorical_drift` use, without their tests."""
    ref_codes, cur_codes, n_bins = bin_codes(column, reference, current, kind, bins=bins)
    return psi(*(np.bincount(c[c >= 0], minlength=n_bins) for c in (ref_codes, cur_codes)))


def bin_codes(column: str, reference: np.ndarray | pd.Series, current: np.ndarray | pd.Series, kind: str, *,
              bins: int = 10) -> tuple[np.ndarray, np.ndarray, int]:
    """Each value's bin (-1: missing) on the bins the drift tests use, and how many bins there are.

    For drift over time, where only PSI is drawn: the values are binned once and each time
    slice is a bincount (a KS test per column per slice was most of a monitoring call's time).
    """
    if kind not in CATEGORICAL_KINDS:
        ref_values = pd.Series(reference, copy=False).astype("float64").to_numpy()
        ref = ref_values[np.isfinite(ref_values)]
        levels = np.unique(ref)
        cur_values = pd.Series(current, copy=False).astype("float64").to_numpy()
        if len(levels) > DISCRETE_MAX_LEVELS:
            edges = np.unique(np.quantile(ref, np.linspace(0.0, 1.0, bins + 1)[1:-1]))
            ref_codes, cur_codes = (np.where(np.isfinite(v), np.searchsorted(edges, v, side="left"), -1)
                                    for v in (ref_values, cur_values))
            return ref_codes, cur_codes, len(edges) + 1
        reference = pd.Series(np.where(np.isfinite(ref_values), ref_values, np.nan))
        current = pd.Series(np.where(np.isfinite(cur_values), cur_values, np.nan))
    ref_series = pd.Series(reference, copy=False)
    cur_series = pd.Series(current, copy=False)
    ref_text = ref_series.map(category_text).where(ref_series.notna())
    cur_text = cur_series.map(category_text).where(cur_series.notna())
    levels = pd.Index(pd.concat([ref_text, cur_text]).dropna().unique())
    return levels.get_indexer(ref_text), levels.get_indexer(cur_text), len(levels)


def _chi2_drift(column: str, kind: str, labels: list[str], table: np.ndarray, alpha: float, note: str) -> FeatureDrift:
    labels, table, lumped = _lump_rare(labels, table)
    notes = [note] if note else []
    if lumped:
        notes.append(f"{lumped + MAX_LEVELS - 1} levels: the {MAX_LEVELS - 1} most common are kept, "
                     f"the rest share {OTHER!r}")
    if table.sum(axis=1).min() == 0:
        statistic = p_value = effect = math.nan
    elif table.shape[1] < 2:
        statistic, p_value, effect = 0.0, 1.0, 0.0  # one level in both samples: nothing can differ
    else:
        # No Yates correction: it over-corrects (p too large) and would not match the effect size.
        result = stats.chi2_contingency(table, correction=False)
        statistic, p_value, effect = float(result.statistic), float(result.pvalue), _balanced_cramers_v(table)
    return _result(column, kind, "chi2", statistic, p_value, effect, DEFAULT_THRESHOLDS.cramers_v, alpha,
                   table, labels, "; ".join(notes))


def _balanced_cramers_v(table: np.ndarray) -> float:
    """Cramér's V of the 2×k table as if both samples had the same size.

    On raw counts V shrinks like √(n_current / n_reference) when the reference is the
    larger sample, so the same shift would read as smaller the more training rows were
    kept. Each row is scaled to the same total (reference × n_current, current ×
    n_reference: exact integers) and V is the one Cramér's V (data.association.cramers_v,
    SciPy's): ½·√Σ (r − c)² / m on the shares r, c with m = (r + c)/2, the plain V when the
    sizes are equal, 0 for equal distributions, 1 for disjoint ones.
    """
    counts = np.rint(table).astype(np.int64)
    n_reference, n_current = counts.sum(axis=1)
    balanced = np.vstack([counts[0] * n_current, counts[1] * n_reference])
    balanced = balanced[:, balanced.sum(axis=0) > 0]
    return cramers_v(balanced) if balanced.shape[1] >= 2 else 0.0


def _result(column: str, kind: str, test: str, statistic: float, p_value: float, effect: float, threshold: float,
            alpha: float, table: np.ndarray, labels: list[str], note: str) -> FeatureDrift:
    n_reference, n_current = (int(n) for n in table.sum(axis=1))
    minimum = DEFAULT_THRESHOLDS.min_rows
    notes = [note] if note else []
    enough = min(n_reference, n_current) >= minimum
    if not enough:
        notes.append(f"only {n_current:,} current and {n_reference:,} reference values; at least {minimum} of each "
                     "are needed to decide, so it is not flagged")
    shares = [row / row.sum() if row.sum() else np.zeros(len(row)) for row in table]
    psi_value = psi(table[0], table[1])
    drifted = bool(enough and p_value < alpha and effect >= threshold)
    severity = ("major" if psi_value > DEFAULT_THRESHOLDS.psi_major else "moderate") if drifted else "none"
    return FeatureDrift(column=column, kind=kind, test=test, statistic=statistic, p_value=p_value, psi=psi_value,
                        js_distance=js_distance(table[0], table[1]), effect=effect, drifted=drifted,
                        severity=severity, n_reference=n_reference, n_current=n_current,
                        reference_shares=[float(s) for s in shares[0]],
                        current_shares=[float(s) for s in shares[1]], bins=labels, note="; ".join(notes))


def _lump_rare(labels: list[str], table: np.ndarray) -> tuple[list[str], np.ndarray, int]:
    """Keep the MAX_LEVELS - 1 levels most common in both samples together; lump the rest.

    The choice uses the pooled counts only, which say nothing about how a level splits
    between the samples. Keeping the levels with the largest share in either sample
    instead picks exactly the levels where chance made the samples differ, and
    same-distribution samples with 200 levels were then flagged.
    """
    if len(labels) <= MAX_LEVELS:
        return labels, table, 0
    keep = np.sort(np.argsort(-table.sum(axis=0), kind="stable")[: MAX_LEVELS - 1])
    rest = np.setdiff1d(np.arange(len(labels)), keep)
    lumped = np.column_stack([table[:, keep], table[:, rest].sum(axis=1)])
    return [labels[i] for i in keep] + [OTHER], lumped, len(rest)


def _level_counts(values: Sequence[Any] | np.ndarray | pd.Series) -> pd.Series:
    """Counts per level as text (so 1, 1.0 and "1" agree), most common first; missing left out."""
    counts = pd.Series(values, copy=False).value_counts(dropna=True)
    counts.index = [category_text(level) for level in counts.index]
    return counts.groupby(level=0, sort=False).sum().sort_values(ascending=False, kind="stable")


def _finite(values: np.ndarray | pd.Series | Sequence[float], column: str, which: str) -> np.ndarray:
    series = pd.Series(values, copy=False)
    try:
        numbers = series.astype("float64").to_numpy()
    except (TypeError, ValueError) as error:
        raise InvalidDataError(
            f"Column {column!r} was given as numeric but its {which} values are not numbers "
            f"(dtype {series.dtype}, e.g. {series.dropna().iloc[:3].tolist()!r}). "
            "Pass its kind as 'categorical', or convert it to numbers.") from error
    return numbers[np.isfinite(numbers)]


def _bin_labels(edges: np.ndarray) -> list[str]:
    """Interval labels, with just enough digits that neighbouring edges read differently."""
    for digits in range(4, 18):
        text = [f"{edge:.{digits}g}" for edge in edges]
        if len(set(text)) == len(text):
            break
    middle = [f"({low}, {high}]" for low, high in itertools.pairwise(text)]
    return [f"≤ {text[0]}", *middle, f"> {text[-1]}"]


def _share_pair(reference: Sequence[float] | np.ndarray,
                current: Sequence[float] | np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    pair = [np.asarray(shares, dtype="float64") for shares in (reference, current)]
    if pair[0].ndim != 1 or pair[0].shape != pair[1].shape:
        raise InvalidDataError(f"Shares must be two lists of the same length over the same bins; got shapes "
                               f"{pair[0].shape} and {pair[1].shape}.")
    if any((~np.isfinite(s)).any() or (s < 0).any() for s in pair):
        raise InvalidDataError("Shares must be finite and non-negative; got "
                               f"{pair[0].tolist()[:5]} and {pair[1].tolist()[:5]}.")
    totals = [float(s.sum()) for s in pair]
    if min(totals) == 0:
        return None
    return pair[0] / totals[0], pair[1] / totals[1]


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise InvalidOptionError(f"alpha is a significance level between 0 and 1 (such as 0.01); got {alpha!r}.")


def _json_safe(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value

"""A profile of a table: what each column holds, how it relates to the target, and
what the quality checks found — the answer to "is this data fit to learn from?".

`profile_table` returns a `Profile`, one result object with a table view (`frame()`),
a JSON view (`to_dict()`) and plots (`figures()`); the HTML report renders those.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from kiln.data.association import Association, association, numbers, reproduction, texts
from kiln.data.checks import Finding, duplicated_rows, feature_schema, read_target, run_checks
from kiln.data.load import read_table
from kiln.data.schema import DISCRETE_MAX_LEVELS, Column, category_text
from kiln.data.target import Target
from kiln.optional import require
from kiln.types import ColumnKind, Task

if TYPE_CHECKING:
    import plotly.graph_objects as go

Role = Literal["feature", "identifier", "target", "datetime", "text", "constant", "empty"]

TOP_LEVELS = 10
MAX_BINS = 30
LABEL_CHARS = 80
IQR_FENCE = 1.5
_SUMMARY = ("mean", "std", "min", "q25", "median", "q75", "max")


@dataclass(frozen=True)
class Distribution:
    """Numbers: a histogram (`edges` has one more entry than `counts`); categories: the
    commonest `levels` with their `counts`, and `other` rows in the remaining levels."""

    counts: list[int]
    edges: list[float] | list[str] | None = None
    levels: list[str] | None = None
    other: int = 0


@dataclass(frozen=True)
class ColumnProfile:
    """One column: what kiln reads it as, what it holds, and how it tells the target."""

    name: str
    dtype: str
    kind: str
    role: Role
    missing: int
    missing_share: float
    distinct: int
    summary: dict[str, float | None] | None = None
    distribution: Distribution | None = None
    outliers: int | None = None  # beyond 1.5 IQR from the quartiles
    outlier_share: float | None = None
    association: Association | None = None


@dataclass(frozen=True)
class TargetProfile:
    """The target: its task and class balance (classification) or distribution (regression)."""

    name: str
    task: Task | None  # None when it cannot be learned (a finding DQ018 says why)
    missing: int
    classes: list[str] | None = None
    counts: list[int] | None = None
    shares: list[float] | None = None
    summary: dict[str, float | None] | None = None
    distribution: Distribution | None = None


@dataclass(frozen=True)
class JointLeak:
    """Columns DQ004 flagged together: rows their joint values get right, and each column's alone.

    What reconciles a strong leak with a weak bar in the association chart: a failure-mode flag
    marks few rows, so alone it barely beats the commonest class (AI4I's TWF: ROC AUC 0.56), while
    the flags taken together get nearly every row right.
    """

    columns: list[str]
    right: int  # rows right when each group of rows sharing the columns' values predicts its commonest class
    rows: int
    majority: int  # rows right by the commonest class alone
    alone: dict[str, int]  # column → rows right by that column alone (its values, or a number's best cut)

    @property
    def share(self) -> float:
        return self.right / self.rows


@dataclass(frozen=True)
class ProfileFigures:
    """Plotly figures of a profile: the target, the association ranking and one per column."""

    target: go.Figure | None
    association: go.Figure | None
    columns: dict[str, go.Figure] = field(default_factory=dict)


@dataclass(frozen=True)
class Profile:
    """Everything `kiln profile` knows about a table."""

    rows: int
    columns: int
    duplicated_rows: int
    memory_bytes: int
    target: TargetProfile | None
    column_profiles: list[ColumnProfile]
    findings: list[Finding]
    joint_leaks: list[JointLeak] = field(default_factory=list)

    def frame(self) -> pd.DataFrame:
        """One row per column: role, kind, missing share, distinct values, summary, outliers, association."""
        rows = []
        for c in self.column_profiles:
            summary = c.summary or {}
            rows.append({"column": c.name, "role": c.role, "kind": c.kind, "dtype": c.dtype, "missing": c.missing,
                         "missing_share": c.missing_share, "distinct": c.distinct,
                         **{key: summary.get(key) for key in ("mean", "std", "min", "median", "max")},
                         "outliers": c.outliers, "outlier_share": c.outlier_share,
                         "association": c.association.value if c.association else None,
                         "measure": c.association.measure if c.association else None})
        return pd.DataFrame(rows)

    def findings_frame(self) -> pd.DataFrame:
        """One row per finding, most severe first."""
        return pd.DataFrame([f.to_dict() for f in self.findings],
                            columns=["code", "severity", "title", "column", "detail", "advice"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types only: NaN and infinities become None, numpy scalars Python ones."""
        return _json_safe({"rows": self.rows, "columns": self.columns, "duplicated_rows": self.duplicated_rows,
                           "memory_bytes": self.memory_bytes,
                           "target": asdict(self.target) if self.target else None,
                           "column_profiles": [asdict(c) for c in self.column_profiles],
                           "findings": [f.to_dict() for f in self.findings],
                           "joint_leaks": [asdict(j) for j in self.joint_leaks]})

    def figures(self, *, max_columns: int | None = None) -> ProfileFigures:
        """Bar charts of the target, of each column's distribution (the first `max_columns`
        columns that have one, or all) and of the association ranking."""
        go = _plotly()
        target = None
        if self.target is not None and self.target.classes is not None:
            target = _bar_figure(go, self.target.classes, self.target.counts or [],
                                 f"Class balance of {self.target.name}")
        elif self.target is not None and self.target.distribution is not None:
            target = _distribution_figure(go, self.target.distribution, f"Distribution of {self.target.name}")
        charted = [c for c in self.column_profiles if c.distribution is not None and c.role != "target"]
        columns = {c.name: _distribution_figure(go, c.distribution, c.name) for c in charted[:max_columns]}
        return ProfileFigures(target, _association_figure(go, self.column_profiles, self.target), columns)


def profile_table(frame: pd.DataFrame, *, target: str | None = None, compare: pd.DataFrame | None = None,
                  ignore: Iterable[str] = (), n_folds: int = 5) -> Profile:
    """Profile `frame`: per-column statistics, association with `target`, and the coded findings.

    `compare` (e.g. the test file) adds train/test skew findings; `ignore` silences codes.
    """
    frame = read_table(frame)
    task_target, _ = read_target(frame, target)
    schema = feature_schema(frame, target)
    findings = run_checks(frame, target=target, compare=compare, ignore=ignore, n_folds=n_folds, schema=schema)
    labelled = frame[target].notna() if task_target is not None else None
    kept = {column.name: column for column in schema.columns}
    profiles = [_column_profile(frame, name, kept.get(name), schema.dropped.get(name), task_target, labelled)
                for name in frame.columns]
    return Profile(rows=len(frame), columns=frame.shape[1], duplicated_rows=duplicated_rows(frame, schema),
                   memory_bytes=int(frame.memory_usage(deep=True).sum()),
                   target=_target_profile(frame[target], task_target) if target is not None else None,
                   column_profiles=profiles, findings=findings,
                   joint_leaks=_joint_leaks(frame, schema, task_target, findings))


def _joint_leaks(frame: pd.DataFrame, schema: Any, target: Target | None, findings: list[Finding]) -> list[JointLeak]:
    """The joint figure of the columns DQ004 flagged, when there are several (measured only then)."""
    strong = list(dict.fromkeys(f.column for f in findings if f.code == "DQ004" and f.column))
    kinds = {c.name: c.kind for c in schema.columns}
    strong = [name for name in strong if name in kinds]
    if target is None or target.task == "regression" or len(strong) < 2:
        return []
    rows = frame[target.name].notna()
    features, y = frame.loc[rows, strong], frame.loc[rows, target.name]
    together = reproduction(features, kinds, y)
    if together is None or len(together.columns) < 2:
        return []
    alone = {}
    for name in together.columns:
        single = reproduction(features[[name]], kinds, y)
        alone[name] = single.right if single is not None else together.majority
    return [JointLeak(list(together.columns), together.right, together.rows, together.majority, alone)]


def _column_profile(frame: pd.DataFrame, name: str, column: Column | None, dropped: str | None,
                    target: Target | None, labelled: pd.Series | None) -> ColumnProfile:
    values = frame[name]
    kind: ColumnKind = column.kind if column is not None else _dtype_kind(values)
    role = _role(column, dropped)
    missing = int(values.isna().sum())
    base = {"name": name, "dtype": str(values.dtype), "kind": kind, "role": role, "missing": missing,
            "missing_share": missing / len(values), "distinct": _distinct(values)}
    if role in ("identifier", "empty"):
        return ColumnProfile(**base)
    discrete = column.discrete if column is not None else base["distinct"] <= DISCRETE_MAX_LEVELS
    extra: dict[str, Any] = {"distribution": _distribution(values, kind, discrete)}
    if kind == "numeric":
        x = numbers(values, kind)
        finite = x[np.isfinite(x)]
        extra["summary"] = _summary(finite)
        if base["distinct"] > 2 and len(finite):  # in a 0/1 indicator every rare value would be an "outlier"
            outliers = _outliers(finite.to_numpy())
            extra.update(outliers=outliers, outlier_share=outliers / max(len(values) - missing, 1))
    if target is not None and labelled is not None and role in ("feature", "datetime"):
        extra["association"] = association(values[labelled], frame.loc[labelled, target.name],
                                           task=target.task, kind=kind)
    return ColumnProfile(**base, **extra)


def _outliers(finite: np.ndarray) -> int:
    """Values beyond IQR_FENCE interquartile ranges outside the quartiles (Tukey's fences)."""
    with np.errstate(all="ignore"):
        q1, q3 = np.quantile(finite, [0.25, 0.75])
        fence = IQR_FENCE * (q3 - q1)
        return int(((finite < q1 - fence) | (finite > q3 + fence)).sum())


def _target_profile(values: pd.Series, target: Target | None) -> TargetProfile:
    missing = int(values.isna().sum())
    present = values.dropna()
    if target is None or target.task == "regression":
        kind: ColumnKind = "numeric" if target is not None else _dtype_kind(values)
        x = numbers(present, kind) if kind == "numeric" else None
        return TargetProfile(values.name, target.task if target else None, missing,
                             summary=_summary(x[np.isfinite(x)]) if x is not None else None,
                             distribution=_distribution(present, kind, discrete=x is None) if len(present) else None)
    classes = [category_text(c) for c in target.classes or []]
    counts = texts(present).value_counts()
    class_counts = [int(counts.get(c, 0)) for c in classes]
    return TargetProfile(values.name, target.task, missing, classes, class_counts,
                         [n / max(len(present), 1) for n in class_counts])


def _role(column: Column | None, dropped: str | None) -> Role:
    if dropped is not None:
        return "empty" if dropped.startswith("all values") else (
            "constant" if dropped.startswith("constant") else "identifier")
    if column is None:  # the schema describes every column but the target
        return "target"
    return "datetime" if column.kind == "datetime" else "text" if column.kind == "text" else "feature"


def _dtype_kind(values: pd.Series) -> ColumnKind:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "numeric" if pd.api.types.is_numeric_dtype(values) else "categorical"


def _distinct(values: pd.Series) -> int:
    try:
        return int(values.nunique())
    except TypeError:  # unhashable cells
        return int(values.dropna().astype(str).nunique())


def _distribution(values: pd.Series, kind: ColumnKind, discrete: bool) -> Distribution | None:
    if kind in ("numeric", "datetime") and not discrete:
        x = numbers(values, kind)
        finite = x[np.isfinite(x)].to_numpy()
        if finite.size == 0:
            return None
        counts, edges = _histogram(finite)
        if kind == "datetime":
            return Distribution(counts.tolist(), edges=[pd.Timestamp(e, unit="s", tz="UTC").isoformat() for e in edges])
        return Distribution(counts.tolist(), edges=edges.tolist())
    counts = texts(values.dropna()).value_counts().sort_index().sort_values(ascending=False, kind="stable")
    top = counts.iloc[:TOP_LEVELS]
    levels = [level if len(level) <= LABEL_CHARS else level[: LABEL_CHARS - 1] + "…" for level in top.index]
    return Distribution([int(n) for n in top], levels=levels, other=int(counts.sum() - top.sum()))


def _histogram(finite: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Equal-width bins, built so that a range as wide as the float type allows cannot overflow."""
    bins = int(min(MAX_BINS, max(1, math.ceil(math.sqrt(finite.size)))))
    low, high = float(finite.min()), float(finite.max())
    if low == high:
        low, high = low - 0.5, high + 0.5
    steps = np.linspace(0.0, 1.0, bins + 1)
    edges = np.unique(low * (1 - steps) + high * steps)  # no `high - low`, which can overflow
    if len(edges) < 2:  # a magnitude too large for ±0.5 to show
        return np.array([finite.size]), np.array([low, high])
    codes = np.clip(np.searchsorted(edges, finite, side="right") - 1, 0, len(edges) - 2)
    return np.bincount(codes, minlength=len(edges) - 1), edges


def _summary(finite: pd.Series) -> dict[str, float | None] | None:
    if finite.empty:
        return None
    with np.errstate(all="ignore"):
        q25, median, q75 = np.quantile(finite, [0.25, 0.5, 0.75])
        values = (finite.mean(), finite.std() if len(finite) > 1 else 0.0, finite.min(), q25, median, q75,
                  finite.max())
    return {key: float(v) for key, v in zip(_SUMMARY, values, strict=True)}


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _plotly() -> Any:
    return require("plotly.graph_objects", purpose="Profile figures", package="plotly")


_LAYOUT = {"template": "none", "height": 280, "margin": {"l": 50, "r": 20, "t": 40, "b": 60},
           "font": {"family": "system-ui, sans-serif", "size": 12}, "showlegend": False}
_COLOUR = "#3b6ea5"


def _safe(text: object) -> str:
    """Plotly renders a subset of HTML in labels, so user text is escaped to show as typed."""
    return html.escape(str(text), quote=False)


def _bar_figure(go: Any, labels: list[str], counts: list[int], title: str) -> go.Figure:
    figure = go.Figure(go.Bar(x=[_safe(label) for label in labels], y=counts, marker_color=_COLOUR))
    figure.update_layout(**_LAYOUT, title=_safe(title), xaxis={"type": "category"}, yaxis_title="rows")
    return figure


def _distribution_figure(go: Any, distribution: Distribution, title: str) -> go.Figure:
    if distribution.levels is not None:
        labels, counts = list(distribution.levels), list(distribution.counts)
        if distribution.other:
            labels.append("(other levels)")
            counts.append(distribution.other)
        return _bar_figure(go, labels, counts, title)
    edges = distribution.edges or []
    if edges and isinstance(edges[0], str):
        x: list[Any] = list(edges[:-1])
        bar = go.Bar(x=x, y=distribution.counts, marker_color=_COLOUR, offset=0)
    else:
        lefts = np.asarray(edges[:-1], dtype=float)
        widths = np.diff(np.asarray(edges, dtype=float))
        bar = go.Bar(x=(lefts + widths / 2).tolist(), y=distribution.counts, width=widths.tolist(),
                     marker_color=_COLOUR)
    figure = go.Figure(bar)
    figure.update_layout(**_LAYOUT, title=_safe(title), bargap=0.02, yaxis_title="rows")
    return figure


def _association_figure(go: Any, columns: list[ColumnProfile], target: TargetProfile | None) -> go.Figure | None:
    rated = sorted((c for c in columns if c.association is not None),
                   key=lambda c: (c.association.value if c.association else 0.0, c.name))
    if not rated or target is None:
        return None
    figure = go.Figure()
    for measure in sorted({c.association.measure for c in rated if c.association}):
        shown = [c for c in rated if c.association and c.association.measure == measure]
        figure.add_trace(go.Bar(x=[c.association.value for c in shown if c.association],
                                y=[_safe(c.name) for c in shown], orientation="h", name=_safe(measure)))
    layout = {**_LAYOUT, "height": max(280, 24 * len(rated) + 100), "showlegend": True,
              "margin": {"l": 200, "r": 20, "t": 40, "b": 40}}
    figure.update_layout(**layout, title=_safe(f"Association with {target.name}"), barmode="overlay",
                         yaxis={"type": "category", "categoryorder": "array",
                                "categoryarray": [_safe(c.name) for c in rated]},
                         xaxis={"range": [0, 1]})
    return figure

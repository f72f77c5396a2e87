"""The profile report: one HTML page that renders a `Profile` for a reader who is
learning the craft, so every section first says what it shows and how to read it."""

from __future__ import annotations

from kiln.data.percent import percent
from kiln.data.profile import Profile, TargetProfile
from kiln.report.html import Html, Section, badge, escape, figure, paragraph, render_page, table

MAX_COLUMN_CHARTS = 100  # beyond this a page gets slow to open; the table still lists every column


def render_profile(profile: Profile, *, title: str = "Data profile") -> str:
    """The whole profile as a self-contained HTML page (opens offline)."""
    figures = profile.figures(max_columns=MAX_COLUMN_CHARTS)
    charted = sum(c.distribution is not None and c.role != "target" for c in profile.column_profiles)
    sections = [_overview(profile), _findings(profile)]
    if profile.target is not None:
        sections.append(_target(profile.target, figures.target))
    sections.append(_columns(profile, figures.columns, charted))
    if profile.target is not None:
        sections.append(_association(profile, figures.association))
    target = f" · target: {profile.target.name}" if profile.target else ""
    return render_page(title, sections, subtitle=f"{profile.rows:,} rows × {profile.columns:,} columns{target}")


def _overview(profile: Profile) -> Section:
    counts = {severity: sum(f.severity == severity for f in profile.findings) for severity in ("error", "warning",
                                                                                                "info")}
    facts = [("Rows", profile.rows), ("Columns", profile.columns), ("Duplicated rows", profile.duplicated_rows),
             ("Memory", f"{profile.memory_bytes / 2**20:,.1f} MiB"),
             ("Target", profile.target.name if profile.target else "none given"),
             ("Task", (profile.target.task or "cannot be learned") if profile.target else "—"),
             ("Findings", Html(" ".join(str(badge(f"{n} {severity}", severity)) for severity, n in counts.items())))]
    intro = ("The size of the table and how many problems the checks found. Duplicated rows are rows equal to an "
             "earlier one in every column except identifiers; copies that land in both training and validation "
             "folds make scores look better than they are.")
    return Section("Overview", intro, table([{"fact": k, "value": v} for k, v in facts], ["fact", "value"],
                                           headers={"fact": "", "value": ""}))


def _findings(profile: Profile) -> Section:
    intro = ("Each finding is a coded check: errors stop `kiln train` until fixed or silenced, warnings deserve a "
             "look, and info notes what kiln handles by itself. Silence a code you have judged harmless with "
             "`--ignore`, e.g. `kiln profile DATA --ignore DQ004`.")
    if not profile.findings:
        return Section("Findings", intro, paragraph("No problems found."))
    rows = [{"code": f.code, "severity": badge(f.severity, f.severity), "title": f.title, "column": f.column,
             "detail": f.detail, "advice": f.advice, "silence": Html(f"<code>--ignore {escape(f.code)}</code>")}
            for f in profile.findings]
    return Section("Findings", intro, table(rows, ["code", "severity", "title", "column", "detail", "advice",
                                                   "silence"]))


def _target(target: TargetProfile, chart: object) -> Section:
    parts = []
    if chart is not None:
        parts.append(figure(chart, div_id="figure-target"))
    if target.task is None:
        intro = "The target cannot be learned as it is; the findings say why (code DQ018)."
    elif target.classes is not None:
        intro = ("How often each class occurs. When one class is rare (under 5%), accuracy misleads: a model that "
                 "never predicts it still scores high, so train with --metric pr_auc (average precision) or log_loss, "
                 "and the leaderboard ranks by it.")
        rows = [{"class": c, "rows": n, "share": percent(s)}
                for c, n, s in zip(target.classes, target.counts or [], target.shares or [], strict=True)]
        parts.append(table(rows, ["class", "rows", "share"]))
    else:
        intro = ("The distribution of the numeric target. A long tail or a few extreme values dominate "
                 "squared-error metrics such as RMSE; compare the mean with the median.")
        parts.append(table([{"statistic": k, "value": v} for k, v in (target.summary or {}).items()],
                           ["statistic", "value"]))
    if target.missing:
        parts.append(paragraph(f"{target.missing:,} rows have no target value; training drops them."))
    return Section(f"Target: {target.name}", intro, "".join(parts))


def _columns(profile: Profile, charts: dict[str, object], charted: int) -> Section:
    intro = ("One row per column. The role says what kiln does with it: features are learned from; identifiers, "
             "constant and empty columns are dropped. Outliers are values beyond 1.5 × the interquartile range "
             "from the quartiles: check that they are real, not typos or placeholder codes such as -999.")
    rows = []
    for c in profile.column_profiles:
        summary = c.summary or {}
        rows.append({"column": c.name, "role": c.role, "kind": c.kind, "missing": percent(c.missing_share),
                     "distinct": c.distinct, **{k: summary.get(k) for k in ("mean", "std", "min", "median", "max")},
                     "outliers": c.outliers,
                     "outlier share": None if c.outlier_share is None else percent(c.outlier_share)})
    parts = [table(rows, list(rows[0]))]
    grid = "".join(figure(chart, div_id=f"figure-column-{i}") for i, chart in enumerate(charts.values()))
    parts.append(Html(f'<div class="grid">{grid}</div>'))
    if charted > len(charts):
        parts.append(paragraph(f"Charts are shown for the first {len(charts)} of {charted} columns."))
    return Section("Columns", intro, "".join(parts))


def _association(profile: Profile, chart: object) -> Section:
    intro = ("How strongly each column on its own tells the target. The measure depends on the kinds compared, so "
             "compare bars of one colour: ROC AUC for numbers against two classes (0.5 is no signal, 1 perfect); "
             "η, Cramér's V or |Spearman| otherwise (0 is none, 1 perfect). A single column near 1 is more often a "
             "leak than a discovery.")
    if chart is None:
        return Section("Association with the target", intro, paragraph("No column could be measured."))
    body = figure(chart, div_id="figure-association")
    return Section("Association with the target", intro, Html(body + _joint(profile)))


def _joint(profile: Profile) -> str:
    """The joint figure of columns DQ004 flagged together, beside their one-column bars."""
    if not profile.joint_leaks:
        return ""
    measured = {c.name: c.association for c in profile.column_profiles if c.association is not None}
    parts = []
    for joint in profile.joint_leaks:
        def row(label: str, right: int, alone: str = "", n: int = joint.rows) -> dict[str, str]:
            return {"columns": label, "rows right": f"{right:,} of {n:,}", "share right": f"{right / n:.2%}",
                    "association alone": alone}

        rows = [row(", ".join(joint.columns) + " together", joint.right)]
        rows += [row(name, right, f"{measured[name].measure} {measured[name].value:.2f}" if name in measured else "")
                 for name, right in joint.alone.items()]
        rows.append(row("the commonest class for every row", joint.majority))
        weakest = min(joint.alone, key=joint.alone.__getitem__)
        parts.append(str(paragraph(
            f"Why DQ004 calls {', '.join(joint.columns)} strong leaks while the chart above may rank them weakly: "
            "the chart measures each column on its own, DQ004 also takes a few together. Each group of rows sharing "
            f"the columns' values predicts its commonest class; together they get {joint.share:.2%} of rows right, "
            f"against {joint.majority / joint.rows:.2%} for the commonest class alone, while {weakest} alone gets "
            f"{joint.alone[weakest] / joint.rows:.2%}. A column that marks a few rows of the rare class with "
            "certainty ranks weakly alone; several that together mark nearly all of them reproduce the target, "
            "which is what columns recorded with or after the outcome do.")))
        parts.append(str(table(rows, ["columns", "rows right", "share right", "association alone"])))
    return "<h3>Columns that reproduce the target together (DQ004)</h3>" + "".join(parts)

"""What the CLI prints: Rich tables of findings, leaderboards, evaluations, models and monitoring."""

from __future__ import annotations

from typing import Any

import pandas as pd


def print_findings(findings: list, *, title: str) -> None:
    """The coded findings as a table: code, severity, column, what was found."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console()
    if not findings:
        console.print(f"[green]{title}: no findings[/green]")
        return
    table = Table(title=title, title_justify="left", show_lines=False)
    for column in ("code", "severity", "column", "found"):
        table.add_column(column, overflow="fold")
    tone = {"error": "red", "warning": "yellow", "info": "blue"}
    for f in findings:
        table.add_row(f.code, f"[{tone[f.severity]}]{f.severity}[/]", escape(f.column or "—"), escape(f.detail))
    console.print(table)
    console.print("[dim]Silence a check with --ignore CODE; the report explains each one.[/dim]")


def print_leaderboard(frame: pd.DataFrame, *, title: str, limit: int = 15) -> None:
    """A Rich table of the leaderboard's top rows, scores with their intervals."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in ("#", "model", "score", "95% CI", "fit s", "ms/1k rows", "status"):
        table.add_column(column, justify="left" if column in ("model", "status") else "right")
    for _, row in frame.head(limit).iterrows():
        failed = pd.isna(row["score"])
        interval = "" if failed or pd.isna(row["ci_low"]) else f"{row['ci_low']:.4f}–{row['ci_high']:.4f}"
        used = " *" if bool(row.get("used", False)) else ""
        table.add_row(str(row["rank"]), f"{row['model']}{used}", "—" if failed else f"{row['score']:.4f}",
                      interval, f"{row['fit_s']:.1f}", f"{1000 * row['predict_s_per_1k']:.1f}",
                      str(row["status"]))
    Console().print(table)
    Console().print("[dim]* the model used for prediction; scores are cross-validated, "
                    "intervals are 95% across folds[/dim]")
    if len(frame) > limit:
        Console().print(f"[dim]… and {len(frame) - limit} more (kiln leaderboard shows all with --all)[/dim]")


def print_evaluation(ev: Any, *, title: str) -> None:
    """Scores with their 95% intervals beside the baseline, then the paired-test verdicts."""
    from rich.console import Console
    from rich.table import Table

    from kiln.report.evaluation import beats_baseline, interval, metric_name, number
    from kiln.report.plots import metric_label

    console = Console()
    table = Table(title=title, title_justify="left")
    for column in ("metric", "value", "95% CI", "baseline", "vs baseline"):
        table.add_column(column, justify="left" if column in ("metric", "vs baseline") else "right", no_wrap=True)
    verdicts = {True: "[green]beats it[/]", False: "[yellow]not clearly[/]", None: ""}
    for score in ev.scores:
        arrow = "↑" if score.greater_is_better else "↓"
        table.add_row(f"{metric_name(score.metric, ev.classes)} {arrow}", number(score.value),
                      interval(score.ci_low, score.ci_high), number(score.baseline), verdicts[beats_baseline(score)])
    console.print(table)
    console.print("[dim]↑ higher is better, ↓ lower. 95% bootstrap intervals over rows; the baseline predicts the "
                  "majority class or the mean.[/dim]")
    if ev.threshold is not None:
        choice = ev.threshold
        console.print(f"decision threshold {choice.threshold:.3f} (objective {metric_label(choice.objective)}; "
                      f"a false positive costs {choice.cost_fp:g}, a false negative {choice.cost_fn:g})",
                      highlight=False)
    for test in ev.tests:
        console.print(f"· {test.verdict}", highlight=False, markup=False)
    for comparison in ev.comparisons:
        console.print(f"· From training (cross-validation folds): {comparison.verdict}", highlight=False,
                      markup=False)


def print_registered(registered: Any) -> None:
    """One line after `kiln train --register`: the name, the new version, its alias and its address."""
    aliases = ", ".join(registered.aliases) or "no alias"
    print(f"registered: {registered.name} version {registered.version} ({aliases}); "
          f"models:/{registered.name}/{registered.version}")


def print_models(models: list) -> None:
    """`kiln models list`: one row per registered model."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not models:
        from kiln.store.location import describe, hint

        console.print(f"No registered models in {describe()}; register one with kiln train DATA --target COL "
                      f"--register NAME, or kiln models register BUNDLE --name NAME.{hint()}", markup=False)
        return
    table = Table(title="Registered models", title_justify="left")
    for column in ("name", "versions", "champion", "challenger", "champion CV score", "updated (UTC)"):
        table.add_column(column, justify="right" if column in ("versions", "champion CV score") else "left")
    for m in models:
        score = "—" if m.champion_score is None else f"{m.metric} {m.champion_score:.4f}"
        table.add_row(m.name, str(m.versions), m.aliases.get("champion", "—"), m.aliases.get("challenger", "—"),
                      score, f"{m.updated:%Y-%m-%d %H:%M}")
    console.print(table)


def print_model_details(details: Any) -> None:
    """`kiln models show NAME`: the versions with aliases and CV scores, then the audit history."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    versions = Table(title=f"{details.name}: versions", title_justify="left")
    for column in ("version", "aliases", "CV score", "95% CI", "created (UTC)", "run"):
        versions.add_column(column, justify="right" if column in ("version", "CV score") else "left")
    for v in details.versions:
        score = "—" if v.score is None else f"{v.metric} {v.score:.4f}"
        interval = "" if v.ci_low is None or v.ci_high is None else f"{v.ci_low:.4f}–{v.ci_high:.4f}"
        versions.add_row(v.version, ", ".join(v.aliases), score, interval, f"{v.created:%Y-%m-%d %H:%M:%S}",
                         v.run_id or "")
    console.print(versions)
    history = Table(title=f"{details.name}: audit history", title_justify="left")
    for column in ("when (UTC)", "action", "alias", "from → to", "who", "why"):
        history.add_column(column, overflow="fold")
    for e in details.audit:
        history.add_row(f"{e.at:%Y-%m-%d %H:%M:%S}", e.action, e.alias, f"{e.from_version or '—'} → {e.to_version}",
                        e.actor, e.reason)
    console.print(history if details.audit else "[dim]No audit entries.[/dim]")


def print_alias_change(entry: Any) -> None:
    """One line after a promotion or rollback: which alias moved from which version to which."""
    print(f"{entry.model}: {entry.alias} {entry.from_version or '—'} → {entry.to_version} ({entry.action}, "
          f"by {entry.actor}: {entry.reason})")


def print_monitor(result: Any) -> None:
    """`kiln monitor`'s verdict: status, alerts, drift per feature, live performance."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    console = Console(stderr=False)
    colour = {"ok": "green", "alert": "red", "no data": "yellow"}[result.status]
    console.print(f"[bold]{escape(result.name)}[/] v{result.version}: [bold {colour}]{result.status}[/] — "
                  f"{result.rows:,} served rows, {result.labelled:,} labelled")
    if result.rows == 0:
        from kiln.store.location import describe, hint

        console.print(f"No served rows of {result.name} in the prediction log of {describe()}.{hint()}", markup=False)
    for alert in result.alerts:
        console.print(f"  [red]ALERT[/] {escape(alert.message)}")
    table = Table(title="Feature drift (decided on effect size and p-value)", show_lines=False)
    for name in ("feature", "test", "effect", "p-value", "PSI", "severity", "drifted"):
        table.add_column(name, justify="left" if name in ("feature", "test", "severity") else "right")
    for f in sorted(result.features, key=lambda f: (not f.drifted, -f.psi)):
        table.add_row(escape(f.column), f.test, f"{f.effect:.3f}", f"{f.p_value:.1e}", f"{f.psi:.3f}", f.severity,
                      "[red]yes[/]" if f.drifted else "no")
    if result.features:
        console.print(table)
    overall = result.overall
    if overall is not None:
        real = (f"{overall.value:.4f} [{overall.ci_low:.4f}, {overall.ci_high:.4f}]" if overall.value is not None
                else "no labels yet")
        estimate = f"{overall.estimated:.4f}" if overall.estimated is not None else "—"
        cv = result.cv
        champion = f"{cv['score']:.4f} [{cv['low']:.4f}, {cv['high']:.4f}]" if cv.get("score") is not None else "—"
        console.print(f"live {overall.metric}: {real} · estimated (CBPE): {estimate} · champion CV: {champion}")


def print_retrain(result: Any) -> None:
    """`kiln retrain`'s outcome in two lines: what happened to which version, and the gate's reason."""
    d = result.decision
    if result.promoted:
        head = (f"promoted: {result.name} version {result.challenger_version} is the champion "
                f"(was {result.champion_version})")
    else:
        head = (f"kept: {result.name} champion stays version {result.champion_version}; challenger version "
                f"{result.challenger_version} registered" + (" (--promote never)" if d.promote else ""))
    print(head)
    print(f"  {d.reason}")

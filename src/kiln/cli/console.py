"""What the CLI prints: Rich tables of findings, leaderboards, evaluations, models and monitoring."""

from __future__ import annotations

from typing import Any

# The leaderboard and evaluation tables live in kiln.cli.scoreboard (fitted to the terminal); re-exported.
from kiln.cli.scoreboard import print_evaluation as print_evaluation
from kiln.cli.scoreboard import print_leaderboard as print_leaderboard


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
    for column, grams in (getattr(result, "new_ngrams", None) or {}).items():
        if grams:
            shown = ", ".join(f"{g['ngram']} ({g['messages']:,}, {g['share']:.0%})" for g in grams[:10])
            console.print(f"new frequent n-grams in '{column}' (never in training): {shown}", markup=False)
    overall = result.overall
    if overall is not None:
        real = (f"{overall.value:.4f} [{overall.ci_low:.4f}, {overall.ci_high:.4f}]" if overall.value is not None
                else f"— ({getattr(overall, 'value_note', None) or 'no labels yet'})")
        why = getattr(overall, "estimate_note", None)
        estimate = f"{overall.estimated:.4f}" if overall.estimated is not None else f"—{f' ({why})' if why else ''}"
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

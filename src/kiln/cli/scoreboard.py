"""The leaderboard and the evaluation as terminal tables that fit the terminal (80 columns and up).

Rich fits a table too wide for the terminal by cutting every column's text, the interval
and the verdict included ("0.930…", "not clearly"). Here the columns that matter (rank,
model, score, interval, status) are never cut: a long model name wraps inside its cell,
and when the table is still too wide the fit and predict times are left out (and the
table says so; `kiln leaderboard --csv` keeps them). A verdict is a whole phrase, and the
reading of a weak score is a whole sentence under the table.

An ensemble that greedy selection built from a single member *is* that member (same
predictions, same score): it is shown once, on the member's row, with a line saying why.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from kiln.ensemble.single_member import single_member

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

TIMES = ("fit s", "ms/1k rows")  # left out, last first, when the table is too wide


def _metric_cell(row: pd.Series, key: str, decimals: int) -> str:
    """A metric's mean over the row's folds or windows, its 95% interval on the line below (both whole)."""
    value = row.get(key)
    if value is None or pd.isna(value):
        return "—"
    low, high = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    interval = "" if low is None or high is None or pd.isna(low) else f"\n{low:.{decimals}f}–{high:.{decimals}f}"
    return f"{value:.{decimals}f}{interval}"


def _leaderboard_table(rows: pd.DataFrame, title: str, columns: list[str],
                       metrics: dict[str, tuple[str, int]] | None = None) -> Table:
    from rich.table import Table

    metrics = metrics or {}
    table = Table(title=title, title_justify="left")
    for column in columns:
        if column == "model":
            table.add_column(column, overflow="fold", ratio=1)  # a long name wraps; it is never cut
        elif column == "status" and metrics:  # a forecaster's long statuses wrap between words
            table.add_column(column, justify="left")
        else:
            table.add_column(column, justify="left" if column == "status" else "right", no_wrap=True)
    labels = {label: (key, decimals) for key, (label, decimals) in metrics.items()}
    for number, (_, row) in enumerate(rows.iterrows(), start=1):
        failed = pd.isna(row["score"])
        per_1k = row.get("predict_s_per_1k")
        cells = {"#": str(number), "model": f"{row['model']}{' *' if bool(row.get('used', False)) else ''}",
                 "score": "—" if failed else f"{row['score']:.4f}",
                 "95% CI": "" if failed or pd.isna(row["ci_low"]) else f"{row['ci_low']:.4f}–{row['ci_high']:.4f}",
                 "fit s": f"{row['fit_s']:.1f}",
                 "ms/1k rows": "—" if per_1k is None or pd.isna(per_1k) else f"{1000 * per_1k:.1f}",
                 "status": str(row["status"])}
        for label, (key, decimals) in labels.items():
            cells[label] = _metric_cell(row, key, decimals)
        table.add_row(*(cells[c] for c in columns))
    return table


def _natural_width(console: Console, table: Table) -> int:
    from rich.measure import Measurement

    table.expand = False
    return Measurement.get(console, console.options.update(width=10_000), table).maximum


def print_leaderboard(frame: pd.DataFrame, *, title: str, limit: int = 15, console: Console | None = None) -> None:
    """The leaderboard's top rows, scores with their intervals, fitted to the console's width."""
    from rich.console import Console

    console = console or Console()
    # A frame may name its own metric columns (a forecaster's MASE, WQL, sMAPE): frame.attrs["metrics"] maps
    # each column to its label and decimals, and attrs["note"] says how the scores were obtained.
    metrics = {key: (label, int(decimals)) for key, (label, decimals) in frame.attrs.get("metrics", {}).items()}
    note = frame.attrs.get("note", "scores are cross-validated, intervals are 95% across folds")
    times = tuple(frame.attrs.get("times", TIMES))
    board, member = single_member(frame)
    rows = board.head(limit)
    scores = [label for label, _ in metrics.values()] if metrics else ["score", "95% CI"]
    columns = ["#", "model", *scores, *times, "status"]
    table = _leaderboard_table(rows, title, columns, metrics)
    dropped: list[str] = []
    for column in reversed(times):
        if _natural_width(console, table) <= console.width:
            break
        columns.remove(column)
        dropped.append(column)
        table = _leaderboard_table(rows, title, columns, metrics)
    console.print(table)
    console.print(f"[dim]* the model used for prediction; {note}[/dim]", highlight=False)
    if member is not None:
        console.print(f"[dim]Ensemble selection kept {member} alone: that ensemble is {member} itself (same "
                      "predictions, same score), so it is listed once.[/dim]", highlight=False)
    if dropped:
        what = "Fit and predict times are" if times == TIMES else f"The {', '.join(reversed(dropped))} column is"
        console.print(f"[dim]{what} left out at {console.width} columns; a wider terminal or "
                      "kiln leaderboard --csv shows them.[/dim]", highlight=False)
    if len(board) > limit:
        console.print(f"[dim]… and {len(board) - limit} more (kiln leaderboard shows all with --all)[/dim]")


VERDICTS = {True: "[green]better[/]", False: "[yellow]not clearly better[/]", None: ""}


def print_evaluation(ev: Any, *, title: str, console: Console | None = None) -> None:
    """Scores with their 95% intervals beside the baseline, then the paired-test verdicts, in whole sentences."""
    from rich.console import Console
    from rich.table import Table

    from kiln.report.evaluation import beats_baseline, interval, metric_name, number, threshold_traded
    from kiln.report.plots import metric_label

    console = console or Console()
    table = Table(title=title, title_justify="left")
    for column in ("metric", "value", "95% CI", "baseline", "vs baseline"):
        if column == "metric":  # a long name wraps between words; numbers and verdicts are never cut
            table.add_column(column, justify="left", overflow="fold", ratio=1)
        else:
            table.add_column(column, justify="left" if column == "vs baseline" else "right", no_wrap=True)
    traded = {s.metric for s in threshold_traded(ev)}
    weak = []
    for score in ev.scores:
        arrow = "↑" if score.greater_is_better else "↓"
        verdict = beats_baseline(score)
        name = metric_name(score.metric, ev.classes)
        if verdict is False and score.metric not in traded:
            weak.append(name)
        table.add_row(f"{name} {arrow}", number(score.value), interval(score.ci_low, score.ci_high).replace(" – ", "–"),
                      number(score.baseline), VERDICTS[verdict])
    console.print(table)
    console.print("[dim]↑ higher is better, ↓ lower. 95% bootstrap intervals over rows; the baseline predicts the "
                  "majority class or the mean.[/dim]")
    if weak:
        console.print(f"On {', '.join(weak)} the 95% interval reaches the baseline, so the model is not clearly "
                      "better than the baseline there.", highlight=False, markup=False)
    if ev.threshold is not None:
        choice = ev.threshold
        costs = (f"; a false positive costs {choice.cost_fp:g}, a false negative {choice.cost_fn:g}"
                 if choice.objective == "cost" else "")
        console.print(f"Decision threshold {choice.threshold:.3f} (objective {metric_label(choice.objective)}"
                      f"{costs}).", highlight=False)
        if traded:
            names = ", ".join(metric_name(m, ev.classes) for m in sorted(traded))
            console.print(f"On {names} the interval reaches the baseline because of that threshold: it was chosen "
                          f"for {metric_label(choice.objective)}, not for {names}.", highlight=False, markup=False)
    for test in ev.tests:
        console.print(f"· {test.verdict}", highlight=False, markup=False)
    for comparison in ev.comparisons:
        console.print(f"· From training (cross-validation folds): {comparison.verdict}", highlight=False,
                      markup=False)

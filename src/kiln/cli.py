"""The `kiln` command: a thin Typer shell over the Python API. No logic lives here.

Errors kiln raises on purpose (`KilnError`) print one line and exit with code 2.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from kiln.errors import KilnError

app = typer.Typer(name="kiln", help="From a table to a deployed, monitored model.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

EXIT_BAD_INPUT = 2
_DEBUG = {"on": False}


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False) -> None:
    """From a table to a deployed, monitored model."""
    _DEBUG["on"] = debug


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except KilnError as exc:
        if _DEBUG["on"]:
            raise
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


@app.command()
def train(
    data: Annotated[str, typer.Argument(help="Training table: .csv, .parquet or .jsonl.")],
    target: Annotated[str, typer.Option("--target", "-t", help="Column to predict.")],
    task: Annotated[str, typer.Option(help="auto, binary, multiclass or regression.")] = "auto",
    metric: Annotated[Optional[str], typer.Option(  # noqa: UP045 (Typer needs Optional)
        help="Selection metric: roc_auc, log_loss, accuracy, balanced_accuracy, f1, rmse, mae, r2.")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the whole command.")] = 60.0,
    out: Annotated[Optional[Path], typer.Option(help="Bundle folder (default: KILN_HOME/bundles/...).")] = None,  # noqa: UP045
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data → same model.")] = 0,
    max_trials: Annotated[Optional[int], typer.Option(help="Stop after this many configurations.")] = None,  # noqa: UP045
    ignore: Annotated[Optional[list[str]], typer.Option(help="Silence a data check by its code, e.g. DQ004.")] = None,  # noqa: UP045
    cost_fp: Annotated[Optional[float], typer.Option(help="Binary: cost of a false alarm.")] = None,  # noqa: UP045
    cost_fn: Annotated[Optional[float], typer.Option(help="Binary: cost of a missed positive, e.g. 20.")] = None,  # noqa: UP045
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train, rank and ensemble models; write a model bundle."""
    started = time.time()
    with _user_errors():
        from kiln.console import Reporter, RichReporter, print_leaderboard
        from kiln.settings import default_bundle_path
        from kiln.training import TrainSpec, train_model

        spec = TrainSpec(target=target, task=task, metric=metric, time_limit=time_limit,  # type: ignore[arg-type]
                         seed=seed, max_trials=max_trials, ignore=tuple(ignore or ()), cost_fp=cost_fp,
                         cost_fn=cost_fn)
        model = train_model(data, spec, Reporter() if quiet else RichReporter(), started=started)
        path = model.save(out or default_bundle_path(Path(data).stem))
        if not quiet:
            print_leaderboard(model.leaderboard(), title=f"Leaderboard ({model.metric}, {spec.time_limit:g}s)")
        cv = model.manifest["cv"]
        typer.echo(f"model: {cv['model']}  {cv['metric']} {cv['score']:.4f} "
                   f"[{cv['ci_low']:.4f}, {cv['ci_high']:.4f}]  in {time.time() - started:.1f}s")
        typer.echo(f"bundle: {path}")


@app.command()
def profile(
    data: Annotated[str, typer.Argument(help="Table to profile: .csv, .parquet or .jsonl.")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="The column to predict.")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Print findings and columns as JSON.")] = False,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Silence a check by its code, e.g. DQ004.")] = None,  # noqa: UP045
    compare: Annotated[Optional[str], typer.Option(help="A second table (e.g. test) to check for skew.")] = None,  # noqa: UP045
) -> None:
    """Is the data fit to learn from? Coded checks, column roles, an HTML report.

    Exits 1 when a check of severity "error" remains (so CI can gate on it).
    """
    with _user_errors():
        import json

        from kiln.console import print_findings
        from kiln.data.load import read_table
        from kiln.data.profile import profile_table
        from kiln.output import write_text
        from kiln.report.profile import render_profile
        from kiln.settings import default_report_path

        table = read_table(data)
        result = profile_table(table, target=target, compare=read_table(compare) if compare else None,
                               ignore=ignore or ())
        path = write_text(render_profile(result, title=f"Data profile of {Path(data).name}"),
                          out or default_report_path(Path(data).stem, "profile"))
        if as_json:
            typer.echo(json.dumps({**result.to_dict(), "report": str(path)}, indent=2))
        else:
            typer.echo(f"{result.rows:,} rows × {result.columns:,} columns"
                       + (f"; target '{target}'" if target else ""))
            print_findings(result.findings, title="Findings")
            typer.echo(f"report: {path}")
        if any(f.severity == "error" for f in result.findings):
            raise typer.Exit(1)


@app.command()
def predict(
    model: Annotated[str, typer.Argument(help="Model bundle folder.")],
    data: Annotated[str, typer.Argument(help="Table to predict: .csv, .parquet or .jsonl.")],
    out: Annotated[Path, typer.Option(help="Predictions file (.csv, .parquet or .jsonl).")],
) -> None:
    """Predict every row of DATA; columns `prediction` and `proba_<class>`, in input order."""
    with _user_errors():
        import kiln
        from kiln.output import write_table

        loaded = kiln.load(model)
        frame = loaded.predictions_frame(data)
        for warning in loaded.last_contract_report_.warnings():
            typer.echo(f"warning: {warning}", err=True)
        write_table(frame, out)
        typer.echo(f"{len(frame):,} predictions written to {out}")


@app.command()
def leaderboard(
    model: Annotated[str, typer.Argument(help="Model bundle folder.")],
    show_all: Annotated[bool, typer.Option("--all", help="Show every trial.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Show every trial's cross-validated score with its 95% interval."""
    with _user_errors():
        import kiln
        from kiln.console import print_leaderboard

        loaded = kiln.load(model)
        frame = loaded.leaderboard()
        if as_csv:
            frame.to_csv(sys.stdout, index=False)
            return
        print_leaderboard(frame, title=f"Leaderboard of {model} ({loaded.metric})",
                          limit=len(frame) if show_all else 15)


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="Model bundle folder.")],
    data: Annotated[str, typer.Argument(help="Labelled table the model did not train on: .csv, .parquet or .jsonl.")],
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Print scores, verdicts and threshold as JSON.")] = False,
) -> None:
    """Score a model on new labelled data: every metric with a 95% interval, a baseline, plots, an HTML report."""
    with _user_errors():
        import json

        import kiln
        from kiln.console import print_evaluation
        from kiln.data.load import read_table
        from kiln.evaluate.explain import sample_contributions
        from kiln.evaluate.result import evaluate_model
        from kiln.output import write_text
        from kiln.report.evaluation import MAX_SHAP_ROWS, evaluation_json, model_card, render_evaluation
        from kiln.settings import default_report_path

        loaded = kiln.load(model)
        table = read_table(data)
        result = evaluate_model(loaded, table)
        card = model_card(loaded, evaluated_on=f"{Path(data).name} ({len(table):,} rows)")
        contributions = sample_contributions(loaded, table, MAX_SHAP_ROWS)
        page = render_evaluation(result, title=f"Evaluation of {loaded.target.name} on {Path(data).name}",
                                 model_card=card, leaderboard=loaded.leaderboard(), contributions=contributions)
        path = write_text(page, out or default_report_path(Path(data).stem, "evaluation"))
        contract = loaded.last_contract_report_
        for warning in contract.warnings() if contract is not None else []:
            typer.echo(f"warning: {warning}", err=True)
        if as_json:
            typer.echo(json.dumps({**evaluation_json(result), "report": str(path)}, indent=2))
        else:
            print_evaluation(result, title=f"{loaded.target.name} on {Path(data).name} ({len(table):,} rows)")
            typer.echo(f"report: {path}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

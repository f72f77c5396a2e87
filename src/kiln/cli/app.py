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

from kiln.cli.help import ReadableGroup, show_version
from kiln.errors import KilnError

app = typer.Typer(name="kiln", help="From a table to a deployed, monitored model.", cls=ReadableGroup,
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

EXIT_BAD_INPUT = 2
_DEBUG = {"on": False}


@app.callback()
def _options(debug: Annotated[bool, typer.Option("--debug", help="Show the traceback of an error.")] = False,
             version: Annotated[bool, typer.Option("--version", callback=show_version, is_eager=True,
                                                   help="Print kiln's version and exit.")] = False) -> None:
    """From a table to a deployed, monitored model."""
    from kiln.store.tracking import silence_mlflow_output

    _DEBUG["on"] = debug
    silence_mlflow_output()


@contextmanager
def _user_errors() -> Iterator[None]:
    try:
        yield
    except KilnError as exc:
        if _DEBUG["on"]:  # the traceback, then the same line and exit code as without --debug
            import traceback

            traceback.print_exc()
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None


def _refuse_options(options: dict[str, object], kind: str, allowed: frozenset[str] = frozenset()) -> None:
    """A kind-specific option given to a kind that does not take it is a mistake, not something to ignore."""
    from kiln.errors import InvalidOptionError

    extra = sorted(set(options) - allowed)
    if extra:
        flags = ", ".join("--" + name.replace("_", "-") for name in extra)
        raise InvalidOptionError(f"{flags} {'does' if len(extra) == 1 else 'do'} not apply to a {kind} model; "
                                 "drop it or choose the --task it belongs to (see kiln train --help).")


def _echo_outcome(outcome: object, *, as_json: bool) -> None:
    import json

    if as_json:
        path = outcome.path  # type: ignore[attr-defined]
        typer.echo(json.dumps({**outcome.data, **({"report": str(path)} if path else {})},  # type: ignore[attr-defined]
                              indent=2, default=str))
        return
    for line in outcome.lines:  # type: ignore[attr-defined]
        typer.echo(line)
    if outcome.path is not None:  # type: ignore[attr-defined]
        typer.echo(f"report: {outcome.path}")  # type: ignore[attr-defined]


def _train_kind(kind: object, data: str, *, target: str | None, task: str, options: dict[str, object],
                time_limit: float, seed: int, out: Path | None, quiet: bool, register: str | None,
                started: float) -> None:
    import kiln
    from kiln.settings import default_bundle_path
    from kiln.training.progress import Reporter, RichReporter

    trainer = kind.hook("train")  # type: ignore[attr-defined]
    _refuse_options(options, kind.name, trainer.options)  # type: ignore[attr-defined]
    model = trainer.train(data, target=target, task=task, options=options, time_limit=time_limit, seed=seed,
                          reporter=Reporter() if quiet else RichReporter(), started=started)
    path = kiln.save(model, out or default_bundle_path(Path(data).stem))
    for line in trainer.summary(model):
        typer.echo(line)
    typer.echo(f"bundle: {path}")
    if register:
        from kiln.cli.console import print_registered
        from kiln.store.registry import register as register_bundle

        registering = time.time()
        print_registered(register_bundle(path, register))
        typer.echo(f"registered in {time.time() - registering:.1f}s (not counted in --time-limit)")


@app.command()
def train(
    data: Annotated[str, typer.Argument(help="Training table: .csv, .parquet or .jsonl (--task image: a folder).")],
    target: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--target", "-t", help="Column to predict (not for --task recommend; --task image: the label column).")] = None,
    task: Annotated[str, typer.Option(
        help="auto, binary, multiclass, regression, forecast, recommend or image.")] = "auto",
    metric: Annotated[Optional[str], typer.Option(  # noqa: UP045 (Typer needs Optional)
        help="Selection metric: roc_auc, pr_auc (average precision), log_loss, accuracy, balanced_accuracy, f1, "
             "rmse, mae, r2.")] = None,
    time_limit: Annotated[float, typer.Option("--time-limit", help="Seconds for the whole command.")] = 60.0,
    out: Annotated[Optional[Path], typer.Option(help="Bundle folder (default: KILN_HOME/bundles/...).")] = None,  # noqa: UP045
    seed: Annotated[int, typer.Option(help=(
        "Random seed. The same seed and data repeat a run only when the time limit cuts no trial short "
        "(same machine load, or --max-trials well inside --time-limit); skipped or truncated trials make "
        "runs differ."))] = 0,
    max_trials: Annotated[Optional[int], typer.Option(help="Stop after this many configurations.")] = None,  # noqa: UP045
    max_rows: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="Search on a sample of this many rows (stratified), then refit on all "
             "(default: what the time limit allows).")] = None,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Silence a data check by its code, e.g. DQ004.")] = None,  # noqa: UP045
    cost_fp: Annotated[Optional[float], typer.Option(help="Binary: cost of a false alarm.")] = None,  # noqa: UP045
    cost_fn: Annotated[Optional[float], typer.Option(help="Binary: cost of a missed positive, e.g. 20.")] = None,  # noqa: UP045
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
    text_column: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        help="Treat this column as free text (repeatable), whatever inference says.")] = None,
    reject_below: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Answer out_of_scope below a confidence: auto (chosen on out-of-fold predictions to reach "
             "--reject-precision) or a number P in (0, 1).")] = None,
    reject_precision: Annotated[float, typer.Option(help="Precision --reject-below auto aims at.")] = 0.9,
    reject_label: Annotated[str, typer.Option(help="The reserved label of rejected rows.")] = "out_of_scope",
    text_embeddings: Annotated[bool, typer.Option(
        help="Sentence embeddings of text columns as features for every learner (when the kiln-ml\\[text] "
             "extra is installed).")] = True,
    register: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--register", help="Register the bundle under this model name (first version: models:/NAME@champion).")] = None,
    ray: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--ray", help="Run trials on a Ray cluster: auto, local, HOST:PORT or ray://HOST:10001 "
                      "(pip install 'kiln-ml\\[ray]').")] = None,
    time_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast, recommend: the timestamp column.")] = None,
    id_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast: the series id column (absent: one series).")] = None,
    horizon: Annotated[Optional[int], typer.Option(help="forecast: steps to forecast.")] = None,  # noqa: UP045
    frequency: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast: pandas offset alias, e.g. D, MS, B (default: inferred).")] = None,
    quantiles: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast: comma-separated levels (default 0.1,0.2,...,0.9).")] = None,
    known_future: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast: covariates known for the horizon, COL,COL (default: inferred and reported).")] = None,
    user_column: Annotated[Optional[str], typer.Option(help="recommend: the user id column.")] = None,  # noqa: UP045
    item_column: Annotated[Optional[str], typer.Option(help="recommend: the item id column.")] = None,  # noqa: UP045
    rating_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="recommend: a rating or weight column, used as confidence.")] = None,
    item_features: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="recommend: a table of item features (item column + features), for cold items.")] = None,
    min_rating: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="recommend: ratings below this are not positives.")] = None,
    split: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="recommend: how validation is cut: last (each user's last interactions, default) or time.")] = None,
    path_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="image: the column of image paths, when DATA is a table.")] = None,
    skip_bad: Annotated[bool, typer.Option(
        "--skip-bad", help="image: report and skip unreadable images instead of stopping.")] = False,
    network: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--network/--no-network", help="image: also train the convolutional network (the vision extra; "
                                       "default: when torch is installed).")] = None,
    augment: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="image: the network's augmentation: shift (default), rotate, flip or none.")] = None,
) -> None:
    """Train, rank and ensemble models; write a model bundle."""
    started = time.time()
    with _user_errors():
        import kiln
        from kiln.kinds import for_task

        given = {"time_column": time_column, "id_column": id_column, "horizon": horizon, "frequency": frequency,
                 "quantiles": quantiles, "known_future": known_future, "user_column": user_column,
                 "item_column": item_column, "rating_column": rating_column, "item_features": item_features,
                 "min_rating": min_rating, "split": split, "path_column": path_column, "skip_bad": skip_bad or None,
                 "network": network, "augment": augment}
        options = {key: value for key, value in given.items() if value is not None}
        kind = for_task(task)
        if "train" in kind.hooks:  # every kind but tabular trains through its hook
            if ray is not None:  # refused by a kind whose trainer does not take it, never ignored
                options["ray"] = ray
            _train_kind(kind, data, target=target, task=task, options=options, time_limit=time_limit, seed=seed,
                        out=out, quiet=quiet, register=register, started=started)
            return
        _refuse_options(options, kind.name)
        if target is None:
            from kiln.errors import InvalidOptionError

            raise InvalidOptionError("Missing option --target: name the column to predict, e.g. --target price.")
        from kiln.cli.console import print_leaderboard
        from kiln.settings import default_bundle_path
        from kiln.training.progress import Reporter, RichReporter
        from kiln.training.train import TrainSpec, train_model

        spec = TrainSpec(target=target, task=task, metric=metric, time_limit=time_limit,  # type: ignore[arg-type]
                         seed=seed, max_trials=max_trials, ignore=tuple(ignore or ()), cost_fp=cost_fp,
                         cost_fn=cost_fn, ray=ray, max_rows=max_rows, text_columns=tuple(text_column or ()),
                         reject_below=reject_below, reject_precision=reject_precision, reject_label=reject_label,
                         text_embeddings=text_embeddings)
        model = train_model(data, spec, Reporter() if quiet else RichReporter(), started=started)
        path = kiln.save(model, out or default_bundle_path(Path(data).stem))
        if not quiet:
            print_leaderboard(model.leaderboard(), title=f"Leaderboard ({model.metric}, {spec.time_limit:g}s)")
        cv = model.manifest["cv"]
        typer.echo(f"model: {cv['model']}  {cv['metric']} {cv['score']:.4f} "
                   f"[{cv['ci_low']:.4f}, {cv['ci_high']:.4f}]  in {time.time() - started:.1f}s "
                   f"(--time-limit {spec.time_limit:g}s)")
        if model.reject is not None:
            from kiln.cli.text import reject_line

            typer.echo(reject_line(model.reject))
        typer.echo(f"bundle: {path}")
        lost = model.manifest["training"]["trials_lost_to_workers"]
        if ray is not None or lost:
            typer.echo(f"trials lost to dead workers: {lost}")
        if register:  # timed apart: MLflow takes seconds (15+ on a busy machine), not counted in --time-limit
            from kiln.cli.console import print_registered
            from kiln.store.registry import register as register_bundle

            registering = time.time()
            print_registered(register_bundle(path, register))
            typer.echo(f"registered in {time.time() - registering:.1f}s (not counted in --time-limit)")


@app.command()
def profile(
    data: Annotated[str, typer.Argument(help="Table to profile: .csv, .parquet or .jsonl.")],
    target: Annotated[Optional[str], typer.Option("--target", "-t", help="The column to predict.")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Print findings and columns as JSON.")] = False,
    ignore: Annotated[Optional[list[str]], typer.Option(help="Silence a check by its code, e.g. DQ004.")] = None,  # noqa: UP045
    compare: Annotated[Optional[str], typer.Option(help="A second table (e.g. test) to check for skew.")] = None,  # noqa: UP045
    task: Annotated[str, typer.Option(help="auto (a table), forecast, recommend or image.")] = "auto",
    time_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast, recommend: the timestamp column.")] = None,
    id_column: Annotated[Optional[str], typer.Option(help="forecast: the series id column.")] = None,  # noqa: UP045
    horizon: Annotated[Optional[int], typer.Option(  # noqa: UP045
        help="forecast: steps you will forecast (series shorter than it are reported: FC004).")] = None,
    user_column: Annotated[Optional[str], typer.Option(help="recommend: the user id column.")] = None,  # noqa: UP045
    item_column: Annotated[Optional[str], typer.Option(help="recommend: the item id column.")] = None,  # noqa: UP045
    rating_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="recommend: the rating or weight column (checked: RC007).")] = None,
    path_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="image: the column of image paths, when DATA is a table.")] = None,
) -> None:
    """Is the data fit to learn from? Coded checks, column roles, an HTML report.

    Exits 1 when a check of severity "error" remains (so CI can gate on it).
    """
    with _user_errors():
        import json

        from kiln.kinds import for_task

        options = {key: value for key, value in {"time_column": time_column, "id_column": id_column,
                                                 "horizon": horizon,
                                                 "user_column": user_column, "item_column": item_column,
                                                 "rating_column": rating_column,
                                                 "path_column": path_column}.items() if value is not None}
        kind = for_task(task)
        if "profile" in kind.hooks:  # every kind but tabular profiles through its hook
            profiler = kind.hook("profile")
            _refuse_options(options, kind.name, profiler.options)
            outcome = profiler.profile(data, target=target, options=options, ignore=tuple(ignore or ()), out=out)
            _echo_outcome(outcome, as_json=as_json)
            if outcome.failed:
                raise typer.Exit(1)
            return
        _refuse_options(options, kind.name)

        from kiln.cli.console import print_findings
        from kiln.data.load import read_table
        from kiln.data.profile import profile_table
        from kiln.data.write import write_text
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
    model: Annotated[str, typer.Argument(help="Model bundle folder or models:/NAME@ALIAS.")],
    data: Annotated[str, typer.Argument(help="Table to predict: .csv, .parquet or .jsonl.")],
    out: Annotated[Path, typer.Option(help="Predictions file (.csv, .parquet or .jsonl); with --ray, also a "
                                           "folder (no suffix) of Parquet parts.")],
    ray: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--ray", help="Predict with Ray Data on a cluster: auto, local or HOST:PORT; --out FILE gathers the "
                      "rows into one file, --out FOLDER keeps Parquet parts (pip install 'kiln-ml\\[ray]').")] = None,
    future: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="forecast: the known-future covariates for the horizon (a table).")] = None,
    top_k: Annotated[Optional[int], typer.Option(help="recommend: recommendations per user.")] = None,  # noqa: UP045
    include_seen: Annotated[bool, typer.Option(
        "--include-seen", help="recommend: also recommend items the user had in training.")] = False,
) -> None:
    """Predict every row of DATA; columns `prediction` and `proba_<class>`, in input order.

    DATA is read in chunks, so a file larger than memory is fine. A forecaster forecasts the horizon after
    each series in DATA; a recommender ranks items for each user in DATA; an image model takes a folder.
    """
    with _user_errors():
        import kiln
        from kiln.kinds import get as get_kind
        from kiln.kinds import kind_of

        loaded = kiln.load(model)
        options = {key: value for key, value in {"future": future, "top_k": top_k,
                                                 "include_seen": include_seen or None}.items() if value is not None}
        kind = get_kind(kind_of(loaded.manifest))
        if "predict" in kind.hooks:  # every kind but tabular predicts through its hook
            predictor = kind.hook("predict")
            _refuse_options(options, kind.name, predictor.options)
            for line in predictor.predict_file(loaded, data, out, options).lines:
                typer.echo(line)
            return
        _refuse_options(options, kind.name)
        if ray is not None:
            from kiln.predict.ray_data import is_file_out, predict_on_ray

            rows = predict_on_ray(model, data, out, address=ray)
            where = f"{out}" if is_file_out(out) else f"{out}/ (partitioned Parquet, in input order)"
            typer.echo(f"{rows:,} predictions written to {where}")
            return
        from kiln.predict.stream import predict_file

        result = predict_file(loaded, data, out)
        for warning in result.report.warnings():
            typer.echo(f"warning: {warning}", err=True)
        typer.echo(f"{result.rows:,} predictions written to {out}")
        if loaded.reject is not None:
            from kiln.cli.text import rejected_line

            typer.echo(rejected_line(loaded.reject, out, result.rows))


@app.command()
def leaderboard(
    model: Annotated[str, typer.Argument(help="Model bundle folder or models:/NAME@ALIAS.")],
    show_all: Annotated[bool, typer.Option("--all", help="Show every trial.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
) -> None:
    """Show every trial's cross-validated score with its 95% interval."""
    with _user_errors():
        import kiln
        from kiln.cli.console import print_leaderboard

        loaded = kiln.load(model)
        frame = loaded.leaderboard()
        if as_csv:
            frame.to_csv(sys.stdout, index=False)
            return
        print_leaderboard(frame, title=f"Leaderboard of {model} ({loaded.metric})",
                          limit=len(frame) if show_all else 15)


@app.command()
def export(
    model: Annotated[str, typer.Argument(help="Model bundle folder or models:/NAME@ALIAS.")],
    out: Annotated[Path, typer.Option("--out", help="The graph file to write, e.g. model.onnx.")],
    format: Annotated[str, typer.Option("--format", help="Export format: onnx.")] = "onnx",
    store: Annotated[bool, typer.Option("--store/--no-store",
                                        help="Also keep the verified graph in the bundle folder.")] = True,
) -> None:
    """Export the whole predictor as one ONNX graph, verified against the model on reference rows."""
    with _user_errors():
        if format != "onnx":
            from kiln.errors import InvalidOptionError

            raise InvalidOptionError(f"--format {format!r} is not one kiln exports; use --format onnx.")
        from kiln.export.onnx import export_onnx

        result = export_onnx(model, out, store=store)
        typer.echo(f"{result.out} written ({result.size_bytes:,} bytes, opset {result.graph.opset['']}); "
                   f"largest difference from the model {result.check.max_difference:.2g} on "
                   f"{result.check.rows:,} reference rows")
        if result.stored_in is not None:
            typer.echo(f"stored in {result.stored_in} as model.onnx: kiln serve runs it")


@app.command()
def evaluate(
    model: Annotated[str, typer.Argument(help="Model bundle folder or models:/NAME@ALIAS.")],
    data: Annotated[str, typer.Argument(help="Labelled table the model did not train on: .csv, .parquet or .jsonl.")],
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Print scores, verdicts and threshold as JSON.")] = False,
) -> None:
    """Score a model on new labelled data: every metric with a 95% interval, a baseline, plots, an HTML report."""
    with _user_errors():
        import json

        import kiln
        from kiln.cli.console import print_evaluation
        from kiln.data.load import read_table
        from kiln.data.write import write_text
        from kiln.evaluation.explain import sample_contributions
        from kiln.evaluation.result import evaluate_model
        from kiln.kinds import get as get_kind
        from kiln.kinds import kind_of
        from kiln.report.evaluation import MAX_SHAP_ROWS, evaluation_json, model_card, render_evaluation
        from kiln.settings import default_report_path

        loaded = kiln.load(model)
        kind = get_kind(kind_of(loaded.manifest))
        if "evaluate" in kind.hooks:  # every kind but tabular evaluates through its hook
            _echo_outcome(kind.hook("evaluate").evaluate(loaded, data, out=out), as_json=as_json)
            return
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


@app.command()
def serve(
    model: Annotated[str, typer.Argument(help="Model bundle folder or models:/NAME@ALIAS (followed when it moves).")],
    host: Annotated[str, typer.Option(help="Interface to bind; 0.0.0.0 opens it to the network.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes (each runs one request at a time per thread).")] = 1,
    api_key: Annotated[Optional[str], typer.Option(  # noqa: UP045
        "--api-key", envvar="KILN_API_KEY", help="Require this key (X-API-Key) on all but / and /health.")] = None,
    allowed_hosts: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--allowed-hosts", help="A name clients reach this server by (repeatable; '*.example.com'); the bind "
                                "address and localhost are always allowed, other Host headers get 400.")] = None,
    cors_origin: Annotated[Optional[list[str]], typer.Option(  # noqa: UP045
        "--cors-origin", help="An origin whose web pages may call the API, e.g. https://app.example.com "
                              "(repeatable); without it no CORS headers are sent.")] = None,
    max_body_bytes: Annotated[int, typer.Option(help="Larger request bodies get 413.")] = 8 * 1024 * 1024,
    max_rows: Annotated[int, typer.Option(help="More rows in one request get 413.")] = 10_000,
    request_timeout: Annotated[float, typer.Option(
        help="Seconds for parsing, checking and predicting a request's rows before it gets 504.")] = 30.0,
    drain: Annotated[float, typer.Option(help="Seconds /ready answers 503 after SIGTERM before closing.")] = 1.0,
    log_predictions: Annotated[bool, typer.Option(help="Append every prediction to the log in KILN_DB.")] = True,
    batching: Annotated[bool, typer.Option(help="Predict concurrent small requests together (micro-batching).")] = True,
    batch_window_ms: Annotated[float, typer.Option(
        help="Milliseconds a small request waits for the others inside /predict to be predicted with them.")] = 1.0,
) -> None:
    """Serve a model over REST with a web page: /predict, /explain, /metadata, /health, /ready, /metrics."""
    with _user_errors():
        import os

        from pydantic import ValidationError

        from kiln.errors import InvalidOptionError

        if api_key is None and os.environ.get("KILN_API_KEY") == "":
            api_key = ""  # Click drops an empty variable; an empty key is a mistake to refuse, not no key
        try:
            from kiln.serve.settings import ServeSettings

            settings = ServeSettings(model=model, host=host, api_key=api_key, allowed_hosts=tuple(allowed_hosts or ()),
                                     cors_origins=tuple(cors_origin or ()), max_body_bytes=max_body_bytes,
                                     max_rows=max_rows, request_timeout_s=request_timeout, drain_s=drain,
                                     log_predictions=log_predictions, batching=batching,
                                     batch_window_ms=batch_window_ms)
        except ValidationError as exc:
            first = exc.errors()[0]
            message = str(first["msg"]).removeprefix("Value error, ")
            raise InvalidOptionError(f"--{str(first['loc'][0]).replace('_', '-')}: {message}.") from None
        if workers < 1:
            raise InvalidOptionError(f"--workers must be at least 1, got {workers}.")
        from kiln.serve.server import run

        run(settings, port=port, workers=workers,
            announce=lambda url: typer.echo(f"serving {model} on {url} ({workers} worker(s)); Ctrl-C stops", err=True))


models_app = typer.Typer(name="models", help="The model registry: list, register, show, promote, roll back.",
                         no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("list")
def models_list() -> None:
    """Every registered model: versions, champion and challenger, the champion's CV score."""
    with _user_errors():
        from kiln.cli.console import print_models
        from kiln.store.registry import list_models

        print_models(list_models())


@models_app.command("register")
def models_register(
    bundle: Annotated[Path, typer.Argument(help="A bundle folder written by kiln train --out (or kiln.save).")],
    name: Annotated[str, typer.Option("--name", help="Registered model name; the first version becomes champion.")],
) -> None:
    """Register an already trained bundle as a new version of NAME (as kiln train --register does)."""
    with _user_errors():
        from kiln.cli.console import print_registered
        from kiln.store.registry import register as register_bundle

        print_registered(register_bundle(bundle, name))


@models_app.command("show")
def models_show(name: Annotated[str, typer.Argument(help="Registered model name.")]) -> None:
    """One model's versions (aliases, CV score with interval, run) and its audit history."""
    with _user_errors():
        from kiln.cli.console import print_model_details
        from kiln.store.registry import show

        print_model_details(show(name))


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[str, typer.Argument(help="The version to make champion.")],
    reason: Annotated[Optional[str], typer.Option(help="Why; kept in the audit history.")] = None,  # noqa: UP045
) -> None:
    """Make VERSION the champion (models:/NAME@champion); audited."""
    with _user_errors():
        from kiln.cli.console import print_alias_change
        from kiln.store.registry import promote

        print_alias_change(promote(name, version, reason=reason or "promoted with kiln models promote"))


@models_app.command("rollback")
def models_rollback(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    reason: Annotated[Optional[str], typer.Option(help="Why; kept in the audit history.")] = None,  # noqa: UP045
) -> None:
    """Give champion back to the previous champion; audited."""
    with _user_errors():
        from kiln.cli.console import print_alias_change
        from kiln.store.registry import rollback

        print_alias_change(rollback(name, reason=reason or "rolled back with kiln models rollback"))


@app.command()
def monitor(
    model: Annotated[str, typer.Argument(help="Registered model name (its champion is the reference) or a bundle.")],
    since: Annotated[str, typer.Option(help="Window of served traffic: 90s, 30m, 24h, 7d or 'all'.")] = "24h",
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    psi_threshold: Annotated[Optional[float], typer.Option(help="Alert: PSI above this on a top feature.")] = None,  # noqa: UP045
    top_features: Annotated[Optional[int], typer.Option(help="Alert: how many top features are watched.")] = None,  # noqa: UP045
    min_rows: Annotated[Optional[int], typer.Option(help="No verdict with fewer served rows.")] = None,  # noqa: UP045
    webhook: Annotated[Optional[str], typer.Option(help="POST the alerts as JSON to this URL.")] = None,  # noqa: UP045
    config: Annotated[Optional[Path], typer.Option(help="Alert rules file (default ./kiln.toml).")] = None,  # noqa: UP045
) -> None:
    """Drift, data quality and live performance of served traffic; exit 1 when an alert rule fires."""
    with _user_errors():
        import json
        import logging

        from kiln.cli.console import print_monitor
        from kiln.data.write import write_text
        from kiln.monitor.alerts import AlertRules, send_webhook
        from kiln.monitor.run import run_monitor
        from kiln.monitor.window import parse_since
        from kiln.report.drift import render_drift
        from kiln.settings import default_report_path

        rules = AlertRules.load(config, psi_threshold=psi_threshold, top_features=top_features, min_rows=min_rows,
                                webhook=webhook)
        result = run_monitor(model, since=parse_since(since, now=time.time()), rules=rules)
        if hasattr(result, "lines"):  # a forecaster's result: live MASE / WQL / coverage against the backtest
            from kiln.cli.forecast import print_monitor as print_forecast_monitor

            print_forecast_monitor(result, out=out, as_json=as_json)
            if result.alerts:
                raise typer.Exit(1)
            return
        path = write_text(render_drift(result), out or default_report_path(f"{Path(result.name).name}", "monitor"))
        for alert in result.alerts:
            logging.getLogger("kiln.monitor").warning("ALERT %s: %s", alert.rule, alert.message)
        if result.alerts and rules.webhook:
            error = send_webhook(rules.webhook, result.to_dict())
            if error:
                typer.echo(f"warning: webhook {rules.webhook} failed: {error}", err=True)
        if as_json:
            typer.echo(json.dumps({**result.to_dict(), "report": str(path)}, indent=2, default=str))
        else:
            print_monitor(result)
            typer.echo(f"report: {path}")
    if result.alerts:
        raise typer.Exit(1)


@app.command()
def feedback(
    model: Annotated[str, typer.Argument(help="Registered model name, or the bundle folder name the server logged.")],
    labels: Annotated[str, typer.Argument(help="Table of true labels: request_id [,row] and a label column "
                                               "(a forecaster: id, time, value).")],
    label_column: Annotated[Optional[str], typer.Option(help="Column holding the label (default: 'label').")] = None,  # noqa: UP045
    id_column: Annotated[Optional[str], typer.Option(  # noqa: UP045
        help="Match rows by this input column (e.g. UDI) instead of request_id.")] = None,
) -> None:
    """Record delayed true labels of served predictions, for live performance in `kiln monitor`."""
    with _user_errors():
        from kiln.data.load import read_table
        from kiln.store.feedback import labels_from_table, record_labels

        table = read_table(labels)
        from kiln.cli.forecast import is_actuals

        if is_actuals(table):  # observed values of forecast series: id, time, value
            from kiln.cli.forecast import record_actuals

            stored = record_actuals(Path(model).name if Path(model).exists() else model, table)
            typer.echo(f"recorded {stored:,} actuals for {model}")
            return
        stored = record_labels(Path(model).name if Path(model).exists() else model,
                               labels_from_table(table, label_column=label_column, id_column=id_column))
        from kiln.store.location import describe

        typer.echo(f"recorded {stored:,} labels for {model} in {describe()}")


@app.command()
def demo(
    name: Annotated[str, typer.Argument(help="Which loop: tabular (default), forecast, recommend, text or image.",
                                        metavar="[NAME]")] = "tabular",
    out: Annotated[Optional[Path], typer.Option(  # noqa: UP045
        help="Folder for everything the demo makes (remade each run; default kiln-demo, kiln-demo-NAME).")] = None,
    keep_serving: Annotated[bool, typer.Option("--keep-serving", help="Leave the server running at the end.")] = False,
    time_limit: Annotated[Optional[float], typer.Option(  # noqa: UP045
        help="Seconds for each training (champion, challenger; tabular default 40).")] = None,
    rows: Annotated[Optional[int], typer.Option(help="tabular: training rows to generate (10,000).")] = None,  # noqa: UP045
    data_only: Annotated[bool, typer.Option(
        "--data-only", help="Only write the quick start's machines.csv, labelled_machines.csv and new_machines.csv "
                            "into --out (default: this folder), then stop.")] = False,
) -> None:
    """The whole loop on generated data: profile, train, register, serve, drift, monitor, retrain, promote."""
    with _user_errors():
        from kiln.demo.catalog import DEFAULT, run

        if data_only:
            from kiln.demo.quickstart import write_quickstart_data

            if name != DEFAULT:
                raise KilnError(f"--data-only writes the tabular quick start's data; drop NAME ({name}).")
            for path in write_quickstart_data(out or Path("."), rows=rows):
                typer.echo(f"wrote {path}")
            return
        folder = out or Path("kiln-demo" if name == DEFAULT else f"kiln-demo-{name}")
        run(name, folder, time_limit=time_limit, keep_serving=keep_serving, rows=rows)


@app.command()
def retrain(
    name: Annotated[str, typer.Argument(help="Registered model name; its champion is challenged.")],
    data: Annotated[str, typer.Argument(help="New labelled rows in time order, oldest first: .csv, .parquet, .jsonl.")],
    promote: Annotated[str, typer.Option(help="auto: promote if the gate passes; never: only register.")] = "auto",
    holdout: Annotated[float, typer.Option(help="Newest share of DATA kept for the gate, trained on by none.")] = 0.3,
    shifted: Annotated[Optional[bool], typer.Option(  # noqa: UP045
        "--shifted/--no-shifted", help="Force non-inferiority / superiority (default: the monitor's drift rule on the "
                                        "training rows' features, decided before the gate rows are scored).")] = None,
    margin: Annotated[float, typer.Option(help="Non-inferiority margin, in the metric's units.")] = 0.005,
    alpha: Annotated[float, typer.Option(help="The gate's one-sided level: promote iff its p is below this.")] = 0.05,
    time_limit: Annotated[Optional[float], typer.Option(  # noqa: UP045
        "--time-limit", help="Seconds for training the challenger (default: the champion's).")] = None,
    jobs: Annotated[Optional[int], typer.Option(help="Worker processes (default: one per core).")] = None,  # noqa: UP045
    out: Annotated[Optional[Path], typer.Option(help="HTML report (default: KILN_HOME/reports/...).")] = None,  # noqa: UP045
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress display.")] = False,
) -> None:
    """Train a challenger on new data; promote it only if a paired test on the newest rows says it is better."""
    with _user_errors():
        from kiln.cli.console import print_retrain
        from kiln.retrain.challenger import retrain as run_retrain

        result = run_retrain(name, data, promote=promote, holdout=holdout, shifted=shifted,  # type: ignore[arg-type]
                             margin=margin, alpha=alpha, time_limit=time_limit, n_jobs=jobs, quiet=quiet,
                             report_path=out)
        print_retrain(result)
        typer.echo(f"report: {result.report}")


def main() -> None:
    app()


if __name__ == "__main__":
    main()

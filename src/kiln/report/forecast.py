"""The forecast kind's pages and commands: the training report, `kiln profile --task forecast` and
`kiln evaluate` for a forecaster (MASE, sMAPE, WQL, coverage per series and overall with bootstrap
intervals, skill against the seasonal naive and the random walk in plain words, Diebold–Mariano tests,
fan charts, residual autocorrelation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.kinds.outcome import Outcome
from kiln.report.html import Html, Section, figure, paragraph, render_page, table

BOARD_COLUMNS = ("rank", "model", "mase", "mase_ci", "wql", "wql_ci", "smape", "smape_ci", "coverage_80", "fit_s",
                 "status")


def _ci(row: Mapping[str, Any], key: str, digits: int = 3) -> str:
    low, high = row.get(f"{key}_ci_low"), row.get(f"{key}_ci_high")
    if low is None or high is None or not np.isfinite(low) or not np.isfinite(high):
        return ""
    return f"{low:.{digits}f}–{high:.{digits}f}"


def board_rows(model: Any) -> list[dict[str, Any]]:
    rows = []
    for row in model.leaderboard().to_dict("records"):
        rows.append({**row, "mase_ci": _ci(row, "mase"), "wql_ci": _ci(row, "wql", 4),
                     "smape_ci": _ci(row, "smape", 2)})
    return rows


def fan_figure(title: str, history: pd.DataFrame, forecast: pd.DataFrame, actual: pd.DataFrame | None = None) -> Any:
    """History, the forecast's median and its 80% band (q0.1–q0.9), and the actuals when known."""
    import plotly.graph_objects as go

    fig = go.Figure()
    fig.add_trace(go.Scatter(x=history["ds"], y=history["y"], name="history", line={"color": "#444"}))
    fig.add_trace(go.Scatter(x=list(forecast["ds"]) + list(forecast["ds"])[::-1],
                             y=list(forecast["quantile_0.9"]) + list(forecast["quantile_0.1"])[::-1],
                             fill="toself", fillcolor="rgba(31,119,180,0.2)", line={"width": 0}, name="80% interval"))
    fig.add_trace(go.Scatter(x=forecast["ds"], y=forecast["prediction"], name="forecast", line={"color": "#1f77b4"}))
    if actual is not None and len(actual):
        fig.add_trace(go.Scatter(x=actual["ds"], y=actual["y"], name="actual", mode="lines+markers",
                                 line={"color": "#d62728"}))
    fig.update_layout(title={"text": title, "x": 0}, height=320, margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def acf_figure(lags: np.ndarray, values: np.ndarray, bound: float, title: str) -> Any:
    import plotly.graph_objects as go

    fig = go.Figure(go.Bar(x=lags, y=values, name="autocorrelation"))
    for sign in (1, -1):
        fig.add_hline(y=sign * bound, line={"dash": "dash", "color": "#999"})
    fig.update_layout(title={"text": title, "x": 0}, height=260, margin={"l": 40, "r": 10, "t": 40, "b": 30})
    return fig


def residual_autocorrelation(residuals: np.ndarray, lags: int = 10) -> dict[str, Any]:
    """ACF of residuals and the Ljung–Box test (statsmodels) at `lags`."""
    from statsmodels.stats.diagnostic import acorr_ljungbox
    from statsmodels.tsa.stattools import acf

    residuals = np.asarray(residuals, dtype="float64")
    residuals = residuals[np.isfinite(residuals)]
    lags = int(min(lags, len(residuals) // 2))
    if lags < 1 or np.std(residuals) == 0:
        return {"lags": np.array([]), "acf": np.array([]), "p_value": float("nan"), "bound": float("nan")}
    values = acf(residuals, nlags=lags, fft=False)[1:]
    test = acorr_ljungbox(residuals, lags=[lags])
    return {"lags": np.arange(1, lags + 1), "acf": values, "p_value": float(test["lb_pvalue"].iloc[0]),
            "bound": 1.96 / np.sqrt(len(residuals))}


class ForecastReports:
    """The training report: data checks, the backtest leaderboard, the windows, the ensemble, fan charts."""

    def training(self, model: Any) -> str:
        info = model.info
        sections = [
            Section("Summary", "What was trained and how well it forecasts on the backtest windows.",
                    Html("".join(paragraph(line.strip()) for line in _summary_lines(model)))),
            Section("Data checks", "Checks on the series (codes FC…); each rule applied is stated.",
                    table(info.get("checks", []), ["code", "severity", "message"]) if info.get("checks")
                    else paragraph("No check fired.")),
            Section("Leaderboard", "Every candidate on rolling-origin windows of the horizon's length (never "
                    "shuffled): mean over windows with a 95% t-interval across windows, coverage of the 80% "
                    "interval (target 0.80), fit seconds.",
                    table(board_rows(model), BOARD_COLUMNS)),
            Section("Window scores", "Each candidate's score on each window (window 1 is the most recent).",
                    table(model.windows, ["model", "window", "mase", "wql", "smape", "coverage"])),
            Section("Diebold–Mariano tests", "The kept model against the best single candidates on the windows' "
                    "scaled absolute errors (negative statistic: the kept model's errors are smaller).",
                    table(info.get("dm", []), ["against", "statistic", "p_value", "n", "mean_difference"])
                    if info.get("dm") else paragraph("One candidate only: nothing to compare.")),
        ]
        sections.extend(self._backtest_sections(model))
        return render_page(f"Forecast: {model.target}", sections,
                           subtitle=f"{len(model.series_ids)} series · {model.freq} · horizon {model.horizon}")

    def _backtest_sections(self, model: Any) -> list[Section]:
        backtest = model.backtest
        if backtest is None or backtest.empty:
            return []
        context = model.context
        charts = []
        recent = backtest[backtest["window"] == 1]
        errors = recent.assign(err=(recent["y"] - recent["prediction"]).abs()).groupby("unique_id")["err"].mean()
        chosen = list(dict.fromkeys([*errors.sort_values().index[:2], *errors.sort_values().index[-2:]]))
        for i, sid in enumerate(chosen[:4]):
            rows = recent[recent["unique_id"] == sid]
            series = context[context["unique_id"] == sid].reset_index(drop=True)
            cut = int(rows["cut"].iloc[0])
            history = series.iloc[max(0, cut - 4 * model.horizon):cut]
            window = series.iloc[cut:cut + model.horizon]
            forecast = pd.DataFrame({"ds": window["ds"].to_numpy()[: len(rows)], "prediction": rows["prediction"],
                                     "quantile_0.1": rows["q10"], "quantile_0.9": rows["q90"]})
            charts.append(figure(fan_figure(f"{sid}: most recent backtest window", history, forecast,
                                            window[["ds", "y"]]), div_id=f"fan{i}"))
        ordered = backtest.sort_values(["unique_id", "cut", "step"])
        largest = ordered["unique_id"].value_counts().index[0]
        one = ordered[ordered["unique_id"] == largest]
        found = residual_autocorrelation((one["y"] - one["prediction"]).to_numpy())
        body = Html("".join(charts))
        words = ("no evidence of left-over autocorrelation" if not np.isfinite(found["p_value"])
                 or found["p_value"] >= 0.05 else "autocorrelation is left in the errors: the model misses structure")
        acf_html = figure(acf_figure(found["lags"], found["acf"], found["bound"], "Backtest error autocorrelation"),
                          div_id="acf") if len(found["lags"]) else Html("")
        return [Section("Fan charts", "History, the forecast's median and 80% interval, and what happened, on the "
                        "most recent window: the best and the worst series.", body),
                Section("Residual diagnostics", f"Ljung–Box p = {found['p_value']:.3f} on the backtest errors of "
                        f"{largest!r} in time order: {words}.",
                        acf_html)]


def _summary_lines(model: Any) -> list[str]:
    board = model.leaderboard()
    lines = [f"Kept: {model.info.get('best')} (members: "
             + ", ".join(f"{m['family']} {m['weight']:.2f}" for m in model.members) + ")."]
    if len(board):
        top = board.iloc[0]
        lines.append(f"Backtest MASE {top['score']:.3f}, WQL {top.get('wql', float('nan')):.4f}, 80% coverage "
                     f"{top.get('coverage_80', float('nan')):.2f} over {model.info.get('windows', 0)} window(s).")
        lines.extend(skill_sentences(board))
    lines.append(f"Trained in {model.info.get('seconds', 0):.1f} s.")
    return lines


def skill_sentences(board: pd.DataFrame) -> list[str]:
    """Skill against the seasonal naive and the random walk (the naive forecast), in plain words."""
    top = board.iloc[0]
    out = []
    for name, words in (("seasonal_naive", "the seasonal naive (last season repeated)"),
                        ("naive", "a random walk (the last value repeated), the benchmark for a price series")):
        rows = board[board["model"] == name]
        if not len(rows) or not np.isfinite(rows.iloc[0]["score"]) or rows.iloc[0]["score"] <= 0:
            continue
        skill = 1 - top["score"] / rows.iloc[0]["score"]
        verdict = "beats it" if skill > 0 else "does not beat it"
        out.append(f"Against {words}: this model {verdict} (skill {skill:+.1%} in MASE).")
    return out


REPORTS = ForecastReports()


class ForecastProfiler:
    """`kiln profile DATA --task forecast`: the FC checks and a report page."""

    options = frozenset({"time_column", "id_column", "horizon", "frequency", "known_future"})

    def profile(self, data: str, *, target: str | None, options: Mapping[str, Any], ignore: tuple[str, ...],
                out: Path | None) -> Outcome:
        from kiln.data.load import read_table
        from kiln.data.write import write_text
        from kiln.errors import InvalidOptionError
        from kiln.forecasters.checks import check_series

        if target is None or not options.get("time_column"):
            raise InvalidOptionError("kiln profile --task forecast needs --target and --time-column.")
        if options.get("horizon") is not None and int(options["horizon"]) < 1:
            raise InvalidOptionError(f"--horizon {options['horizon']} is not a number of steps; give H ≥ 1 "
                                     "(the steps you will forecast).")
        prepared, checks = check_series(read_table(data), target=target, time_column=options["time_column"],
                                        id_column=options.get("id_column"), horizon=options.get("horizon"),
                                        frequency=options.get("frequency"), known_future=options.get("known_future"),
                                        ignore=ignore)
        rows = [c.to_dict() for c in checks]
        lines = [f"{c.code} {c.severity}: {c.message}" for c in checks] or ["no check fired"]
        data_out: dict[str, Any] = {"checks": rows}
        if prepared is not None:
            lengths = prepared.panel.lengths()
            facts = (f"{len(lengths)} series, frequency {prepared.panel.freq}, {int(lengths.sum()):,} points "
                     f"({int(lengths.min())}–{int(lengths.max())} per series)")
            lines.insert(0, facts)
            data_out.update({"series": len(lengths), "frequency": prepared.panel.freq,
                             "known_future": prepared.known_future})
        path = None
        if out is not None:
            page = render_page("Series profile", [Section("Checks", "Data checks for series (FC codes).",
                                                          table(rows, ["code", "severity", "message"]))],
                               subtitle=lines[0])
            path = write_text(page, Path(out))
        return Outcome(lines=tuple(lines), data=data_out, path=path,
                       failed=any(c.severity == "error" for c in checks))


PROFILER = ForecastProfiler()


class ForecastEvaluator:
    """`kiln evaluate MODEL DATA`: the last H points of each series in DATA are forecast from what precedes them."""

    def evaluate(self, model: Any, data: str, *, out: Path | None) -> Outcome:
        from kiln.data.load import read_table
        from kiln.data.write import write_text
        from kiln.evaluation.forecast import evaluate_forecaster
        from kiln.settings import default_report_path

        result = evaluate_forecaster(model, read_table(data))
        page = render_evaluation(model, result)
        path = write_text(page, Path(out) if out is not None else default_report_path(Path(data).stem, "evaluation"))
        return Outcome(lines=tuple(result["lines"]), data=result["json"], path=path)


EVALUATOR = ForecastEvaluator()


def render_evaluation(model: Any, result: dict[str, Any]) -> str:
    overall = result["overall"]
    sections = [
        Section("Summary", "Accuracy on the last horizon of each series, forecast from what precedes it.",
                Html("".join(paragraph(line) for line in result["lines"]))),
        Section("Overall", "Mean across series with a 95% bootstrap interval across series (WQL pooled).",
                table(overall, ["model", "mase", "mase_ci", "smape", "smape_ci", "wql", "coverage_80"])),
        Section("Diebold–Mariano tests", "Paired test of the kept model against each other forecast on the same "
                "steps (scaled absolute errors; negative: the kept model is better).",
                table(result["dm"], ["against", "statistic", "p_value", "n", "verdict"])),
        Section("Per series", "Each series' scores (the kept model).",
                table(result["per_series"], ["unique_id", "mase", "smape", "wql", "coverage_80", "ljung_box_p"])),
    ]
    charts = [figure(fan_figure(f"{sid}", hist, fc, act), div_id=f"evalfan{i}")
              for i, (sid, hist, fc, act) in enumerate(result["charts"])]
    sections.append(Section("Fan charts", "A sample of series and the worst ones: history, forecast with its 80% "
                            "interval, actuals.", Html("".join(charts))))
    return render_page(f"Forecast evaluation: {model.target}", sections)


def render_monitor(result: Any) -> str:
    """The monitoring page: live MASE / WQL / coverage per forecast origin beside the backtest's interval."""
    import plotly.graph_objects as go

    sections = [Section("Status", "Served forecasts whose actuals arrived, scored as on the backtest.",
                        Html("".join(paragraph(line.strip()) for line in result.lines())))]
    if result.windows:
        fig = go.Figure(go.Scatter(x=[w["origin"] for w in result.windows], y=[w["mase"] for w in result.windows],
                                   mode="lines+markers", name="live MASE"))
        b = result.backtest
        if "mase_ci_low" in b and "mase_ci_high" in b:
            fig.add_hrect(y0=b["mase_ci_low"], y1=b["mase_ci_high"], fillcolor="rgba(44,160,44,0.15)", line_width=0,
                          annotation_text="backtest 95% interval")
        fig.update_layout(title={"text": "Live MASE per forecast origin", "x": 0}, height=320)
        sections.append(Section("Live accuracy", "Each point is the forecasts made from one origin.",
                                Html(figure(fig, div_id="live") + table(result.windows, ["origin", "steps", "mase",
                                                                                       "wql", "coverage_80"]))))
    tests = []
    if getattr(result, "level", None):
        tests.append({"drift of": "level", "test": "one-sample t-test of the scaled residuals",
                      "effect": f"mean {result.level['mean_scaled_residual']:.2f} scales",
                      "p-value": f"{result.level['p_value']:.4f}"})
    season = getattr(result, "season", None)
    if season:
        reference = season.get("backtest_eta_squared")
        tests.append({"drift of": f"seasonality (season of {season['season_length']})", "test": season["test"],
                      "effect": f"η² {season['eta_squared']:.2f}"
                                + ("" if reference is None else f" (backtest {reference:.2f})"),
                      "p-value": f"{season['p_value']:.4f}"})
    if tests:
        sections.append(Section("Residual tests", "Live residuals (actual − forecast, in MASE scales): a level "
                                "shift moves their mean; a changed seasonal shape makes them differ by position in "
                                "the season, beyond what the backtest's residuals did.",
                                table(tests, ["drift of", "test", "effect", "p-value"])))
    if result.alerts:
        sections.append(Section("Alerts", "Rules that fired (in the metric's bad direction).",
                                table(result.alerts, ["metric", "message"])))
    return render_page(f"Monitoring {result.name} v{result.version}", sections)

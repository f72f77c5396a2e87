"""The retraining report: the gate's decision, its numbers and test, and both models' scores with intervals.

A short page for whoever asks later "why is this model (not) in production?"; the audit
table holds the same reason and numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from kiln.report.html import Html, Section, badge, figure, paragraph, render_page, table

if TYPE_CHECKING:
    import plotly.graph_objects as go

    from kiln.evaluation.paired import GateDecision

_LAYOUT: dict[str, Any] = {"template": "none", "height": 340, "margin": {"l": 60, "r": 20, "t": 60, "b": 60},
                           "font": {"family": "system-ui, sans-serif", "size": 12}}
_GATE, _CV, _LINE = "#c0392b", "#3b6ea5", "#7f8c8d"
_TESTS = {"delong": "DeLong's test of correlated AUCs (normal approximation), one-sided",
          "bootstrap": "paired bootstrap of the metric difference (1,000 shared row resamples), one-sided"}


class RetrainResult(Protocol):
    """What the page needs of a retrain's outcome (kiln.retrain.RetrainResult is one)."""

    name: str
    champion_version: str
    challenger_version: str | None
    promoted: bool
    decision: GateDecision


@dataclass(frozen=True)
class GateEvidence:
    """What the report shows beside the decision: each model's interval on the gate rows and in CV."""

    champion_interval: tuple[float, float]
    challenger_interval: tuple[float, float]
    champion_cv: dict[str, Any]
    challenger_cv: dict[str, Any]
    train_rows: int
    gate_rows: int
    promote_mode: str
    shift: ShiftEvidence | None = None


@dataclass(frozen=True)
class ShiftEvidence:
    """The monitor's drift verdict on the challenger's training rows, which chose the gate's rule.

    `drifted` lists (column, PSI, test, effect, p) of each feature that meets the rule; `rows`
    counts the rows tested; `note` says why no verdict was possible, when none was.
    """

    shifted: bool
    rows: int
    psi_threshold: float
    drifted: tuple[tuple[str, float, str, float, float], ...] = ()
    tested: int = 0
    note: str = ""

    def summary(self) -> str:
        """One clause for the decision's sentence."""
        if self.note:
            return self.note
        if not self.shifted:
            return (f"no feature of the {self.rows:,} training rows drifted from the champion's reference "
                    f"(PSI > {self.psi_threshold:g} and significant; {self.tested} features tested)")
        shown = ", ".join(f"'{c}' PSI {psi:.2f} ({test} effect {effect:.2f}, p={p:.1e})"
                          for c, psi, test, effect, p in self.drifted[:3])
        more = f" and {len(self.drifted) - 3} more" if len(self.drifted) > 3 else ""
        return (f"the data shifted: on the {self.rows:,} training rows, {shown}{more} drifted from the champion's "
                f"reference (monitor rule: PSI > {self.psi_threshold:g} and significant)")


def render_retrain(result: RetrainResult, evidence: GateEvidence, *, when: float) -> str:
    """The whole page: decision, scores, difference, why this rule, and the recency policy."""
    d = result.decision
    sections = [_decision(result, evidence), _scores(result, evidence), _difference(result), _rule(result, evidence),
                _policy(evidence)]
    stamp = datetime.fromtimestamp(when, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return render_page(f"Retraining of {result.name}", sections,
                       subtitle=f"champion v{result.champion_version} vs challenger v{result.challenger_version} · "
                                f"{d.metric} · {d.n_rows:,} gate rows · {stamp}")


def _decision(result: RetrainResult, evidence: GateEvidence) -> Section:
    d = result.decision
    if result.promoted:
        verdict = badge(f"promoted: v{result.challenger_version} is the champion", "ok")
    elif d.promote:
        verdict = badge("gate passed; not promoted (--promote never)", "info")
    else:
        verdict = badge(f"kept champion v{result.champion_version}", "warning")
    level = f"{100 * (1 - d.alpha):g}%"
    facts = [("Decision", verdict), ("Rule", d.rule + (f" (margin {d.margin:g})" if d.margin is not None else "")),
             ("Test", _TESTS[d.test]), ("Metric", d.metric + _at_thresholds(d.thresholds)),
             ("Gate rows (newest)", d.n_rows), ("Challenger training rows", evidence.train_rows),
             ("Improvement (challenger over champion)", f"{d.difference:+.4f}"),
             (f"One-sided {level} lower bound of the improvement", f"{d.ci_low:+.4f}"),
             (f"Two-sided {100 * (1 - 2 * d.alpha):g}% interval", f"{d.ci_low:+.4f} to {d.ci_high:+.4f}"),
             ("One-sided p-value (the one the decision used)", d.p_value),
             ("α (one-sided level; promote iff p < α)", f"{d.alpha:g}"), ("--promote", evidence.promote_mode)]
    body = Html(paragraph(d.reason) + table([{"fact": k, "value": v} for k, v in facts], ["fact", "value"],
                                            headers={"fact": "", "value": ""}))
    intro = ("The challenger replaces the champion only if a one-sided paired test on the same recent rows says it "
             "is better (superiority), or, when the data has shifted, that it is not worse by more than the margin "
             "(non-inferiority): promoted iff the test's p-value is below α. The improvement is in the metric's "
             "units, positive when the challenger is better, whatever the metric's direction.")
    return Section("Decision", intro, body)


def _scores(result: RetrainResult, evidence: GateEvidence) -> Section:
    import plotly.graph_objects as go

    d = result.decision
    names = [f"champion v{result.champion_version}", f"challenger v{result.challenger_version}"]
    gate = [(d.champion, *evidence.champion_interval), (d.challenger, *evidence.challenger_interval)]
    cv = [_cv(evidence.champion_cv, d.metric), _cv(evidence.challenger_cv, d.metric)]
    fig = go.Figure()
    fig.add_trace(_points(names, gate, "gate rows (95% bootstrap CI)", _GATE))
    if all(c is not None for c in cv):
        fig.add_trace(_points(names, cv, "cross-validation (95% CI)", _CV))
    fig.update_layout(**_LAYOUT, title=f"{d.metric} of both models", yaxis_title=d.metric, scattermode="group")
    rows = [{"model": n, "on gate rows": g[0], "gate 95% CI": f"{g[1]:.4f} to {g[2]:.4f}",
             "cross-validated": c[0] if c else None, "CV 95% CI": f"{c[1]:.4f} to {c[2]:.4f}" if c else "—"}
            for n, g, c in zip(names, gate, cv, strict=True)]
    intro = ("Each model's score on the gate rows with its own bootstrap interval, beside the cross-validated score "
             "it was trained with. Overlapping intervals do not mean a tie: the paired test below compares the two "
             "on the same rows, which is sharper.")
    return Section("Scores", intro, Html(figure(fig, div_id="figure-retrain-scores") + table(rows, list(rows[0]))))


def _difference(result: RetrainResult) -> Section:
    import plotly.graph_objects as go

    d = result.decision
    line = 0.0 if d.margin is None else -d.margin
    fig = go.Figure(go.Scatter(x=[d.difference], y=["improvement"], mode="markers", marker={"size": 12,
                               "color": _GATE}, error_x={"type": "data", "symmetric": False,
                                                         "array": [d.ci_high - d.difference],
                                                         "arrayminus": [d.difference - d.ci_low]},
                               name="improvement, 95% CI"))
    fig.add_vline(x=line, line_dash="dash", line_color=_LINE,
                  annotation_text="0: no difference" if d.margin is None else f"−margin ({-d.margin:g})")
    fig.update_layout(**{**_LAYOUT, "height": 220}, title=f"Challenger's improvement in {d.metric}",
                      xaxis_title=f"{d.metric} improvement (> 0: challenger better)", showlegend=False,
                      yaxis={"visible": False})
    intro = (f"The {d.rule} rule promotes when the one-sided p-value is below α = {d.alpha:g}, which is when the "
             f"one-sided {100 * (1 - d.alpha):g}% lower bound (the bar's left end) lies right of the dashed line. "
             f"The bar is the two-sided {100 * (1 - 2 * d.alpha):g}% interval.")
    return Section("Paired difference", intro, figure(fig, div_id="figure-retrain-difference"))


def _rule(result: RetrainResult, evidence: GateEvidence) -> Section:
    """Why superiority or non-inferiority: chosen before any gate row was scored."""
    d = result.decision
    shift = evidence.shift
    intro = ("The hypothesis is fixed before the gate rows are scored, so the rows that test it cannot also choose "
             "it: by --shifted / --no-shifted, or else by the monitor's drift rule on the features of the rows the "
             "challenger trained on, against the champion's reference sample.")
    if shift is None:
        return Section("Why this rule", intro, paragraph(f"{d.rule}: declared on the command line."))
    text = f"{d.rule}: {shift.summary()}."
    rows = [{"feature": c, "PSI": psi, "test": test, "effect": effect, "p": p}
            for c, psi, test, effect, p in shift.drifted]
    body = paragraph(text) + (table(rows, ["feature", "PSI", "test", "effect", "p"]) if rows else "")
    return Section("Why this rule", intro, Html(body))


def _at_thresholds(thresholds: tuple[float | None, float | None]) -> str:
    if thresholds == (None, None):
        return ""
    champion, challenger = ("0.5" if t is None else f"{t:.3g}" for t in thresholds)
    return f" at each model's served threshold (champion {champion}, challenger {challenger})"


def _policy(evidence: GateEvidence) -> Section:
    text = (f"The new data is read in its row order, oldest first. Its newest {evidence.gate_rows:,} rows formed the "
            f"gate set, which neither model trained on; the challenger trained on the other {evidence.train_rows:,} "
            "rows with the champion's settings (task, target, metric, seed, time limit, trial cap, decision costs). "
            "To retrain on old and new data together, pass one file holding both, old rows first.")
    return Section("Recency policy", "Which rows trained the challenger and which judged it.", paragraph(text))


def _points(names: list[str], values: list[tuple[float, float, float]], label: str, colour: str) -> go.Scatter:
    import plotly.graph_objects as go

    return go.Scatter(x=names, y=[v[0] for v in values], mode="markers", name=label, marker={"size": 11,
                      "color": colour}, error_y={"type": "data", "symmetric": False,
                                                 "array": [v[2] - v[0] for v in values],
                                                 "arrayminus": [v[0] - v[1] for v in values]})


def _cv(cv: dict[str, Any], metric: str) -> tuple[float, float, float] | None:
    if cv.get("metric") != metric or cv.get("score") is None or cv.get("ci_low") is None:
        return None
    return float(cv["score"]), float(cv["ci_low"]), float(cv["ci_high"])

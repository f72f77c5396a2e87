"""`kiln retrain NAME DATA`: train a challenger on new data and promote it only if a paired test says so.

Recency policy. DATA is the new labelled data, in time order (oldest row first; sort it by
time before). Its most recent `holdout` share (default 30%) is the **gate set**: neither model
trains on it, and both predict it. The challenger trains on the rest with the champion's
settings, read from its bundle: task, target, metric, seed, time limit, max_trials and the
binary decision costs (`time_limit` and `seed` override). The champion's own training rows
are not in its bundle, so "old + new" means passing a file that concatenates them, old rows
first; the gate set is then still the newest rows.

The gate (evaluate/paired.py) compares both on the gate set: DeLong's test for binary AUC,
a paired bootstrap otherwise, one-sided at `alpha` (0.05); label metrics (accuracy, F1) score
each binary model at its own stored threshold, the decision each would serve. The rule is
superiority (the challenger must be significantly better), or non-inferiority (not worse by
more than `margin`) when the data moved. Which one is fixed *before* any gate row is scored:
`shifted=True`/`False` says so, and with `shifted=None` the monitor's drift rule decides from
the features of the rows the challenger trains on (never the gate rows) against the champion's
reference sample: some feature drifted (KS or chi-squared, p and effect size, as `kiln monitor`)
with PSI above the monitor's `psi_threshold`. A rule chosen from the champion's score on the
gate rows would let the same rows pick the hypothesis and then test it.

Order of writes, for crash safety: the challenger bundle (atomic), its registration (atomic:
a version exists only once it loads), then the promotion or a `keep` audit row, then the
report. A run killed at any point leaves every registered version loadable and the champion
as it was, unless the promotion itself was written; running again is safe.
"""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from kiln.errors import InvalidOptionError
from kiln.evaluation.paired import GateDecision, Rule, metric_intervals, paired_gate
from kiln.report.retrain import GateEvidence, ShiftEvidence

if TYPE_CHECKING:
    from kiln.model import Model
    from kiln.monitor.alerts import AlertRules
    from kiln.retrain.kind import Gate
    from kiln.training.train import TrainSpec

PromoteMode = Literal["auto", "never"]


@dataclass(frozen=True)
class RetrainResult:
    """What `retrain` did: the versions weighed, whether the challenger was promoted, and why."""

    name: str
    champion_version: str
    challenger_version: str | None
    promoted: bool
    decision: GateDecision
    report: Path


def retrain(name: str, data: pd.DataFrame | str | Path, *, promote: PromoteMode = "auto", holdout: float = 0.3,
            shifted: bool | None = None, margin: float = 0.005, alpha: float = 0.05,
            time_limit: float | None = None, seed: int | None = None, n_jobs: int | None = None,
            quiet: bool = False, report_path: Path | None = None) -> RetrainResult:
    """Train a challenger to `name`'s champion on `data`, gate it, register it, and maybe promote it.

    Parameters
    ----------
    data : new labelled rows in time order (a DataFrame or a file path).
    promote : "auto" promotes when the gate passes; "never" only registers and records the decision.
    holdout : the newest share of `data` kept for the gate (0.05–0.9).
    shifted : force non-inferiority (True) or superiority (False); None: the monitor's drift rule
        on the training rows' features decides, before the gate rows are scored.
    margin : non-inferiority margin, in the metric's units (AUC 0.005 by default; set it for RMSE).
    alpha : the gate's one-sided level; the challenger is promoted iff the test's p is below it.
    time_limit, seed : override the champion's; n_jobs : worker processes (default: one per core).
    """
    from kiln.bundle import save_bundle
    from kiln.data.load import read_table
    from kiln.report import training_report
    from kiln.store import registry
    from kiln.store.model_uri import check_name
    from kiln.training.progress import Reporter, RichReporter
    from kiln.training.train import train_model

    _check_options(promote, holdout, margin, alpha, time_limit)
    champion_ref = registry.resolve(f"models:/{check_name(name)}@champion")
    champion = _load(champion_ref.path)
    gate = kind_gate(champion)
    if hasattr(gate, "retrain"):  # a kind with its own gated retrain (forecast: Diebold–Mariano on the newest window)
        return gate.retrain(name, data, champion=champion, champion_ref=champion_ref, promote=promote, alpha=alpha,
                            time_limit=time_limit, seed=seed, quiet=quiet, report_path=report_path,
                            bundle_path=_bundle_path(name), report_file=_report_path(name, "challenger", report_path))
    # a kind with its own reading, training and drift rule (image: a folder, the image trainer, image statistics)
    read, train, drift = (getattr(gate, hook, None) for hook in ("read", "train", "shift_evidence"))
    frame = gate.labelled(read(data) if read else read_table(data), champion)
    fit_rows, gate_rows = split_recent(frame, holdout)
    gate.check_gate(gate_rows, champion)
    if hasattr(champion, "check"):
        champion.check(gate_rows)  # a missing or unreadable column fails now, not after training
    shift = None if shifted is not None else (drift or shift_evidence)(champion, fit_rows)
    rule, why = choose_rule(shifted, shift)  # fixed here: no gate row has been scored yet
    reporter = Reporter() if quiet else RichReporter()
    reporter.note(f"Gate set: the newest {len(gate_rows):,} of {len(frame):,} rows; the challenger trains on the "
                  f"other {len(fit_rows):,} with champion v{champion_ref.version}'s settings. Gate rule: {rule}"
                  f"{f' ({why})' if why else ''}.")
    if train:
        challenger = train(fit_rows, champion, time_limit=time_limit, seed=seed, n_jobs=n_jobs, reporter=reporter)
    else:
        challenger = train_model(fit_rows, champion_spec(champion.manifest, time_limit=time_limit, seed=seed,
                                                         n_jobs=n_jobs), reporter)
    y, champion_pred, challenger_pred = gate.predictions(champion, challenger, gate_rows)
    metric, task = champion.metric, (gate.task(champion) if hasattr(gate, "task") else champion.task)
    thresholds = (_served_threshold(champion), _served_threshold(challenger))
    intervals = metric_intervals(y, [champion_pred, challenger_pred], task=task, metric=metric,  # type: ignore[arg-type]
                                 thresholds=list(thresholds))
    decision = paired_gate(y, champion_pred, challenger_pred, task=task, metric=metric,  # type: ignore[arg-type]
                           rule=rule, margin=margin, alpha=alpha, rule_reason=why, thresholds=thresholds)

    bundle = save_bundle(challenger, _bundle_path(name), report=training_report(challenger))
    registered = registry.register(bundle, name)
    promoted = decision.promote and promote == "auto"
    evidence = {**decision.to_dict(), "champion_version": champion_ref.version,
                "challenger_version": registered.version, "promote_mode": promote}
    if promoted:
        registry.promote(name, registered.version, reason=decision.reason, metrics=evidence)
    else:
        held = "" if not decision.promote else "Not promoted (--promote never), though the gate passed: "
        registry.record_decision(name, registered.version, reason=held + decision.reason, metrics=evidence)

    result = RetrainResult(name, str(champion_ref.version), registered.version, promoted, decision,
                           _report_path(name, registered.version, report_path))
    details = GateEvidence(intervals[0], intervals[1], champion.manifest.get("cv", {}),
                           challenger.manifest.get("cv", {}), len(fit_rows), len(gate_rows), promote, shift)
    _write_report(result, details)
    return result


def split_recent(frame: pd.DataFrame, holdout: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older rows to train on, newest `holdout` share for the gate), in the table's row order."""
    n_gate = math.ceil(holdout * len(frame))
    cut = len(frame) - n_gate
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def champion_spec(manifest: dict[str, Any], *, time_limit: float | None = None, seed: int | None = None,
                  n_jobs: int | None = None) -> TrainSpec:
    """The champion's training settings from its manifest, so the challenger differs only in its data."""
    from kiln.training.train import TrainSpec

    training = manifest.get("training", {})
    decision = manifest.get("decision") or {}
    costs = decision.get("objective") == "cost"
    return TrainSpec(target=manifest["target"], task=manifest["task"], metric=manifest.get("metric"),
                     time_limit=float(time_limit if time_limit is not None else training.get("time_limit", 60.0)),
                     seed=int(seed if seed is not None else training.get("seed", 0)),
                     max_trials=training.get("max_trials"), n_jobs=n_jobs,
                     cost_fp=decision.get("cost_fp") if costs else None,
                     cost_fn=decision.get("cost_fn") if costs else None)


def shift_evidence(champion: Model, rows: pd.DataFrame, *, rules: AlertRules | None = None) -> ShiftEvidence:
    """Did the data move? The monitor's feature-drift rule on `rows` against the champion's reference.

    Only features are read, and only of rows outside the gate, so the evidence that picks the
    gate's hypothesis is independent of the rows and labels that then test it. A feature counts
    when the monitor would alert on it: drifted (significant with a non-trivial effect) and PSI
    above `rules.psi_threshold` (from kiln.toml's [monitor], as `kiln monitor` reads it).
    """
    from kiln.monitor.alerts import AlertRules
    from kiln.monitor.statistics import drift_table

    rules = rules or AlertRules.load()
    reference = champion.reference
    if reference is None:
        return ShiftEvidence(False, len(rows), rules.psi_threshold,
                             note="the champion keeps no reference sample to test drift against (an older bundle)")
    if len(rows) < rules.min_rows:
        return ShiftEvidence(False, len(rows), rules.psi_threshold,
                             note=f"the {len(rows):,} training rows are fewer than the monitor's min_rows "
                                  f"({rules.min_rows}), too few to test drift")
    kinds = {c.name: c.kind for c in champion.schema.columns if c.kind in ("numeric", "categorical", "boolean")}
    kinds = {k: v for k, v in kinds.items() if k in reference.columns and k in rows.columns}
    features = champion.schema.coerce(rows)
    table = drift_table(reference, features, kinds)
    drifted = tuple((f.column, float(f.psi), f.test, float(f.effect), float(f.p_value)) for f in
                    sorted(table, key=lambda f: -f.psi) if f.drifted and f.psi > rules.psi_threshold)
    return ShiftEvidence(bool(drifted), len(rows), rules.psi_threshold, drifted, tested=len(table))


def choose_rule(shifted: bool | None, evidence: ShiftEvidence | None) -> tuple[Rule, str | None]:
    """Superiority, or non-inferiority when the data moved; and why, in words for the decision.

    An explicit `shifted` wins; otherwise the drift evidence decides (no evidence: superiority).
    """
    if shifted is True:
        return "non-inferiority", "the data was declared shifted (--shifted)"
    if shifted is False:
        return "superiority", "the data was declared unshifted (--no-shifted)"
    if evidence is None:
        return "superiority", None
    return ("non-inferiority" if evidence.shifted else "superiority"), evidence.summary()


def _served_threshold(model: Model) -> float | None:
    """The binary decision threshold `model` serves with (None: 0.5)."""
    if model.task != "binary":
        return None
    threshold = model.threshold
    return None if threshold is None else float(threshold)


def _check_options(promote: str, holdout: float, margin: float, alpha: float, time_limit: float | None) -> None:
    from kiln.search.budget import Budget

    if promote not in ("auto", "never"):
        raise InvalidOptionError(f"--promote '{promote}' is unknown; use auto or never.")
    if not 0.05 <= holdout <= 0.9:
        raise InvalidOptionError(f"--holdout must lie between 0.05 and 0.9 (the newest share of rows kept for the "
                                 f"gate), got {holdout}.")
    if not (math.isfinite(margin) and margin >= 0):
        raise InvalidOptionError(f"--margin must be a number ≥ 0 in the metric's units, got {margin}.")
    if not (math.isfinite(alpha) and 0 < alpha < 0.5):
        raise InvalidOptionError(f"--alpha must lie between 0 and 0.5 (the gate's one-sided level), got {alpha}.")
    if time_limit is not None:
        Budget(float(time_limit))  # a too-short limit fails now, before the champion is fetched


def kind_gate(model: Model) -> Gate:
    """The retrain hook of the model's kind: which rows count, whether the gate set suffices, the outputs compared."""
    from kiln.kinds import get

    return get(model.kind).hook("retrain")


def _load(path: Path) -> Model:
    from kiln.bundle import load_bundle

    return load_bundle(path)


def _bundle_path(name: str) -> Path:
    """A fresh folder per run: two runs in the same second must not share one."""
    from kiln.settings import default_bundle_path

    path = default_bundle_path(f"{name}-retrain")
    return path.with_name(f"{path.name}-{uuid.uuid4().hex[:6]}")


def _report_path(name: str, version: str, given: Path | None) -> Path:
    from kiln.settings import default_report_path

    return Path(given) if given is not None else default_report_path(f"{name}-v{version}", "retrain")


def _write_report(result: RetrainResult, evidence: GateEvidence) -> None:
    from kiln.data.write import write_text
    from kiln.report.retrain import render_retrain

    write_text(render_retrain(result, evidence, when=time.time()), result.report)


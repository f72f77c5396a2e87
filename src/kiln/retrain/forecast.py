"""The forecast kind's retrain: a challenger fitted on the extended history (minus its newest window),
champion and challenger forecast that newest window from the same history, a Diebold–Mariano test on
their scaled absolute errors decides, and the decision is recorded in the audit table as for tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError


@dataclass
class ForecastDecision:
    promote: bool
    reason: str
    champion: float
    challenger: float
    p_value: float
    statistic: float
    n_steps: int
    metric: str = "mase"
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"promote": self.promote, "reason": self.reason, "metric": self.metric, "champion": self.champion,
                "challenger": self.challenger, "p_value": self.p_value, "statistic": self.statistic,
                "n_rows": self.n_steps, "test": "diebold-mariano"}


@dataclass
class ForecastRetrainResult:
    name: str
    champion_version: str
    challenger_version: str | None
    promoted: bool
    decision: ForecastDecision
    report: Path


class ForecastGate:
    def labelled(self, frame: pd.DataFrame, champion: Any) -> pd.DataFrame:
        """The extended history as the champion reads it (its columns, a regular index)."""
        return champion.read_history(frame)

    def check_gate(self, gate: pd.DataFrame, champion: Any) -> None:
        short = gate.groupby("unique_id").size()
        short = short[short < champion.horizon + 10]
        if len(short):
            raise InvalidDataError(f"Series {short.index[0]!r} has {int(short.iloc[0])} points; retraining needs at "
                                   f"least the horizon + 10 ({champion.horizon + 10}) to fit and judge.")

    def predictions(self, champion: Any, challenger: Any, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """(actuals, champion's, challenger's forecasts) on each series' newest H steps, from the same history."""
        from kiln.forecasters.model import insample_scale

        h = champion.horizon
        groups = {str(k): g.reset_index(drop=True) for k, g in rows.groupby("unique_id", sort=False)}
        history = pd.concat([g.iloc[:-h] for g in groups.values()], ignore_index=True)
        future = pd.concat([g.iloc[-h:].drop(columns=["y"]) for g in groups.values()], ignore_index=True)
        truth = np.concatenate([g["y"].to_numpy(dtype="float64")[-h:] for g in groups.values()])
        scales = np.concatenate([np.full(h, insample_scale(g["y"].to_numpy(dtype="float64")[:-h], champion.m))
                                 for g in groups.values()])
        a = champion.forecast(history, future=future)["prediction"].to_numpy(dtype="float64")
        b = challenger.forecast(history, future=future)["prediction"].to_numpy(dtype="float64")
        return truth, a, b, scales

    def retrain(self, name: str, data: Any, *, champion: Any, champion_ref: Any, promote: str, alpha: float,
                time_limit: float | None, seed: int | None, quiet: bool, report_path: Path | None,
                bundle_path: Path, report_file: Path) -> ForecastRetrainResult:
        from kiln.bundle import save_bundle
        from kiln.data.load import read_table
        from kiln.evaluation.forecast import diebold_mariano
        from kiln.report import training_report
        from kiln.store import registry
        from kiln.training.forecast import TRAINER
        from kiln.training.progress import Reporter, RichReporter

        extended = self.labelled(read_table(data), champion)
        self.check_gate(extended, champion)
        h = champion.horizon
        fit = extended.groupby("unique_id", sort=False, group_keys=False).apply(lambda g: g.iloc[:-h])
        options = {"time_column": "ds", "id_column": "unique_id", "horizon": h, "frequency": champion.freq}
        if champion.known_future:
            options["known_future"] = ",".join(champion.known_future)
        budget = float(time_limit or champion.info.get("time_limit") or 60.0)
        challenger = TRAINER.train(fit.drop(columns=[]), target="y", task="forecast", options=options,
                                   time_limit=budget, seed=int(seed or 0),
                                   reporter=Reporter() if quiet else RichReporter(), started=None)
        challenger.columns = champion.columns  # it reads and writes the user's column names
        truth, a, b, scales = self.predictions(champion, challenger, extended)
        errors_a, errors_b = np.abs(truth - a) / scales, np.abs(truth - b) / scales
        test = diebold_mariano(errors_b, errors_a, h=h)
        one_sided = test.p_value / 2 if test.statistic < 0 else 1 - test.p_value / 2
        better = bool(test.mean_difference < 0 and one_sided < alpha)
        reason = (f"Challenger's MASE {errors_b.mean():.3f} vs champion's {errors_a.mean():.3f} on the newest "
                  f"{h} steps of {len(truth) // h} series (Diebold–Mariano one-sided p = {one_sided:.4f}, "
                  f"alpha {alpha}): " + ("better, promoted." if better else "not shown better, champion kept."))
        decision = ForecastDecision(better, reason, float(errors_a.mean()), float(errors_b.mean()), float(one_sided),
                                    float(test.statistic), len(truth))
        challenger.context = extended.groupby("unique_id", sort=False).tail(2000).reset_index(drop=True)
        challenger._stored = None  # its stored-context forecast starts from the extended history now
        bundle = save_bundle(challenger, bundle_path, report=training_report(challenger))
        registered = registry.register(bundle, name)
        promoted = better and promote == "auto"
        evidence = {**decision.to_dict(), "champion_version": champion_ref.version,
                    "challenger_version": registered.version, "promote_mode": promote}
        if promoted:
            registry.promote(name, registered.version, reason=reason, metrics=evidence)
        else:
            registry.record_decision(name, registered.version, reason=reason, metrics=evidence)
        report_file.parent.mkdir(parents=True, exist_ok=True)
        from kiln.data.write import write_text

        write_text(f"<!doctype html><meta charset='utf-8'><title>Retrain {name}</title><p>{_escape(reason)}</p>",
                   report_file)
        return ForecastRetrainResult(name, str(champion_ref.version), registered.version, promoted, decision,
                                     report_file)


def _escape(text: str) -> str:
    import html

    return html.escape(text)


GATE = ForecastGate()

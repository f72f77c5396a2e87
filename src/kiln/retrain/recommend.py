"""The recommend kind's retrain gate: a challenger trained on the extended interactions, judged against the
champion on the newest interaction of each user, paired over users, promoted only if significantly better.

`retrain_recommender(name, data)`: DATA is the extended interaction table (old and new rows). Each user's
newest interaction (leave-last-out, as in training) is the gate set; the challenger trains on the rest
with the champion's options; both rank the whole catalogue for the gate users (seen items excluded) and
their per-user NDCG@10 is compared (one-sided Wilcoxon, bootstrap interval of the difference). The
challenger is registered either way; promotion (or the kept champion) is written to the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from kiln.errors import InvalidDataError

MIN_GATE_USERS = 20


@dataclass(frozen=True)
class RecommendDecision:
    """The gate's verdict: `promote` when the challenger is significantly better, and why."""

    promote: bool
    reason: str


@dataclass(frozen=True)
class RecommendRetrainResult:
    name: str
    champion_version: str
    challenger_version: str | None
    promoted: bool
    test: dict[str, Any]
    reason: str
    report: Path | None = None

    @property
    def decision(self) -> RecommendDecision:
        passed = self.test["one_sided_p"] < self.test.get("alpha", 0.05) and self.test["difference"] > 0
        return RecommendDecision(bool(passed), self.reason)


class RecommendGate:
    """The recommend kind's retrain hook (kiln.retrain.kind.Gate)."""

    def labelled(self, frame: pd.DataFrame, champion: Any) -> pd.DataFrame:
        """The rows whose user and item the champion knows (others cannot judge it)."""
        c = champion.columns
        for name in (c.user, c.item):
            if name not in frame.columns:
                raise InvalidDataError(f"The new data has no column '{name}' (the champion's); it must hold "
                                       "interactions.")
        known = (champion.user_codes(frame[c.user]) >= 0) & (champion.item_codes(frame[c.item]) >= 0)
        if not known.any():
            raise InvalidDataError("No row of the new data pairs a user and an item the champion knows, so the "
                                   "champion cannot be judged on it.")
        return frame[known]

    def check_gate(self, gate: pd.DataFrame, champion: Any) -> None:
        users = gate[champion.columns.user].nunique()
        if users < MIN_GATE_USERS:
            raise InvalidDataError(f"The gate set has {users} users; the paired test over users needs at least "
                                   f"{MIN_GATE_USERS}: give newer interactions of more users.")

    def predictions(self, champion: Any, challenger: Any, rows: pd.DataFrame) -> tuple[np.ndarray, ...]:
        """(ones, champion's per-user NDCG@10, challenger's) on the same gate users."""
        from kiln.evaluation.ranking import per_user_metrics
        from kiln.evaluation.recommend import K, relevant_by_user

        codes, relevant, _, _ = relevant_by_user(champion, rows)
        users = champion.users[codes]
        champion_index, _ = champion.recommend_codes(codes, K)
        other = challenger.user_codes(users)
        challenger_relevant = [challenger.item_codes(champion.items[r]) for r in relevant]
        challenger_index, _ = challenger.recommend_codes(other, K)
        a = per_user_metrics(champion_index, relevant, K)["ndcg"]
        b = per_user_metrics(challenger_index, challenger_relevant, K)["ndcg"]
        return np.ones(len(codes)), a, b


    def retrain(self, name: str, data: Any, *, champion: Any, champion_ref: Any, promote: str, alpha: float,
                time_limit: float | None, seed: int | None, quiet: bool, report_path: Path | None,
                bundle_path: Path, report_file: Path) -> RecommendRetrainResult:
        """`kiln retrain NAME DATA` for a recommender (kiln.retrain.challenger hands a kind's gate the whole run)."""
        return retrain_recommender(name, data, alpha=alpha, time_limit=time_limit, seed=seed,
                                   promote=promote == "auto", quiet=quiet, champion=champion,
                                   champion_version=str(champion_ref.version), bundle_path=bundle_path,
                                   report_file=report_file)


GATE = RecommendGate()


def retrain_recommender(name: str, data: pd.DataFrame | str | Path, *, alpha: float = 0.05,
                        time_limit: float | None = None, seed: int | None = None, promote: bool = True,
                        quiet: bool = True, champion: Any = None, champion_version: str | None = None,
                        bundle_path: Path | None = None, report_file: Path | None = None) -> RecommendRetrainResult:
    """Train, gate, register and maybe promote a challenger to `name`'s champion (see the module)."""
    import tempfile

    from kiln.bundle import save_bundle
    from kiln.data.load import read_table
    from kiln.evaluation.ranking import one_sided_p, paired_test
    from kiln.kinds import get as get_kind
    from kiln.recommenders.interactions import build, leave_last_out
    from kiln.report import training_report
    from kiln.store.loading import load_model
    from kiln.store.registry import alias_version, record_decision, register
    from kiln.store.registry import promote as promote_version
    from kiln.training.progress import Reporter, RichReporter

    champion = champion if champion is not None else load_model(f"models:/{name}@champion")
    champion_version = champion_version or alias_version(name, "champion") or "?"
    frame = read_table(data).reset_index(drop=True)
    c = champion.columns
    options = {k: v for k, v in champion.manifest["training"]["options"].items() if v is not None}
    interactions = build(frame, c)
    mask = leave_last_out(interactions, seed=0)
    # back to rows of the table: a (user, item) pair's row in the table is its gate row
    keys = pd.DataFrame({"u": interactions.users[interactions.user[mask]],
                         "i": interactions.items[interactions.item[mask]]})
    from kiln.recommenders.interactions import id_keys

    row_keys = pd.DataFrame({"u": id_keys(frame[c.user]), "i": id_keys(frame[c.item])})
    in_gate = row_keys.merge(keys.assign(g=1), on=["u", "i"], how="left")["g"].notna().to_numpy()
    gate = GATE.labelled(frame[in_gate], champion)
    GATE.check_gate(gate, champion)
    limit = time_limit or float(champion.manifest["training"]["time_limit"])
    # the kind's trainer itself, not the public kiln.train: only the CLI and the demo use the public API
    challenger = get_kind("recommend").hook("train").train(
        frame[~in_gate], target=None, task="recommend", options=options, time_limit=limit,
        seed=int(champion.manifest["training"]["seed"] if seed is None else seed),
        reporter=Reporter() if quiet else RichReporter(), started=None)
    _, a, b = GATE.predictions(champion, challenger, gate)
    test = paired_test(b, a, names=("challenger", "champion")).to_dict()
    test["one_sided_p"] = one_sided_p(b, a)
    test["alpha"] = alpha
    better = test["one_sided_p"] < alpha and test["difference"] > 0
    with tempfile.TemporaryDirectory() as folder:
        path = save_bundle(challenger, bundle_path or Path(folder) / "challenger",
                           report=training_report(challenger))
        version = register(path, name).version
    reason = (f"challenger NDCG@10 {test['difference']:+.4f} [{test['low']:+.4f}, {test['high']:+.4f}] vs the "
              f"champion over {test['users']} gate users' newest interactions, one-sided p={test['one_sided_p']:.3g}")
    if better and promote:
        promote_version(name, str(version), reason=f"promoted: {reason}")
    else:
        record_decision(name, str(version), reason=f"kept the champion: {reason}")
    if report_file is not None:
        import html

        from kiln.data.write import write_text

        write_text(f"<!doctype html><meta charset='utf-8'><title>Retrain {html.escape(name)}</title>"
                   f"<p>{html.escape(reason)}</p>", report_file)
    return RecommendRetrainResult(name, champion_version, str(version), bool(better and promote), test, reason,
                                  report_file)

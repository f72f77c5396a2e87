"""The recommend kind's monitor hook: served lists and clicks, judged per time window.

A click (POST /feedback: user, item) is matched to the newest list served to that user
before it; it is a hit if the item was in the list, and scores 1/log2(rank + 1) (live NDCG with one
relevant item). Per window: hit rate and NDCG with bootstrap intervals over clicks, the share of
cold-start requests, coverage of what was served; over the whole window, catalogue drift (clicks on
items the model does not know; the Jensen–Shannon distance between the training popularity and the
clicks, judged against the distance as many clicks drawn from the training popularity reach by chance)
and alerts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial.distance import jensenshannon

from kiln.evaluation.ranking import bootstrap_mean
from kiln.monitor.alerts import Alert, AlertRules

NEW_ITEMS_ALERT = 0.2  # share of clicks on items outside the catalogue
NULL_DRAWS = 200  # samples of the chance level of the popularity shift
COLD_START_ALERT = 0.5


@dataclass
class RecommendTraffic:
    """The served lists (at, request_id, user, k, cold_start, items) and the clicks (at, user, item)."""

    served: pd.DataFrame
    clicks: pd.DataFrame


@dataclass
class RecommendMonitorResult:
    name: str
    version: str
    rows: int
    clicks: int
    windows: list[dict[str, Any]] = field(default_factory=list)
    overall: dict[str, Any] = field(default_factory=dict)
    drift: dict[str, Any] = field(default_factory=dict)
    alerts: list[Alert] = field(default_factory=list)
    rules: AlertRules = field(default_factory=AlertRules)
    previous: dict[str, Any] | None = None
    kind = "recommend"

    def lines(self) -> list[str]:
        """What `kiln monitor` prints for a recommender."""
        o = self.overall
        out = [f"{self.name} version {self.version}: {self.status}; {self.rows:,} lists served, {self.clicks:,} clicks"]
        if o.get("clicks"):
            out.append(f"live hit rate {o['hit_rate']['value']:.3f} [{o['hit_rate']['low']:.3f}, "
                       f"{o['hit_rate']['high']:.3f}], live NDCG {o['ndcg']['value']:.4f} [{o['ndcg']['low']:.4f}, "
                       f"{o['ndcg']['high']:.4f}] over {o['clicks']:,} clicks")
        if o:
            out.append(f"cold-start share {o['cold_start_share']:.2f}, coverage of the catalogue {o['coverage']:.3f}; "
                       f"clicks on unknown items {self.drift.get('new_item_share', 0.0):.2f}, popularity shift "
                       f"(Jensen–Shannon) {self.drift.get('popularity_shift', 0.0):.3f}")
        out += [f"ALERT {a.rule}: {a.message}" for a in self.alerts]
        return out

    @property
    def status(self) -> str:
        if self.rows < self.rules.min_rows:
            return "no data"
        return "alert" if self.alerts else "ok"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "status": self.status, "rows": self.rows,
                "clicks": self.clicks, "windows": self.windows, "overall": self.overall, "drift": self.drift,
                "alerts": [a.to_dict() for a in self.alerts], "previous": self.previous}


def read_traffic(name: str, *, version: str | None = None, since: float | None = None, url: str | None = None,
                 max_rows: int | None = None) -> RecommendTraffic:
    from sqlalchemy import select

    from kiln.store.database import engine
    from kiln.store.tables import ensure_tables, feedback, predictions

    db = engine(url)
    ensure_tables(db)
    query = select(predictions.c.at, predictions.c.request_id, predictions.c.inputs, predictions.c.outputs) \
        .where(predictions.c.model == name).order_by(predictions.c.at)
    if version is not None:
        query = query.where(predictions.c.version == version)
    if since is not None:
        query = query.where(predictions.c.at >= since)
    if max_rows is not None:
        query = query.limit(max_rows)
    clicks_query = select(feedback.c.key, feedback.c.label, feedback.c.at).where(
        feedback.c.model == name, feedback.c.id_column == "__user__")
    if since is not None:
        clicks_query = clicks_query.where(feedback.c.at >= since)
    with db.connect() as connection:
        rows = connection.execute(query).all()
        click_rows = connection.execute(clicks_query).all()
    served = pd.DataFrame({
        "at": [r.at for r in rows], "request_id": [r.request_id for r in rows],
        "user": [str((r.inputs or {}).get("user")) for r in rows], "k": [(r.inputs or {}).get("k") for r in rows],
        "cold_start": [bool((r.inputs or {}).get("cold_start")) for r in rows],
        "items": [list((r.outputs or {}).get("prediction") or []) for r in rows]})
    clicks = pd.DataFrame({"at": [r.at for r in click_rows], "user": [str(r.key) for r in click_rows],
                           "item": [str((r.label or {}).get("item")) for r in click_rows]})
    return RecommendTraffic(served, clicks)


def match_clicks(traffic: RecommendTraffic) -> pd.DataFrame:
    """Each click with the rank of its item in the newest list served to that user before it (0: not in it)."""
    served, clicks = traffic.served, traffic.clicks
    if clicks.empty or served.empty:
        return pd.DataFrame({"at": [], "user": [], "item": [], "rank": [], "served_at": []})
    by_user: dict[str, list[tuple[float, list[str]]]] = {}
    for at, user, items in zip(served["at"], served["user"], served["items"], strict=False):
        by_user.setdefault(user, []).append((at, items))
    ranks, served_at = [], []
    for at, user, item in zip(clicks["at"], clicks["user"], clicks["item"], strict=False):
        lists = [entry for entry in by_user.get(user, []) if entry[0] <= at]
        if not lists:
            ranks.append(-1)
            served_at.append(np.nan)
            continue
        when, items = lists[-1]
        ranks.append(items.index(item) + 1 if item in items else 0)
        served_at.append(when)
    out = clicks.assign(rank=ranks, served_at=served_at)
    return out[out["rank"] >= 0]


def _performance(matched: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    rank = matched["rank"].to_numpy(dtype=float)
    hit = (rank > 0).astype(float)
    ndcg = np.where(rank > 0, 1.0 / np.log2(np.maximum(rank, 1) + 1), 0.0)
    return {"clicks": len(rank), "hit_rate": bootstrap_mean(hit, seed=seed).to_dict(),
            "ndcg": bootstrap_mean(ndcg, seed=seed).to_dict()}


def assess_traffic(model: Any, traffic: RecommendTraffic, *, name: str, version: str, rules: AlertRules,
                   windows: int = 6) -> RecommendMonitorResult:
    served = traffic.served
    result = RecommendMonitorResult(name=name, version=version, rows=len(served), clicks=len(traffic.clicks),
                                    rules=rules)
    if served.empty:
        return result
    matched = match_clicks(traffic)
    edges = np.linspace(served["at"].min(), served["at"].max() + 1e-6, windows + 1)
    for low, high in pairwise(edges):
        window = served[(served["at"] >= low) & (served["at"] < high)]
        clicks = matched[(matched["served_at"] >= low) & (matched["served_at"] < high)]
        listed = {item for items in window["items"] for item in items}
        result.windows.append({"start": float(low), "end": float(high), "requests": len(window),
                               "cold_start_share": float(window["cold_start"].mean()) if len(window) else None,
                               "coverage": len(listed) / max(model.n_items, 1),
                               **(_performance(clicks) if len(clicks) else {"clicks": 0})})
    listed = {item for items in served["items"] for item in items}
    result.overall = {"requests": len(served), "cold_start_share": float(served["cold_start"].mean()),
                      "coverage": len(listed) / max(model.n_items, 1),
                      **(_performance(matched) if len(matched) else {"clicks": 0})}
    result.drift = catalogue_drift(model, traffic.clicks)
    validation = model.manifest.get("validation", {}).get("ndcg@10", {})
    if result.drift.get("new_item_share", 0.0) > NEW_ITEMS_ALERT:
        result.alerts.append(Alert("new_items", f"{result.drift['new_item_share']:.0%} of clicks are on items the "
                                   "model does not know; retrain on the newer interactions.",
                                   result.drift["new_item_share"], NEW_ITEMS_ALERT))
    if result.drift.get("popularity_shifted"):
        result.alerts.append(Alert("popularity_shift", "What users click has moved away from what was popular "
                                   "in training, further than as many clicks drawn from it would by chance.",
                                   result.drift["popularity_shift"], result.drift["popularity_shift_by_chance"]))
    if result.overall["cold_start_share"] > COLD_START_ALERT:
        result.alerts.append(Alert("cold_start", f"{result.overall['cold_start_share']:.0%} of requests are for "
                                   "users the model does not know.", result.overall["cold_start_share"],
                                   COLD_START_ALERT))
    live = result.overall.get("ndcg")
    if rules.performance_below_cv and live and validation and matched.shape[0] >= 30 \
            and live["high"] < validation.get("low", float("-inf")):
        result.alerts.append(Alert("performance", f"Live NDCG {live['value']:.4f} (95% up to {live['high']:.4f}) is "
                                   f"below validation's interval (from {validation['low']:.4f}).", live["value"],
                                   validation["low"]))
    return result


def catalogue_drift(model: Any, clicks: pd.DataFrame) -> dict[str, Any]:
    if clicks.empty:
        return {"new_item_share": 0.0, "popularity_shift": 0.0, "new_items": 0}
    codes = model.item_codes(clicks["item"])
    new = codes < 0
    train = np.asarray((model.seen > 0).sum(axis=0)).ravel().astype(float)
    live = np.bincount(codes[~new], minlength=model.n_items).astype(float)
    reference = np.append(train, 0.0)
    shift = float(jensenshannon(reference, np.append(live, new.sum()), base=2))
    # the same number of clicks drawn from the training popularity is far from it too, by chance alone:
    # the shift is judged against the 95th percentile of that (seeded) null
    rng = np.random.default_rng(0)
    draws = rng.multinomial(len(clicks), reference / reference.sum(), size=NULL_DRAWS)
    null = float(np.quantile([jensenshannon(reference, d, base=2) for d in draws], 0.95))
    return {"new_item_share": float(new.mean()), "new_items": int(pd.Series(clicks["item"][new]).nunique()),
            "popularity_shift": shift, "popularity_shift_by_chance": null, "popularity_shifted": shift > null}


class RecommendMonitoring:
    """The recommend kind's monitor hook (kiln.monitor.kind.Monitoring)."""

    def summarise(self, model: Any, traffic: RecommendTraffic, *, version: str) -> dict[str, Any]:
        """A previous version's window in brief (for the page beside the current one)."""
        matched = match_clicks(traffic)
        return {"version": version, "rows": len(traffic.served), "clicks": len(traffic.clicks),
                **({"performance": _performance(matched)} if len(matched) else {})}

    def traffic(self, name: str, model: Any, *, version: str | None = None, since: float | None = None,
                url: str | None = None, max_rows: int | None = None) -> RecommendTraffic:
        return read_traffic(name, version=version, since=since, url=url, max_rows=max_rows)

    def assess(self, model: Any, traffic: RecommendTraffic, *, name: str, version: str, since: float | None,
               rules: AlertRules, windows: int = 6) -> RecommendMonitorResult:
        return assess_traffic(model, traffic, name=name, version=version, rules=rules, windows=windows)


MONITORING = RecommendMonitoring()

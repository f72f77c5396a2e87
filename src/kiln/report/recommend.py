"""The recommend kind's pages and commands: the training report, `kiln profile --task recommend`
(coded checks RC001–RC007) and `kiln evaluate` of a recommender on newer interactions."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kiln.kinds.outcome import Outcome
from kiln.report.html import Section, paragraph, render_page, table


def _interval(block: Mapping[str, float]) -> str:
    return f"{block['value']:.4f} [{block['low']:.4f}, {block['high']:.4f}]"


class RecommendReports:
    """The recommend kind's report hook (kiln.report.kind.Reports)."""

    def monitor(self, result: Any) -> str:
        """The `kiln monitor` page of a recommender."""
        return _monitor_page(result)

    def training(self, model: Any) -> str:
        m = model.manifest
        v, d, t = m["validation"], m["data"], m["training"]
        how = "each one’s last interaction" if v["split"] == "last" else "interactions after a global time cut"
        facts = [{"fact": "interactions", "value": f"{d['interactions']:,} ({d['users']:,} users × {d['items']:,} "
                                                   f"items, density {d['density']:.4%})"},
                 {"fact": "validation", "value": f"{v['users']:,} users, {how}; full-catalogue ranking, seen items "
                                                 "excluded"},
                 {"fact": "NDCG@10 (headline)", "value": _interval(v["ndcg@10"])},
                 {"fact": "most-popular NDCG@10", "value": f"{v['most_popular_ndcg@10']:.4f}"},
                 {"fact": "Recall@10", "value": _interval(v["recall@10"])},
                 {"fact": "MAP@10", "value": _interval(v["map@10"])},
                 {"fact": "MRR", "value": _interval(v["mrr"])},
                 {"fact": "coverage@10", "value": _interval(v["coverage@10"])},
                 {"fact": "popularity bias (mean percentile)", "value": _interval(v["popularity_bias"])},
                 {"fact": "training", "value": f"{t['seconds']:.1f}s of --time-limit {t['time_limit']:g}s, "
                                               f"{t['trials']} trials, seed {t['seed']}"}]
        components = [{"learner": c["learner"], "weight": round(c["weight"], 3),
                       "parameters": ", ".join(f"{k}={v}" for k, v in sorted(c["params"].items()))}
                      for c in m["components"]]
        board = model.leaderboard()
        columns = [c for c in ("rank", "model", "score", "ci_low", "ci_high", "recall@10", "map@10", "mrr",
                               "coverage@10", "popularity_bias", "fit_s", "status") if c in board.columns]
        tests = m.get("paired_tests", [])
        sections = [
            Section("Summary", "What was learned from what, and how well it ranks the validation users' held-out "
                    "items among the whole catalogue (95% bootstrap intervals over users).",
                    table(facts, ["fact", "value"], headers={"fact": "", "value": ""})),
            Section("The model", "The blend's components, refitted on every interaction; scores are standardised "
                    "per user and added with these weights (chosen greedily on validation NDCG@10).",
                    table(components, ["learner", "weight", "parameters"])),
            Section("Paired tests", "Per-user NDCG@10 of the best candidates, compared on the same users "
                    "(bootstrap interval of the difference, Wilcoxon's p).",
                    table(tests, ["a", "b", "difference", "low", "high", "p_value", "verdict"]) if tests
                    else paragraph("Only one candidate was fitted.")),
            Section("Leaderboard", "Every configuration tried, on validation NDCG@10 with its interval.",
                    table(board.to_dict("records"), columns)),
        ]
        return render_page("Recommender training report", sections,
                           subtitle=f"{d['source']} · users '{m['columns']['user']}', items '{m['columns']['item']}'")


def _monitor_page(result: Any) -> str:
    def cell(block: Any) -> str:
        return _interval(block) if isinstance(block, dict) else "—"

    windows = [{"from": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(w["start"])), "requests": w["requests"],
                "clicks": w.get("clicks", 0), "hit rate": cell(w.get("hit_rate")), "NDCG": cell(w.get("ndcg")),
                "cold-start share": w["cold_start_share"], "coverage": w["coverage"]} for w in result.windows]
    alerts = [a.to_dict() for a in result.alerts]
    return render_page(f"Monitoring of {result.name} (version {result.version})", [
        Section("Summary", "Served lists matched with the clicks that followed them.",
                paragraph(" · ".join(result.lines()))),
        Section("Per window", "Live hit rate and NDCG with 95% bootstrap intervals over clicks.",
                table(windows, list(windows[0]) if windows else ["from"])),
        Section("Catalogue drift", "Clicks on items the model does not know; how far what users click has moved "
                "from what was popular in training.",
                table([result.drift], list(result.drift) or ["new_item_share"])),
        Section("Alerts", "Rules that fired.", table(alerts, ["rule", "message", "value", "threshold"]) if alerts
                else paragraph("None.")),
    ])


class RecommendProfiler:
    """`kiln profile DATA --task recommend` (kiln.report.kind.Profiler)."""

    options = frozenset({"user_column", "item_column", "time_column", "rating_column"})

    def profile(self, data: str, *, target: str | None, options: Mapping[str, Any], ignore: tuple[str, ...],
                out: Path | None) -> Outcome:
        from kiln.data.load import read_table
        from kiln.data.write import write_text
        from kiln.recommenders.checks import check_interactions
        from kiln.settings import default_report_path
        from kiln.training.recommend import columns_from

        columns = columns_from(options)
        frame = read_table(data)
        for role, name in columns.to_dict().items():
            if name is not None and name not in frame.columns:
                from kiln.errors import InvalidOptionError

                raise InvalidOptionError(f"--{role}-column '{name}' is not a column of {Path(data).name}.")
        findings = check_interactions(frame, columns, ignore=ignore)
        users, items = frame[columns.user].nunique(), frame[columns.item].nunique()
        facts = {"rows": len(frame), "users": int(users), "items": int(items),
                 "density": len(frame) / max(users * items, 1)}
        rows = [f.to_dict() for f in findings]
        page = render_page(f"Interaction profile of {Path(data).name}", [
            Section("Summary", "The interaction table as kiln reads it.",
                    table([{"fact": k, "value": v} for k, v in facts.items()], ["fact", "value"],
                          headers={"fact": "", "value": ""})),
            Section("Findings", "Coded checks (RC001–RC007); silence one with --ignore CODE.",
                    table(rows, ["code", "severity", "title", "column", "detail", "advice"]) if rows
                    else paragraph("No findings.")),
        ])
        path = write_text(page, out or default_report_path(Path(data).stem, "profile"))
        lines = [f"{len(frame):,} interactions · {users:,} users · {items:,} items "
                 f"(density {facts['density']:.4%})"]
        lines += [f"{f.code} {f.severity}: {f.detail} {f.advice}" for f in findings] or ["no findings"]
        return Outcome(lines=tuple(lines), data={**facts, "findings": rows}, path=path,
                       failed=any(f.severity == "error" for f in findings))


class RecommendEvaluator:
    """`kiln evaluate MODEL DATA` for a recommender (kiln.report.kind.Evaluator)."""

    def evaluate(self, model: Any, data: str, *, out: Path | None) -> Outcome:
        from kiln.data.load import read_table
        from kiln.data.write import write_text
        from kiln.evaluation.recommend import item_percentiles, judge_on
        from kiln.settings import default_report_path

        frame = read_table(data)
        held = judge_on(model, frame)
        result = held.summary(model.n_items, item_percentiles(model), seed=int(model.manifest.get("training", {})
                                                                               .get("seed", 0)))
        rows = [{"metric": name, "model": _interval(result["model"][name]),
                 "most_popular": _interval(result["most_popular"][name])} for name in result["model"]]
        test = result["paired_test"]
        page = render_page(f"Evaluation of a recommender on {Path(data).name}", [
            Section("Metrics", f"{result['users']:,} users' held-out items ranked among all {model.n_items:,} "
                    "items, seen items excluded; 95% bootstrap intervals over users.",
                    table(rows, ["metric", "model", "most_popular"])),
            Section("Paired test", "Per-user NDCG@10 of the model against the most-popular list.",
                    table([test], ["a", "b", "difference", "low", "high", "p_value", "verdict"])),
            Section("Coverage of the data", "Rows that could not be judged.",
                    table([{"fact": "rows", "value": result["rows"]},
                           {"fact": "rows of users unknown to the model", "value": result["unknown_users"]},
                           {"fact": "rows of items unknown to the model", "value": result["unknown_items"]}],
                          ["fact", "value"], headers={"fact": "", "value": ""})),
        ])
        path = write_text(page, out or default_report_path(Path(data).stem, "evaluation"))
        lines = [f"{result['users']:,} users judged ({result['unknown_users']:,} rows of unknown users skipped)"]
        lines += [f"{r['metric']}: {r['model']}  (most popular {r['most_popular']})" for r in rows]
        lines.append(f"paired test vs most popular: NDCG@10 {test['difference']:+.4f} "
                     f"[{test['low']:+.4f}, {test['high']:+.4f}], p={test['p_value']:.3g} ({test['verdict']})")
        return Outcome(lines=tuple(lines), data=result, path=path)


REPORTS = RecommendReports()
PROFILER = RecommendProfiler()
EVALUATOR = RecommendEvaluator()

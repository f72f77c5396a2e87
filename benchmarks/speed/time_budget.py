"""Does `kiln train --time-limit T` end within T + max(10%, 5 s)? Wall time of the
whole command (interpreter start, reading, search, ensemble, saving) on AI4I 2020.

    python benchmarks/speed/time_budget.py [--limits 10 30 60]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "ai4i2020.csv"  # shipped, CC BY 4.0


def run(limit: float, folder: Path) -> dict:
    import pandas as pd

    table = folder / "ai4i.csv"
    if not table.exists():
        pd.read_csv(DATA).drop(columns=["TWF", "HDF", "PWF", "OSF", "RNF"]).to_csv(table, index=False)
    out = folder / f"model_{limit:g}"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "kiln.cli", "train", str(table), "--target", "Machine failure",
                    "--time-limit", str(limit), "--out", str(out), "--quiet"], check=True,
                   capture_output=True)
    wall = time.perf_counter() - started
    manifest = json.loads((out / "kiln.json").read_text())
    allowed = limit + max(0.1 * limit, 5.0)
    return {"limit": limit, "wall": wall, "allowed": allowed, "trials": manifest["training"]["trials"],
            "lost": manifest["training"]["trials_lost_at_deadline"], "score": manifest["cv"]["score"]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limits", type=float, nargs="+", default=[10, 30, 60])
    limits = parser.parse_args().limits
    with tempfile.TemporaryDirectory() as tmp:
        rows = [run(limit, Path(tmp)) for limit in limits]
    lines = ["| --time-limit | wall s (whole command) | allowed | within | trials | stopped at deadline | CV ROC AUC |",
             "|---:|---:|---:|:--|---:|---:|---:|"]
    for r in rows:
        ok = "yes" if r["wall"] <= r["allowed"] else "**no**"
        lines.append(f"| {r['limit']:g} | {r['wall']:.1f} | {r['allowed']:.1f} | {ok} | {r['trials']} | "
                     f"{r['lost']} | {r['score']:.4f} |")
    body = (f"## Time budget: `kiln train` on AI4I 2020 (10,000 rows)\n\n"
            f"Measured {time.strftime('%Y-%m-%d')} on this 2-core machine; allowed = limit + max(10%, 5 s).\n\n"
            + "\n".join(lines))
    write_section("time-budget", body)
    print(body)


if __name__ == "__main__":
    main()

"""How long `kiln demo` takes, end to end, as a newcomer runs it (target: under 3 minutes on 2 cores).

    python benchmarks/demo.py      # writes the "demo" section of benchmarks/RESULTS.md
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import write_section

TARGET_SECONDS = 180


def main() -> None:
    kiln = str(Path(sys.executable).with_name("kiln"))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        run = subprocess.run([kiln, "demo", "--out", f"{folder}/kiln-demo"], capture_output=True, text=True,
                             cwd=folder, env={**os.environ, "COLUMNS": "200"}, timeout=900)
        seconds = time.perf_counter() - started
    output = run.stdout
    steps = re.findall(r"^\s*(\d+)\. (\w[\w ]*?) \((\d+) s\)", output, flags=re.M)
    promoted = "promoted:" in output
    gate = re.search(r"(promoted|kept the champion): (.*?)\n\n", output, flags=re.S)
    rows = [f"| {n}. {title} | {at} s |" for n, title, at in steps]
    body = "\n".join([
        "## `kiln demo` end to end",
        "",
        f"`kiln demo` on this 2-core machine: **{seconds:.0f} s** wall time (target < {TARGET_SECONDS} s: "
        f"{'met' if seconds < TARGET_SECONDS else 'MISSED'}), exit code {run.returncode}; 1-minute load average "
        f"before the run {load_before:.1f}.",
        "",
        "| step | started at |",
        "|---|---|",
        *rows,
        "",
        f"Challenger promoted: {'yes' if promoted else 'no'}."
        + (f" Gate: {' '.join(gate.group(2).split())}" if gate else ""),
    ])
    write_section("demo", body)
    print(body)


if __name__ == "__main__":
    main()

"""How long `kiln --help` takes (target: under 0.5 s), as a user runs it.

    python benchmarks/speed/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section

TARGET_SECONDS = 0.5


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(runs: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds (user + system) of each run; CPU time barely moves with other load."""
    kiln = shutil.which("kiln") or str(Path(sys.executable).parent / "kiln")
    subprocess.run([kiln, "--help"], capture_output=True, check=True)  # warm the file cache
    walls, cpus = [], []
    for _ in range(runs):
        started, cpu = time.perf_counter(), _child_cpu()
        subprocess.run([kiln, "--help"], capture_output=True, check=True)
        walls.append(time.perf_counter() - started)
        cpus.append(_child_cpu() - cpu)
    return walls, cpus


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    load = os.getloadavg()[0]
    times, cpus = measure(parser.parse_args().runs)
    median, worst = statistics.median(times), max(times)
    verdict = "meets" if worst < TARGET_SECONDS else "MISSES"
    body = f"""## CLI start-up: `kiln --help`

{len(times)} runs on this {os.cpu_count()}-core machine, {time.strftime('%Y-%m-%d')}: median **{median:.3f} s** wall,
slowest {worst:.3f} s; {verdict} the {TARGET_SECONDS} s target. CPU time (user + system) per run:
median {statistics.median(cpus):.3f} s, the command's own cost, which other load barely changes.
1-minute load average before the runs: {load:.2f} (above the core count, wall time includes
waiting for a core). Heavy libraries (pandas, scikit-learn, the boosters) are imported only
inside the commands that need them.
"""
    write_section("cli", body)
    print(body)


if __name__ == "__main__":
    main()

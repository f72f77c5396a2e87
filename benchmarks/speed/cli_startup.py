"""How long `kiln --help` takes (target: under 0.5 s), as a user runs it.

    python benchmarks/speed/cli_startup.py [--runs 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sections import write_section

TARGET_SECONDS = 0.5


def measure(runs: int) -> list[float]:
    kiln = shutil.which("kiln") or str(Path(sys.executable).parent / "kiln")
    subprocess.run([kiln, "--help"], capture_output=True, check=True)  # warm the file cache
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([kiln, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    times = measure(parser.parse_args().runs)
    median, worst = statistics.median(times), max(times)
    verdict = "meets" if worst < TARGET_SECONDS else "MISSES"
    body = f"""## CLI start-up: `kiln --help`

{len(times)} runs on this 2-core machine, {time.strftime('%Y-%m-%d')}: median **{median:.3f} s**,
slowest {worst:.3f} s; {verdict} the {TARGET_SECONDS} s target. Heavy libraries (pandas,
scikit-learn, the boosters) are imported only inside the commands that need them.
"""
    write_section("cli", body)
    print(body)


if __name__ == "__main__":
    main()

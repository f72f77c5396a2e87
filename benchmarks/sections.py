"""Replace one marked section of benchmarks/RESULTS.md, leaving the others alone.

Every section ends with a stamp saying which script wrote it, when, and which commit it
measured (and whether the measured code had uncommitted changes), so that every number in
RESULTS.md can be traced to the run that produced it. The file is rewritten atomically
under a lock: several benchmarks may finish at once.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
ROOT = RESULTS.parents[1]
STAMP = "<sub>Written by"
MEASURED = ("src", "benchmarks", "pyproject.toml")  # what a benchmark's numbers depend on


def _git(*args: str) -> str:
    try:
        done = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.rstrip("\n") if done.returncode == 0 else ""


def measured_commit() -> str:
    """The commit checked out, and the uncommitted changes to the code, as one phrase."""
    commit = _git("rev-parse", "--short=10", "HEAD").strip() or "unknown (not a git checkout)"
    changed = [line[3:] for line in _git("status", "--porcelain", "--", *MEASURED).splitlines()
               if not line[3:].endswith("RESULTS.md")]
    if not changed:
        return commit
    shown = ", ".join(sorted(changed)[:6]) + (f" and {len(changed) - 6} more" if len(changed) > 6 else "")
    return f"{commit}, with uncommitted changes to {shown}"


# The commit when the benchmark started: scripts import this module first, and others may
# commit to a shared tree while a long run goes on.
AT_START = measured_commit()


def provenance(script: str | None = None) -> str:
    """One line: the script, the UTC time, the commit measured and any uncommitted changes to the code."""
    script = script or sys.argv[0]
    try:
        script = Path(script).resolve().relative_to(ROOT).as_posix()
    except ValueError:
        script = Path(script).name
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    at_end = measured_commit()
    if at_end.split(",")[0] == AT_START.split(",")[0]:
        return f"{STAMP} `{script}` on {when}, measuring commit {at_end}.</sub>"
    return (f"{STAMP} `{script}` on {when}, measuring a working tree that moved during the run: commit "
            f"{AT_START} when it started, {at_end} when it ended.</sub>")


def write_section(name: str, body: str, path: Path = RESULTS, script: str | None = None) -> None:
    """Put `body` (and its provenance stamp) between the section's markers, or append it."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    block = f"{start}\n{body.strip()}\n\n{provenance(script)}\n{end}"
    folder = os.open(path.parent, os.O_RDONLY)  # the lock: the folder survives the file's replacement
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        text = path.read_text() if path.exists() else "# Benchmark results\n"
        if start in text and end in text:
            head, rest = text.split(start, 1)
            text = head + block + rest.split(end, 1)[1]
        else:
            text = text.rstrip() + "\n\n" + block + "\n"
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(handle, "w") as out:
            out.write(text)
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    finally:
        os.close(folder)  # releases the lock

"""A newcomer's first command, timed: a fresh venv, `pip install -e .`, then `kiln demo`.

    python benchmarks/first_run.py      # writes the "first-run" sections of README.md and benchmarks/RESULTS.md

Runs the README's set-up command in two timed parts, in a temporary folder, as a newcomer
would: a new virtual environment with no pip cache (`--no-cache-dir`), so every package is
fetched from the package index pip is configured with (here a local mirror of PyPI: the
fetch is a file copy, so a download over the internet adds its own time), then `kiln demo`
in a fresh folder. The machine's load (1-minute average, before and after) and its core
count are recorded beside the times: on a shared machine both parts run slower.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sections import ROOT, write_section


def _run(command: list[str], cwd: Path, timeout: float) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PIP_NO_CACHE_DIR": "1", "COLUMNS": "200"})
    return time.perf_counter() - started, done


def _pip_index() -> str:
    done = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    urls = re.findall(r"index-url='([^']+)'", done.stdout)
    return ", ".join(urls) if urls else "PyPI (pip's default)"


def main() -> None:
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        venv = folder / ".venv"
        python = venv / "bin" / "python"
        made, _ = _run([sys.executable, "-m", "venv", str(venv)], folder, 300)
        installed, install = _run([str(python), "-m", "pip", "install", "--no-cache-dir", "-e", str(ROOT)], folder,
                                  3600)
        if install.returncode != 0:
            raise SystemExit(f"pip install failed:\n{install.stdout[-3000:]}\n{install.stderr[-3000:]}")
        listed = subprocess.run([str(python), "-m", "pip", "list", "--format", "json"], capture_output=True,
                                text=True, check=True)
        packages = len(json.loads(listed.stdout))
        site = next((venv / "lib").glob("python*/site-packages"))
        size = sum(f.stat().st_size for f in site.rglob("*") if f.is_file() and not f.is_symlink())
        load_between = os.getloadavg()[0]
        demo_seconds, demo = _run([str(venv / "bin" / "kiln"), "demo", "--out", str(folder / "kiln-demo")], folder,
                                  3600)
        shutil.rmtree(folder / "kiln-demo", ignore_errors=True)
    load_after = os.getloadavg()[0]
    steps = _steps(demo.stdout)
    install_minutes = (made + installed) / 60
    body = "\n".join([
        f"Set-up on a {os.cpu_count()}-core machine, timed by `benchmarks/first_run.py`: a new venv and "
        f"`pip install -e .` took **{install_minutes:.1f} minutes** ({packages} packages installed, "
        f"{size / 1e9:.1f} GB on disk, each fetched with no pip cache from the package index {_pip_index()}); then "
        f"`kiln demo` took **{demo_seconds / 60:.1f} minutes** (exit code {demo.returncode}). "
        f"1-minute load average: {load_before:.1f} before the install, {load_between:.1f} before the demo, "
        f"{load_after:.1f} after. A download from PyPI over the internet adds its own time to the install; "
        "on a busy machine both parts take longer.",
    ])
    detail = "\n".join([
        "## First run: install and `kiln demo`",
        "",
        body,
        "",
        "| demo step | took |",
        "|---|---:|",
        *[f"| {n}. {title} | {took} s |" for n, (title, took) in enumerate(steps, start=1)],
    ])
    write_section("first-run", body, path=ROOT / "README.md", script=__file__)
    write_section("first-run", detail, script=__file__)
    print(detail)
    if demo.returncode != 0:
        print(demo.stdout[-3000:], demo.stderr[-3000:], file=sys.stderr)


def _steps(stdout: str) -> list[tuple[str, str]]:
    """(step, seconds) from the demo's closing line "Each step took: Generate 1 s · Train 41 s · …."."""
    text = " ".join(stdout.split())  # the console wraps long lines
    found = re.search(r"Each step took: (.*?)\.(?: |$)", text)
    if found is None:
        return []
    return re.findall(r"([A-Za-z][\w ,/-]*?) (\d+) s(?: ·|$)", found.group(1))


if __name__ == "__main__":
    main()

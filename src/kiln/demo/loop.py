"""What every kind's demo does around its own steps: run a kiln command, start and stop a real server on
127.0.0.1, call it, and print numbered steps with the time they started at.

The kinds' demos (forecast, recommend, image, text) drive kiln as a user would, through the CLI in a
subprocess and the server over HTTP, so these helpers stay thin wrappers of subprocess and urllib."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from kiln.errors import KilnError

# kiln profile (and monitor) exit 1 when a check fails or an alert fires: the demo shows that, it is no error.
_FINDINGS_EXIT = {"profile": (0, 1), "monitor": (0, 1)}


def call(url: str, payload: dict[str, Any] | None = None, *, timeout: float = 60) -> dict[str, Any]:
    """GET `url`, or POST `payload` as JSON; the JSON answer."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout) as response:  # the demo's own server on 127.0.0.1
        return json.loads(response.read())


def kiln_command(*args: str, env: dict[str, str] | None = None) -> str:
    """`kiln ARGS` in a subprocess; its standard output, or a KilnError with the last line it printed."""
    done = subprocess.run([sys.executable, "-m", "kiln.cli", *args], capture_output=True, text=True, env=env)
    if done.returncode not in _FINDINGS_EXIT.get(args[0], (0,)):
        last = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"
        raise KilnError(f"kiln {args[0]} failed: {last}")
    return done.stdout


def start_server(target: str, folder: Path, *, env: dict[str, str] | None = None,
                 ready_within: float = 120) -> tuple[subprocess.Popen, str]:
    """`kiln serve TARGET` on a free port, its output in folder/server.log; (process, url) once /ready says so."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = folder / "server.log"
    with log.open("w") as output:
        process = subprocess.Popen([sys.executable, "-m", "kiln.cli", "serve", target, "--port", str(port)],
                                   stdout=output, stderr=subprocess.STDOUT, env=env or dict(os.environ))
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + ready_within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise KilnError(f"The demo server exited ({process.returncode}); see {log}.")
        try:
            if call(f"{url}/ready", timeout=5).get("status") == "ready":
                return process, url
        except OSError:
            time.sleep(0.25)
    process.terminate()
    raise KilnError(f"The demo server was not ready within {ready_within:.0f} s; see {log}.")


def stop_server(process: subprocess.Popen) -> None:
    """SIGTERM (the server drains and flushes its log), then wait for it."""
    if process.poll() is None:
        process.terminate()
        process.wait(30)


def step_printer(console: Any) -> Callable[[str], None]:
    """A function printing a step's title in bold with the minutes:seconds since the demo began."""
    began = time.time()

    def step(title: str) -> None:
        elapsed = int(time.time() - began)
        console.print(f"\n[bold]{title}[/bold] [dim](at {elapsed // 60}:{elapsed % 60:02d})[/dim]")

    return step

"""Process-wide serving state, and the check a new version passes before it may be swapped in.

A model that passes every check kiln knows can still take a process down in a library's
compiled code (a segmentation fault is not an exception). So a server following an alias
loads each new version first in a separate Python process, `python -m kiln.serve.lifecycle
models:/NAME/VERSION`, which resolves it (verified download into the shared cache), loads
it, compiles and warms it up, and predicts once through every path a request can take.
Only a version whose process exited 0 is then loaded beside the served one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

DRAINING = threading.Event()  # set on SIGTERM: /ready answers 503 while in-flight requests finish
VERIFY_TIMEOUT_S = 600.0  # a first download of a large bundle, its fast-path self-check, and a batch
_CHILD_ENV = {"PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1", "MLFLOW_LOGGING_LEVEL": "ERROR"}


def verify_in_child(source: str, *, timeout_s: float = VERIFY_TIMEOUT_S) -> str | None:
    """Load and predict with `source` in a child process: None if that worked, else why it did not."""
    return run_child([sys.executable, "-m", "kiln.serve.lifecycle", source], timeout_s=timeout_s)


def run_child(argv: list[str], *, timeout_s: float) -> str | None:
    """Run `argv`; None on exit 0, else one line: the signal that killed it, or its last error line."""
    env = {**_CHILD_ENV, **os.environ}
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired:
        return f"the verifying process did not finish within {timeout_s:.0f} s"
    if done.returncode == 0:
        return None
    if done.returncode < 0:
        try:
            name = signal.Signals(-done.returncode).name
        except ValueError:
            name = f"signal {-done.returncode}"
        return f"the verifying process died with {name}"
    lines = [line.strip() for line in done.stderr.splitlines() if line.strip()]
    return f"the verifying process exited with {done.returncode}: {lines[-1][:300] if lines else 'no message'}"


def _verify(source: str) -> None:
    """What a request may do with the model: the fast path for one row and for a batch, and the
    libraries' own path (`Model.predict_raw`)."""
    import pandas as pd

    from kiln.serve.decode import decode_records
    from kiln.serve.fast_path import NATIVE_BATCH_ROWS
    from kiln.serve.served import ServedModel, typical_record

    served = ServedModel.load(source)  # resolve, verify, load, compile, warm up
    record = typical_record(served.model)
    served.predict_raw(decode_records([record] * (NATIVE_BATCH_ROWS + 1), served.model.schema))
    served.model.predict_raw(pd.DataFrame([record] * 3))


def _main(argv: list[str]) -> int:
    from kiln.errors import KilnError

    if len(argv) != 1:
        print("usage: python -m kiln.serve.lifecycle MODEL", file=sys.stderr)
        return 2
    try:
        _verify(argv[0])
    except KilnError as exc:
        print(" ".join(str(exc).split()), file=sys.stderr)
        return 2
    except Exception as exc:
        print(f"{type(exc).__name__}: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))

"""Process-wide serving state the signal handler sets and /ready reads."""

from __future__ import annotations

import threading

DRAINING = threading.Event()  # set on SIGTERM: /ready answers 503 while in-flight requests finish

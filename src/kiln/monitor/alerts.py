"""Alert rules: when monitoring should wake someone up, from `kiln.toml` or flags.

    [monitor]
    psi_threshold = 0.2        # PSI above this on any of the top features...
    top_features = 5           # ...ranked by mean |SHAP| on the reference
    performance_below_cv = true  # live (or estimated) metric worse than the CV interval, in its direction
    min_rows = 100             # fewer served rows in the window: no verdict
    webhook = "https://hooks.example.com/kiln"   # optional: POST the alerts as JSON

A rule that fires makes `kiln monitor` exit 1, writes a log line, and posts to the webhook.
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from kiln.errors import InvalidOptionError

_log = logging.getLogger("kiln.monitor")


@dataclass(frozen=True)
class AlertRules:
    psi_threshold: float = 0.2
    top_features: int = 5
    performance_below_cv: bool = True
    min_rows: int = 100
    webhook: str | None = None

    @classmethod
    def load(cls, path: Path | None = None, **overrides: Any) -> AlertRules:
        """Defaults, then `[monitor]` of `path` (default ./kiln.toml if present), then non-None overrides."""
        rules = cls()
        path = path or Path("kiln.toml")
        if path.is_file():
            rules = replace(rules, **_read_section(path))
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(rules, **given)


@dataclass(frozen=True)
class Alert:
    rule: str
    message: str
    value: float
    threshold: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def send_webhook(url: str, payload: dict[str, Any], *, timeout: float = 5.0) -> str | None:
    """POST `payload` as JSON; returns an error text instead of raising (an alert must not crash monitoring)."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode(), method="POST",
                                     headers={"content-type": "application/json", "user-agent": "kiln-monitor"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return None if response.status < 400 else f"HTTP {response.status}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return str(exc)


def _read_section(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        section = tomllib.loads(path.read_text()).get("monitor", {})
    except tomllib.TOMLDecodeError as exc:
        raise InvalidOptionError(f"'{path}' is not valid TOML ({exc}); fix the [monitor] section.") from None
    known = {f.name: f.type for f in fields(AlertRules)}
    unknown = sorted(set(section) - set(known))
    if unknown:
        raise InvalidOptionError(f"'{path}' [monitor] has unknown key(s) {unknown}; known: {sorted(known)}.")
    return section

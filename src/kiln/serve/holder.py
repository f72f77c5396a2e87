"""Which model answers now, and how it changes: following a registry alias without a failed request.

A request reads `holder.current` once and uses that object to the end, so every
response comes from one version. A server started with `models:/NAME@ALIAS` re-reads
the alias every `follow_interval_s`; a new version is first loaded and tried in a child
process (`lifecycle.verify_in_child`: a version that would crash the process takes only
the child down), then loaded and warmed up beside the old one and swapped in with one
assignment. A version that fails either step is logged and skipped, and the old one
keeps serving.
"""

from __future__ import annotations

import logging
import re
import threading

from kiln.serve.lifecycle import verify_in_child
from kiln.serve.served import ServedModel

_log = logging.getLogger("kiln.serve")
_ALIAS_URI = re.compile(r"^models:/(?P<name>[^/@]+)@(?P<alias>[\w-]+)$")


class ModelHolder:
    """The served model, readiness, and the thread that follows an alias."""

    def __init__(self, source: str, *, follow_interval_s: float = 2.0) -> None:
        self.source = source
        self.follow_interval_s = follow_interval_s
        self.current: ServedModel | None = None
        self.swaps = 0
        self.failed_versions: set[str] = set()
        self.verified_versions: set[str] = set()  # passed the child-process check once; not checked again
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def ready(self) -> bool:
        return self.current is not None

    def load(self) -> ServedModel:
        """Load the model named at start-up (errors propagate: a server without a model must not start)."""
        self.current = ServedModel.load(self.source)
        self.verified_versions.add(self.current.version)  # it loaded and warmed up in this process
        match = _ALIAS_URI.match(self.source)
        if match and self._thread is None:
            self._thread = threading.Thread(target=self._follow, args=(match["name"], match["alias"]),
                                            name="kiln-follow-alias", daemon=True)
            self._thread.start()
        return self.current

    def stop(self) -> None:
        self._stop.set()

    def check_alias(self, name: str, alias: str) -> bool:
        """Swap to the alias's version if it moved and loads; True when a swap happened."""
        from kiln.store.registry import alias_version

        version = alias_version(name, alias)
        current = self.current
        if version is None or current is None or version == current.version or version in self.failed_versions:
            return False
        if version not in self.verified_versions:
            reason = verify_in_child(f"models:/{name}/{version}")
            if reason is not None:
                self.failed_versions.add(version)
                _log.error("version %s of %s failed to load (%s); version %s keeps serving", version, name, reason,
                           current.version)
                return False
            self.verified_versions.add(version)
        try:
            replacement = ServedModel.load(f"models:/{name}/{version}", version=version)
        except Exception as exc:
            self.failed_versions.add(version)
            _log.error("version %s of %s failed to load (%s); version %s keeps serving", version, name, exc,
                       current.version)
            return False
        replacement.source = self.source
        self.current = replacement
        self.swaps += 1
        _log.warning("now serving %s version %s (was %s)", name, version, current.version)
        return True

    def _follow(self, name: str, alias: str) -> None:
        while not self._stop.wait(self.follow_interval_s):
            try:
                self.check_alias(name, alias)
            except Exception as exc:  # the registry is unreachable: keep serving, try again later
                _log.warning("cannot read %s@%s from the registry (%s)", name, alias, exc)

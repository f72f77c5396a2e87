"""The one exception tree of kiln.

    KilnError
    ├── InvalidDataError (also ValueError)   the user's table or column is unusable
    ├── InvalidOptionError (also ValueError) an option value makes no sense
    ├── BundleError                          a model bundle is missing, corrupt or tampered
    └── MissingDependencyError (also ImportError)  an optional extra is not installed

Every message says what is wrong, what was received and what to do. The CLI prints
the message on one line and exits with code 2; nothing else is shown to the user.
"""

from __future__ import annotations


class KilnError(Exception):
    """Base of every error kiln raises on purpose."""


class InvalidDataError(KilnError, ValueError):
    """The input table, a column or the target cannot be used as given."""


class InvalidOptionError(KilnError, ValueError):
    """An option (task, metric, time limit, ...) has a value kiln cannot accept."""


class BundleError(KilnError):
    """A model bundle cannot be read, or does not match its checksums."""


class MissingDependencyError(KilnError, ImportError):
    """An optional dependency is missing; the message names the pip command."""

"""Load skops files with an explicit allow-list of trusted types.

skops refuses any type it does not trust by default; we add only the types kiln's own
pipelines contain. A bundle holding anything else is refused, never unpickled.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kiln.errors import BundleError

TRUSTED_TYPES: frozenset[str] = frozenset({
    "kiln.prep.transformers.DatetimeFeatures",
    "kiln.prep.transformers.TextStatistics",
    "kiln.prep.transformers.TextColumn",
    "numpy.dtype",
    # HistGradientBoosting keeps `partial(check_array, ...)`; skops still checks the
    # wrapped function by name, so trusting `partial` trusts nothing else.
    "functools.partial",
    "sklearn.utils.validation.check_array",
    "sklearn.tree._tree.Tree",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
})


def load_skops(path: Path, trusted: list[str] | None = None) -> Any:
    """Load `path` if every type it needs is on kiln's allow-list (plus `trusted`)."""
    import skops.io as sio

    allowed = TRUSTED_TYPES | set(trusted or ())
    needed = sio.get_untrusted_types(file=path)
    refused = sorted(set(needed) - allowed)
    if refused:
        raise BundleError(
            f"'{path}' needs types kiln does not trust: {refused[:5]}; the bundle was not written "
            "by kiln or has been altered. Retrain, or load it only if you trust its source."
        )
    return sio.load(path, trusted=list(needed))

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
    "builtins.slice",
    "numpy.dtype",
    "sklearn.utils._bunch.Bunch",
    "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn._loss.link.IdentityLink",
    "sklearn._loss.link.LogitLink",
    "sklearn._loss.link.MultinomialLogit",
    "sklearn._loss.link.Interval",
    "sklearn._loss.loss.HalfSquaredError",
    "sklearn._loss.loss.HalfBinomialLoss",
    "sklearn._loss.loss.HalfMultinomialLoss",
    "sklearn._loss._loss.CyHalfSquaredError",
    "sklearn._loss._loss.CyHalfBinomialLoss",
    "sklearn._loss._loss.CyHalfMultinomialLoss",
    "sklearn.neighbors._kd_tree.KDTree",
    "sklearn.neighbors._ball_tree.BallTree",
    "sklearn.metrics._dist_metrics.EuclideanDistance64",
    "sklearn.metrics._dist_metrics.MinkowskiDistance64",
    "sklearn.utils._metadata_requests.MetadataRequest",
    "collections.OrderedDict",
    "collections.defaultdict",
    "builtins.int",
    "builtins.float",
    "builtins.bool",
    "builtins.str",
    "builtins.tuple",
    "builtins.list",
    "builtins.dict",
    "builtins.object",
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

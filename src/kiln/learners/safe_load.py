"""Load skops files with an explicit allow-list of trusted types, then check the trees inside.

skops refuses any type it does not trust by default; we add only the types kiln's own
pipelines contain. A bundle holding anything else is refused, never unpickled.

The allow-list says which *types* may load, not that their arrays are sane. scikit-learn's
compiled tree walks index node arrays without bounds checks, so one child index pointing
outside a tree makes `predict` read (or write) arbitrary memory and the process dies with
a segmentation fault. `check_structures` validates every decision tree, HistGradientBoosting
predictor and KD/ball tree in a loaded object before first use: child indices inside the
tree and after their parent (so every walk ends at a leaf), feature indices inside the
input, value shapes, category bitset rows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from kiln.errors import BundleError

TRUSTED_TYPES: frozenset[str] = frozenset({
    "kiln.prep.transformers.DatetimeFeatures",
    "kiln.prep.transformers.TextStatistics",
    "kiln.prep.transformers.TextColumn",
    "kiln.prep.text.Tfidf",
    "kiln.prep.text.TextStack",
    "kiln.prep.embed.SentenceEmbedding",  # keeps the model's version and dim; the weights load from the package
    "numpy.dtype",
    # The only callables trusted, and only because scikit-learn itself stores them: a
    # HistGradientBoosting model with native categorical features keeps
    # `_preprocessor = ColumnTransformer(..., FunctionTransformer(partial(check_array, ...)))`
    # (tests/unit/learners/test_safe_load.py::test_hist_gradient_boosting_with_native_categoricals_needs_
    # partial_and_check_array). skops rebuilds a partial from child nodes and checks the wrapped
    # function by its own name, so a `partial(os.system, ...)` still needs `posix.system`
    # trusted and is refused (test_partial_wrapping_another_function_is_refused).
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

MAX_DEPTH = 64  # how deep `check_structures` looks for trees inside nested estimators and lists
CATEGORY_LIMIT = 256  # HistGradientBoosting's category bitsets hold codes 0..255 (8 x 32 bits)


def skops_io() -> Any:
    """`skops.io`, imported without importing PyTorch when it is not imported yet.

    skops builds its trusted-type list from `sklearn.utils.all_estimators()`, whose package walk
    imports every scikit-learn package, `sklearn.externals.array_api_compat.torch` among them, and
    that imports torch (3.6 s of a 5.4 s `import skops.io` with the vision extra installed, on two
    busy cores). The walk skips a package whose import fails, so while this thread imports skops a
    finder refuses torch; scikit-learn imports that package on its own when an array-API torch input
    needs it. Other threads import torch as usual.
    """
    import sys

    if "skops.io" in sys.modules or "torch" in sys.modules:
        import skops.io as sio

        return sio
    import threading

    blocker = _NoTorchHere(threading.get_ident())
    sys.meta_path.insert(0, blocker)
    try:
        import skops.io as sio
    finally:
        sys.meta_path.remove(blocker)
    return sio


class _NoTorchHere:
    """A meta-path finder refusing `torch` on one thread (see `skops_io`)."""

    def __init__(self, thread: int) -> None:
        self.thread = thread

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        import threading

        if (name == "torch" or name.startswith("torch.")) and threading.get_ident() == self.thread:
            raise ImportError("torch is not imported while skops lists scikit-learn's estimators")
        return None


def load_skops(path: Path, trusted: list[str] | None = None) -> Any:
    """Load `path` if every type it needs is on kiln's allow-list (plus `trusted`), and every
    tree in it is well formed."""
    sio = skops_io()

    allowed = TRUSTED_TYPES | set(trusted or ())
    needed = sio.get_untrusted_types(file=path)
    refused = sorted(set(needed) - allowed)
    if refused:
        raise BundleError(
            f"'{path}' needs types kiln does not trust: {refused[:5]}; the bundle was not written "
            "by kiln or has been altered. Retrain, or load it only if you trust its source."
        )
    loaded = sio.load(path, trusted=list(needed))
    try:
        check_structures(loaded)
    except _Malformed as exc:
        raise BundleError(f"'{path}' holds a malformed tree ({exc}); predicting with it could crash the process. "
                          "The bundle was not written by kiln or has been altered: retrain or restore it.") from None
    return loaded


class _Malformed(Exception):
    """A tree whose arrays a compiled walk cannot follow safely."""


def check_structures(obj: Any) -> None:
    """Raise `_Malformed` for the first unsafe tree anywhere inside `obj` (estimators, lists, dicts)."""
    _visit(obj, bound=None, depth=0, seen=set())


def _visit(obj: Any, *, bound: int | None, depth: int, seen: set[int]) -> None:
    from sklearn.base import BaseEstimator
    from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
    from sklearn.tree._tree import Tree

    if depth > MAX_DEPTH or id(obj) in seen or isinstance(obj, (str, bytes, int, float, np.ndarray, type(None))):
        return
    seen.add(id(obj))
    if isinstance(obj, Tree):
        _check_tree(obj, bound)
    elif isinstance(obj, TreePredictor):
        _check_predictor(obj, bound, None)
    elif _is_binary_tree(obj):
        _check_binary_tree(obj)
    elif isinstance(obj, BaseEstimator):
        n_features = getattr(obj, "n_features_in_", None)
        if isinstance(n_features, (int, np.integer)):  # the input a tree inside it is walked on
            bound = int(n_features) if bound is None else min(bound, int(n_features))
        if hasattr(obj, "_predictors") and hasattr(obj, "_bin_mapper"):
            _check_hist_gradient_boosting(obj, bound)
        for value in vars(obj).values():
            _visit(value, bound=bound, depth=depth + 1, seen=seen)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _visit(value, bound=bound, depth=depth + 1, seen=seen)
    elif isinstance(obj, dict):
        for value in obj.values():
            _visit(value, bound=bound, depth=depth + 1, seen=seen)


def _children_ok(index: np.ndarray, child: np.ndarray, n: int) -> bool:
    """Children lie inside the tree and after their parent: every walk moves forward and ends."""
    return bool(np.all((child > index) & (child < n)))


def _check_tree(tree: Any, bound: int | None) -> None:
    """A scikit-learn decision tree (`sklearn.tree._tree.Tree`)."""
    n = int(tree.node_count)
    left, right = np.asarray(tree.children_left), np.asarray(tree.children_right)
    feature, value = np.asarray(tree.feature), np.asarray(tree.value)
    n_outputs = int(tree.n_outputs)
    n_classes = np.atleast_1d(np.asarray(tree.n_classes))
    if n < 1 or len(left) != n or len(right) != n or len(feature) != n or len(np.asarray(tree.threshold)) != n:
        raise _Malformed(f"a decision tree's node arrays do not all have its {n} nodes")
    leaf = left == -1
    if not np.array_equal(leaf, right == -1):
        raise _Malformed("a decision tree has a node with only one child")
    index = np.flatnonzero(~leaf)
    if not (_children_ok(index, left[index], n) and _children_ok(index, right[index], n)):
        raise _Malformed(f"a decision tree's child index points outside its {n} nodes or back up the tree")
    limit = int(tree.n_features) if bound is None else min(int(tree.n_features), bound)
    if index.size and not np.all((feature[index] >= 0) & (feature[index] < limit)):
        raise _Malformed(f"a decision tree splits on a feature outside the model's {limit} inputs")
    if len(n_classes) != n_outputs or value.ndim != 3 or value.shape[:2] != (n, n_outputs) \
            or int(n_classes.max()) > value.shape[2]:
        raise _Malformed(f"a decision tree's values have shape {value.shape}, not ({n}, {n_outputs}, classes)")
    missing = getattr(tree, "missing_go_to_left", None)
    if missing is not None and len(np.asarray(missing)) != n:
        raise _Malformed("a decision tree's missing-value directions do not match its nodes")


def _check_predictor(predictor: Any, bound: int | None, categorical: np.ndarray | None) -> None:
    """One tree of a HistGradientBoosting model (`TreePredictor`)."""
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    nodes = predictor.nodes
    if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE or nodes.ndim != 1 \
            or len(nodes) < 1:
        raise _Malformed("a HistGradientBoosting tree's nodes are not scikit-learn's node records")
    n = len(nodes)
    internal = np.flatnonzero(nodes["is_leaf"] == 0)
    left, right = nodes["left"][internal].astype(np.int64), nodes["right"][internal].astype(np.int64)
    if not (_children_ok(internal, left, n) and _children_ok(internal, right, n)):
        raise _Malformed(f"a HistGradientBoosting tree's child index points outside its {n} nodes or back up the tree")
    feature = nodes["feature_idx"][internal]
    if bound is not None and internal.size and not np.all((feature >= 0) & (feature < bound)):
        raise _Malformed(f"a HistGradientBoosting tree splits on a feature outside the model's {bound} inputs")
    bitsets = [np.asarray(predictor.raw_left_cat_bitsets), np.asarray(predictor.binned_left_cat_bitsets)]
    if any(b.ndim != 2 or b.shape[1] != 8 or b.dtype != np.uint32 for b in bitsets) \
            or bitsets[0].shape != bitsets[1].shape:
        raise _Malformed("a HistGradientBoosting tree's category bitsets are not (n, 8) uint32 arrays")
    split = internal[nodes["is_categorical"][internal] != 0]
    if split.size:
        if not np.all(nodes["bitset_idx"][split] < len(bitsets[0])):
            raise _Malformed("a HistGradientBoosting tree's categorical split names a bitset it does not have")
        if categorical is not None and not np.all(categorical[nodes["feature_idx"][split]]):
            raise _Malformed("a HistGradientBoosting tree splits by category on a feature that is not categorical")


def _check_hist_gradient_boosting(estimator: Any, bound: int | None) -> None:
    """The predictors with what they are walked against: the input width and the known categories."""
    mapper = estimator._bin_mapper
    categorical = getattr(mapper, "is_categorical_", None)
    n_features = bound
    if categorical is not None:
        categorical = np.asarray(categorical, dtype=bool)
        if bound is not None and len(categorical) != bound:
            raise _Malformed("a HistGradientBoosting model's bin mapper does not match its inputs")
        n_features = len(categorical)
        thresholds = getattr(mapper, "bin_thresholds_", None)
        if thresholds is None or len(thresholds) != len(categorical):
            raise _Malformed("a HistGradientBoosting model's bin thresholds do not match its inputs")
        for f in np.flatnonzero(categorical):  # known categories become bits of an 8 x 32-bit set
            codes = np.asarray(thresholds[f], dtype=np.float64)
            if not np.all((codes >= 0) & (codes < CATEGORY_LIMIT) & (codes == np.floor(codes))):
                raise _Malformed("a HistGradientBoosting model's known categories are not codes "
                                 f"0-{CATEGORY_LIMIT - 1}")
    for iteration in estimator._predictors:
        for predictor in iteration:
            _check_predictor(predictor, n_features, categorical)


def _is_binary_tree(obj: Any) -> bool:
    from sklearn.neighbors import BallTree, KDTree

    return isinstance(obj, (KDTree, BallTree))


def _check_binary_tree(tree: Any) -> None:
    """A KDTree or BallTree (k-nearest neighbours): point indices and node ranges inside the data."""
    data, idx_array, node_data, node_bounds = tree.get_arrays()
    data, idx_array = np.asarray(data), np.asarray(idx_array)
    n_samples = len(data)
    n_nodes = len(node_data)
    bounds = np.asarray(node_bounds)
    if data.ndim != 2 or len(idx_array) != n_samples or n_nodes < 1 or bounds.ndim != 3 \
            or bounds.shape[1:] != (n_nodes, data.shape[1]):
        raise _Malformed("a neighbours tree's arrays do not match each other")
    if not np.all((idx_array >= 0) & (idx_array < n_samples)):
        raise _Malformed(f"a neighbours tree indexes points outside its {n_samples} samples")
    start, end = node_data["idx_start"], node_data["idx_end"]
    if not np.all((start >= 0) & (start <= end) & (end <= n_samples)):
        raise _Malformed("a neighbours tree's node ranges lie outside its samples")
    inner = np.flatnonzero(node_data["is_leaf"] == 0)
    if not np.all(2 * inner + 2 < n_nodes):
        raise _Malformed(f"a neighbours tree's node has children outside its {n_nodes} nodes")


def check_lightgbm_model(path: Path) -> None:
    """Refuse a LightGBM text model whose trees LightGBM's own parser or predictor cannot follow.

    LightGBM aborts the whole process (`terminate called`, SIGABRT) on a malformed tree block
    and walks child indices unchecked, so the text is checked here first: `tree_sizes` against
    the blocks (LightGBM splits the file by them), and per tree the array lengths, child
    indices (inside the tree, after their parent), leaf indices, feature indices and
    categorical split ranges.
    """
    try:
        _check_lightgbm_text(path.read_text(encoding="utf-8"))
    except (_Malformed, ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"'{path}' is not a well-formed LightGBM model ({exc}); loading it could crash the "
                          "process. The bundle was not written by kiln or has been altered: retrain or "
                          "restore it.") from None


def _check_lightgbm_text(text: str) -> None:
    end = text.find("\nend of trees")
    if end < 0:
        raise _Malformed("no 'end of trees' line")
    header, _, _ = text.partition("\nTree=")
    fields = _key_values(header)
    n_features = int(fields["max_feature_idx"]) + 1
    starts = [i + 1 for i in _find_all(text[:end + 1], "\nTree=")]
    sizes = fields.get("tree_sizes")
    if sizes is not None:
        expected = [int(s) for s in sizes.split()]
        actual = [b - a for a, b in zip(starts, [*starts[1:], end + 1], strict=True)]
        # LightGBM counts bytes; the text is ASCII apart from feature names, which live in the header
        if expected != actual:
            raise _Malformed("tree_sizes do not match the tree blocks")
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else end + 1
        _check_lightgbm_tree(_key_values(text[start:stop]), n_features, k)


def _key_values(block: str) -> dict[str, str]:
    out = {}
    for line in block.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _find_all(text: str, needle: str) -> list[int]:
    found, at = [], text.find(needle)
    while at >= 0:
        found.append(at)
        at = text.find(needle, at + 1)
    return found


def _numbers(tree: dict[str, str], key: str, count: int, kind: type) -> np.ndarray:
    if key not in tree:
        raise _Malformed(f"a tree has no {key}")
    values = np.array([kind(v) for v in tree[key].split()])
    if len(values) != count:
        raise _Malformed(f"a tree's {key} has {len(values)} values, not {count}")
    return values


def _check_lightgbm_tree(tree: dict[str, str], n_features: int, k: int) -> None:
    n_leaves = int(tree.get("num_leaves", "0"))
    if n_leaves < 1:
        raise _Malformed(f"tree {k} has no leaves")
    _numbers(tree, "leaf_value", n_leaves, float)
    if tree.get("is_linear", "0") != "0":
        raise _Malformed(f"tree {k} is a linear tree, which kiln does not write")
    n_inner = n_leaves - 1
    if n_inner == 0:
        return
    index = np.arange(n_inner)
    for side in ("left_child", "right_child"):
        child = _numbers(tree, side, n_inner, int)
        inner = child >= 0
        if not np.all(np.where(inner, (child > index) & (child < n_inner), ~child < n_leaves)):
            raise _Malformed(f"tree {k}'s {side} points outside its {n_inner} nodes and {n_leaves} leaves")
    feature = _numbers(tree, "split_feature", n_inner, int)
    if not np.all((feature >= 0) & (feature < n_features)):
        raise _Malformed(f"tree {k} splits on a feature outside the model's {n_features}")
    threshold = _numbers(tree, "threshold", n_inner, float)
    categorical = (_numbers(tree, "decision_type", n_inner, int) & 1) == 1
    n_cat = int(tree.get("num_cat", "0"))
    if categorical.any() or n_cat:
        bounds = _numbers(tree, "cat_boundaries", n_cat + 1, int)
        n_words = len(tree.get("cat_threshold", "").split())
        if bounds[0] != 0 or np.any(np.diff(bounds) < 0) or bounds[-1] != n_words:
            raise _Malformed(f"tree {k}'s category boundaries do not match its category sets")
        codes = threshold[categorical]
        if not np.all((codes >= 0) & (codes < n_cat) & (codes == np.floor(codes))):
            raise _Malformed(f"tree {k}'s categorical split names a category set it does not have")

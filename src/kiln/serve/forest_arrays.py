"""Every tree of a forest or a boosted ensemble as flat numpy arrays, walked all at once.

scikit-learn predicts a forest tree by tree through joblib (22 ms for one row with two
threads) and HistGradientBoosting opens an OpenMP team per call (4 ms). Packed into
flat node arrays, all trees are walked level by level instead: a handful of numpy
operations per level over every (row, tree) pair, on the calling thread only — tens of
microseconds for one row, vectorised for a batch. A `TreeBank` walks the packs of
several ensemble members in one pass, so a model with four tree members pays the
per-level cost once.

The walk reproduces the libraries' own rules: `x <= threshold` goes left, a missing
value follows the node's `missing_go_to_left`, scikit-learn's trees see float32-rounded
inputs, and HistGradientBoosting's categorical splits test bitsets (decided once per
request for every categorical node, then read as a 0/1 column against threshold 0.5).
Node state is kept doubled (`2 * node`), so one addition of the "go right" bit picks
the child: `state = children[state + right]`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

LEAF_CHECK_EVERY = 4  # levels between checks for lanes that reached their leaf
COMPACT_BELOW = 0.8  # drop finished lanes once fewer than this share still walk
CATEGORY_LIMIT = 256  # HistGradientBoosting's category bitsets hold codes 0..255


@dataclass(frozen=True)
class CategoricalSplits:
    """HistGradientBoosting's categorical split nodes, one virtual input column each."""

    feature: np.ndarray  # intp (n_splits,): the input column the node tests
    left_row: np.ndarray  # intp (n_splits,): its row of `left_bits` (codes that go left)
    known_row: np.ndarray  # intp (n_splits,): its row of `known_bits` (codes seen in training)
    nan_right: np.ndarray  # bool (n_splits,): where missing and unknown codes go
    left_bits: np.ndarray  # uint32 (n_bitsets, 8): every tree's left-code bitsets, stacked
    known_bits: np.ndarray  # uint32 (n_categorical_features, 8)

    def decisions(self, X: np.ndarray) -> np.ndarray:
        """1.0 where a row goes right at a categorical node: (n_rows, n_splits).

        A code in the node's left bitset goes left, another known code goes right; a
        missing, negative or unknown code follows the node's missing-value direction.
        """
        codes = X[:, self.feature]
        valid = (codes >= 0) & (codes < CATEGORY_LIMIT)  # False for NaN
        code = np.where(valid, codes, 0).astype(np.intp)  # truncates, as the library's cast does
        words, bits = code >> 5, (code & 31).astype(np.uint32)
        in_left = valid & (((self.left_bits[self.left_row, words] >> bits) & 1) == 1)
        known = valid & (((self.known_bits[self.known_row, words] >> bits) & 1) == 1)
        return np.where(in_left, False, np.where(known, True, self.nan_right)).astype(np.float64)


@dataclass(frozen=True)
class TreeInputs:
    """What a pack's walk reads for a prep output: float32-rounded for scikit-learn's
    trees, with one 0/1 column per categorical split appended."""

    n_features: int
    float32_inputs: bool
    categorical: CategoricalSplits | None = None

    @property
    def width(self) -> int:
        return self.n_features + (0 if self.categorical is None else len(self.categorical.feature))

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if self.float32_inputs:
            X = X.astype(np.float32).astype(np.float64)
        if self.categorical is not None:
            X = np.hstack([X, self.categorical.decisions(X)])
        return X


@dataclass(frozen=True)
class PackedTrees:
    """Flat node arrays of many trees (their topology) and their leaf values, one row per node.

    A predictor copies the topology into its `TreeBank` and keeps only the `released()`
    pack, so a large forest is not held twice.
    """

    feature: np.ndarray  # int32, per doubled state (leaves: 0)
    threshold: np.ndarray  # float64, per doubled state
    nan_right: np.ndarray  # bool, per doubled state: where a missing value goes
    children: np.ndarray  # int32 (2 * n_nodes,): doubled state of the left, then the right child
    is_leaf: np.ndarray  # bool, per doubled state
    value: np.ndarray  # float64 (n_nodes, n_outputs)
    roots: np.ndarray  # int32 (n_trees,), doubled states
    depth: int
    reads: TreeInputs

    @property
    def n_trees(self) -> int:
        return len(self.roots)

    @property
    def categorical(self) -> CategoricalSplits | None:
        return self.reads.categorical

    def inputs(self, X: np.ndarray) -> np.ndarray:
        return self.reads(X)

    def released(self) -> PackedTrees:
        """This pack without its topology (once a bank holds a copy): leaf values only."""
        empty = np.empty(0, dtype=np.int32)
        return replace(self, feature=empty, threshold=np.empty(0), nan_right=np.empty(0, dtype=bool),
                       children=empty, is_leaf=np.empty(0, dtype=bool))

    def leaf_values(self, X: np.ndarray) -> np.ndarray:
        """Leaf values of every row in every tree: (n_rows, n_trees, n_outputs).

        Walks a bank of this pack alone, built per call (a copy of the arrays): for
        tests and checks; a predictor keeps its `TreeBank`.
        """
        return self.values_at(TreeBank([self]).leaves([self.inputs(X)])[0])

    def values_at(self, leaves: np.ndarray) -> np.ndarray:
        """Leaf values for an (n_rows, n_trees) array of this pack's leaf nodes."""
        return self.value[leaves.ravel()].reshape(*leaves.shape, self.value.shape[1])


class TreeBank:
    """Several packs' topologies joined into one set of arrays, walked in a single pass."""

    def __init__(self, packs: list[PackedTrees]) -> None:
        if any(len(pack.feature) == 0 for pack in packs):
            raise ValueError("a released pack has no topology left to walk")
        columns = np.cumsum([0] + [pack.reads.width for pack in packs])
        states = np.cumsum([0] + [len(pack.feature) for pack in packs])
        self.n_packs = len(packs)
        self.width = int(columns[-1])
        self._node_offsets = states[:-1] // 2
        self._tree_slices = np.cumsum([0] + [pack.n_trees for pack in packs])
        self.feature = np.concatenate([p.feature + c for p, c in zip(packs, columns, strict=False)]).astype(np.int32)
        self.threshold = np.concatenate([p.threshold for p in packs])
        self.nan_right = np.concatenate([p.nan_right for p in packs])
        self.is_leaf = np.concatenate([p.is_leaf for p in packs])
        self.children = np.concatenate([p.children + s for p, s in zip(packs, states, strict=False)]).astype(np.int32)
        self.roots = np.concatenate([p.roots + s for p, s in zip(packs, states, strict=False)]).astype(np.int32)
        self.depth = max((pack.depth for pack in packs), default=0)

    def leaves(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Each pack's leaf nodes (n_rows, its n_trees), given each pack's `inputs(X)`."""
        X = inputs[0] if len(inputs) == 1 else np.hstack(inputs)
        X = np.ascontiguousarray(X, dtype=np.float64)
        n_rows, n_trees = X.shape[0], len(self.roots)
        flat = X.ravel()
        state = np.tile(self.roots, n_rows)
        offset = np.repeat(np.arange(n_rows, dtype=np.intp) * self.width, n_trees) if n_rows > 1 else None
        has_missing = bool(np.isnan(flat).any())
        final, lanes = state, None  # `lanes`: the positions in `final` still walking, once compacted
        for level in range(self.depth):
            column = self.feature[state]
            if offset is not None:
                column = column + offset
            x = flat[column]
            right = x > self.threshold[state]  # NaN compares False: fixed just below
            if has_missing:
                missing = np.isnan(x)
                if missing.any():
                    right[missing] = self.nan_right[state[missing]]
            state = self.children[state + right]
            if level % LEAF_CHECK_EVERY == LEAF_CHECK_EVERY - 1:
                walking = ~self.is_leaf[state]
                n_walking = int(np.count_nonzero(walking))
                if n_walking == 0:
                    break
                if n_walking < len(state) * COMPACT_BELOW:  # drop finished lanes from the walk
                    if lanes is None:
                        final = state
                    else:
                        final[lanes] = state
                    keep = np.flatnonzero(walking)
                    lanes = keep if lanes is None else lanes[keep]
                    state = state[keep]
                    offset = None if offset is None else offset[keep]
        if lanes is not None:
            final[lanes] = state
            state = final
        nodes = (state >> 1).reshape(n_rows, n_trees)
        return [nodes[:, self._tree_slices[i]: self._tree_slices[i + 1]] - self._node_offsets[i]
                for i in range(self.n_packs)]


def _doubled(values: np.ndarray) -> np.ndarray:
    return np.repeat(values, 2)


def _assemble(parts: list[dict[str, np.ndarray]], *, depth: int, reads: TreeInputs) -> PackedTrees:
    """Join per-tree node arrays (local child indices) into one doubled-state pack."""
    offsets = np.cumsum([0] + [len(p["feature"]) for p in parts])
    children, roots = [], []
    for part, base in zip(parts, offsets[:-1], strict=False):
        local = np.arange(len(part["feature"]))
        _check_part(part, local, reads.width)
        left = np.where(part["is_leaf"], local, part["left"]) + base
        right = np.where(part["is_leaf"], local, part["right"]) + base
        children.append(np.column_stack([left, right]).ravel() * 2)
        roots.append(2 * base)
    return PackedTrees(
        feature=_doubled(np.concatenate([np.where(p["is_leaf"], 0, p["feature"]) for p in parts]).astype(np.int32)),
        threshold=_doubled(np.concatenate([p["threshold"] for p in parts]).astype(np.float64)),
        nan_right=_doubled(np.concatenate([p["nan_right"] for p in parts]).astype(bool)),
        children=np.concatenate(children).astype(np.int32),
        is_leaf=_doubled(np.concatenate([p["is_leaf"] for p in parts]).astype(bool)),
        value=np.concatenate([p["value"] for p in parts]).astype(np.float64),
        roots=np.asarray(roots, dtype=np.int32),
        depth=depth,
        reads=reads,
    )


def _check_part(part: dict[str, np.ndarray], local: np.ndarray, width: int) -> None:
    """Refuse a tree the walk could not follow: the loaded trees were validated (kiln.learners.safe_load),
    but the pack narrows indices to int32, where an out-of-range index would wrap into a valid one."""
    inner = ~np.asarray(part["is_leaf"], dtype=bool)
    n = len(local)
    for side in ("left", "right"):
        child = np.asarray(part[side])[inner].astype(np.int64)
        if not np.all((child > local[inner]) & (child < n)):
            raise ValueError(f"a tree's {side} child index lies outside its {n} nodes")
    feature = np.asarray(part["feature"])[inner].astype(np.int64)
    if not np.all((feature >= 0) & (feature < width)):
        raise ValueError(f"a tree splits on a column outside its {width} inputs")


def pack_sklearn_forest(forest: Any) -> PackedTrees:
    """Pack the decision trees of a fitted RandomForest/ExtraTrees classifier or regressor.

    Leaf values are what each tree's `predict_proba` (class fractions: scikit-learn ≥ 1.4
    stores them normalised) or `predict` returns; the forest's output is their mean.
    """
    parts = []
    depth = 0
    for estimator in forest.estimators_:
        tree = estimator.tree_
        if tree.n_outputs != 1:
            raise ValueError("multi-output trees are not packed")
        n_classes = int(np.atleast_1d(getattr(estimator, "n_classes_", 1))[0])
        left = tree.children_left
        missing_left = getattr(tree, "missing_go_to_left", None)
        if missing_left is None:  # scikit-learn < 1.3 refused missing values anyway
            missing_left = np.zeros(tree.node_count, dtype=np.uint8)
        parts.append({
            "feature": tree.feature, "threshold": tree.threshold, "left": left, "right": tree.children_right,
            "is_leaf": left == -1, "nan_right": np.asarray(missing_left) == 0,
            "value": tree.value[:, 0, :n_classes],
        })
        depth = max(depth, int(tree.max_depth))
    return _assemble(parts, depth=depth, reads=TreeInputs(int(forest.n_features_in_), float32_inputs=True))


def pack_hist_gradient_boosting(estimator: Any) -> PackedTrees:
    """Pack a fitted HistGradientBoosting model's trees, as they read its (remapped) input.

    Output column k sums the trees of class k (one column for binary and regression);
    the caller adds `_baseline_prediction` and applies the loss's inverse link.
    """
    known_bits, f_idx_map = estimator._bin_mapper.make_known_categories_bitsets()
    n_features = len(f_idx_map)
    n_outputs = int(estimator.n_trees_per_iteration_)
    parts, split_feature, split_left_row, split_known_row, split_nan_right, left_bitsets = [], [], [], [], [], []
    depth, n_bitsets, n_splits = 0, 0, 0
    for iteration in estimator._predictors:
        for k, predictor in enumerate(iteration):
            nodes = predictor.nodes
            value = np.zeros((len(nodes), n_outputs))
            value[:, k] = nodes["value"]
            is_cat = nodes["is_categorical"].astype(bool) & (nodes["is_leaf"] == 0)
            feature = nodes["feature_idx"].astype(np.intp)
            threshold = nodes["num_threshold"].astype(np.float64)
            nan_right = nodes["missing_go_to_left"] == 0
            cat = np.flatnonzero(is_cat)
            if cat.size:  # a categorical node reads its own 0/1 decision column
                split_feature.append(feature[cat])
                split_left_row.append(nodes["bitset_idx"][cat].astype(np.intp) + n_bitsets)
                split_known_row.append(f_idx_map[feature[cat]].astype(np.intp))
                split_nan_right.append(nan_right[cat])
                feature = feature.copy()
                feature[cat] = n_features + n_splits + np.arange(cat.size)
                threshold = np.where(is_cat, 0.5, threshold)
                n_splits += cat.size
            bitsets = np.asarray(predictor.raw_left_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
            left_bitsets.append(bitsets)
            n_bitsets += len(bitsets)
            parts.append({
                "feature": feature, "threshold": threshold,
                "left": nodes["left"].astype(np.intp), "right": nodes["right"].astype(np.intp),
                "is_leaf": nodes["is_leaf"].astype(bool), "nan_right": nan_right, "value": value,
            })
            depth = max(depth, int(nodes["depth"].max()))
    categorical = None
    if n_splits:
        categorical = CategoricalSplits(
            feature=np.concatenate(split_feature), left_row=np.concatenate(split_left_row),
            known_row=np.concatenate(split_known_row), nan_right=np.concatenate(split_nan_right),
            left_bits=np.concatenate(left_bitsets), known_bits=np.asarray(known_bits, dtype=np.uint32).reshape(-1, 8),
        )
    return _assemble(parts, depth=depth, reads=TreeInputs(n_features, float32_inputs=False, categorical=categorical))

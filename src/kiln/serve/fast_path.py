"""The serving fast path: a model's prediction without pandas and without thread start-up.

`Model.predict_raw` spends 88 ms on one AI4I row, almost none of it on arithmetic:
`Schema.coerce` and `ColumnTransformer.transform` cost ~2 ms per member, and the tree
libraries start thread pools per call (joblib for the forests, OpenMP for the boosters).
`FastPredictor.compile(model)` rebuilds the same computation from the fitted state:

- each distinct fitted preprocessing transformer compiled to numpy (`fast_prep`) and run
  once per request, however many members share it;
- each learner predicted on the calling thread (`fast_learners`): boosters with one
  thread, the forests' and HistGradientBoosting's trees walked together by numpy
  (`forest_arrays`) for small requests, by the library on one thread for large batches.

    predictor = FastPredictor.compile(model)           # raises FastPathUnavailable
    raw = predictor.predict_raw(columns, n_rows)       # == model.predict_raw(DataFrame(columns))

`columns` holds one array per schema column (extra keys are ignored), already decoded:
numeric and boolean → float64 (NaN missing); categorical and text → object arrays of
`str` (None missing); datetime → datetime64 (NaT missing).

`compile` checks itself on synthetic rows built from the schema (mid-range and
out-of-range numbers, known and unseen categories, missing values where the column
allows them): a compiled part that disagrees with the library is replaced by the
library's own code, and if the whole still differs from `Model.predict_raw` it raises
`FastPathUnavailable` — the server then serves through `Model.predict_raw`. What runs
through pandas or the learner's own code is listed in `slow_parts`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse

from kiln.data.schema import Schema
from kiln.errors import KilnError
from kiln.export.synthetic import synthetic_columns  # the export's check rows, the same corners
from kiln.model import Model
from kiln.serve.fast_learners import DirectFold, TreeFold, compile_fold
from kiln.serve.fast_prep import CompiledPrep, Request, compile_prep, fitted_key, whole_fallback
from kiln.serve.forest_arrays import TreeBank

NATIVE_BATCH_ROWS = 128  # from this many rows, the libraries' compiled loops beat numpy's walk
CHECK_RTOL, CHECK_ATOL = 1e-6, 1e-9


class FastPathUnavailable(KilnError):
    """The compiled predictor does not reproduce `Model.predict_raw`; serve through it instead."""


@dataclass
class _Fold:
    prep: int  # index into the predictor's distinct preps
    runner: DirectFold | TreeFold
    name: str


@dataclass
class _Member:
    weight: float
    folds: list[_Fold]


class FastPredictor:
    """`Model.predict_raw` over decoded column arrays, for requests of one to a few rows."""

    def __init__(self, schema: Schema, preps: list[CompiledPrep], members: list[_Member]) -> None:
        self.schema = schema
        self._preps = preps
        self._members = members
        self._tree_folds: list[_Fold] = []
        self._bank: TreeBank | None = None

    @classmethod
    def compile(cls, model: Model, *, check: bool = True) -> FastPredictor:
        """Compile `model`; with `check`, verify on synthetic rows and raise
        `FastPathUnavailable` if the result differs from `model.predict_raw`."""
        preps: list[CompiledPrep] = []
        originals: list[Any] = []
        index_of: dict[str, int] = {}
        members = []
        for member in model.members:
            folds = []
            for i, fold in enumerate(member.folds):
                key = fitted_key(fold.prep)
                if key not in index_of:
                    index_of[key] = len(preps)
                    try:
                        preps.append(compile_prep(fold.prep, model.schema))
                    except Exception:  # a fitted state this module misreads: pandas is exact
                        preps.append(whole_fallback(fold.prep, key))
                    originals.append(fold.prep)
                try:
                    runner: DirectFold | TreeFold = compile_fold(fold.learner)
                except Exception:  # an unexpected fitted state: the learner's own code is exact
                    runner = DirectFold(fold.learner.predict_raw, fast=False)
                folds.append(_Fold(index_of[key], runner, f"{member.name} fold {i}"))
            members.append(_Member(float(member.weight), folds))
        predictor = cls(model.schema, preps, members)
        if not check:
            predictor._build_bank()
            return predictor
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1):  # the reference runs the libraries: no thread start-ups
            predictor._check_parts(model, originals)
            predictor._build_bank()
            predictor._check_model(model)
        return predictor

    @property
    def slow_parts(self) -> list[str]:
        """What runs through pandas or a learner's own `predict_raw` rather than the fast path."""
        slow = [f"prep {i} part {name}: pandas" for i, prep in enumerate(self._preps) for name in prep.fallbacks]
        for member in self._members:
            for fold in member.folds:
                if isinstance(fold.runner, DirectFold) and not fold.runner.fast:
                    slow.append(f"{fold.name}: the learner's own predict_raw")
        return slow

    def predict_raw(self, columns: dict[str, np.ndarray], n_rows: int) -> np.ndarray:
        """Blended probabilities (n × classes) or values, as `Model.predict_raw` returns them.

        `columns`: one decoded array of `n_rows` (≥ 1) values per schema column (see the
        module docstring); requests of `NATIVE_BATCH_ROWS` rows or more run the trees
        through the libraries on one thread, smaller ones through the numpy walk.
        """
        return self._predict(columns, n_rows, native=n_rows >= NATIVE_BATCH_ROWS)

    def _predict(self, columns: dict[str, np.ndarray], n_rows: int, *, native: bool) -> np.ndarray:
        request = Request(columns, n_rows, self.schema)
        features = [prep(request) for prep in self._preps]
        leaves = None
        if self._bank is not None and not native:
            inputs = [fold.runner.inputs(features[fold.prep]) for fold in self._tree_folds]  # type: ignore[union-attr]
            leaves = dict(zip(map(id, self._tree_folds), self._bank.leaves(inputs), strict=True))
        total: Any = 0
        for member in self._members:
            outputs = []
            for fold in member.folds:
                runner, X = fold.runner, features[fold.prep]
                if isinstance(runner, DirectFold):
                    outputs.append(runner.predict(X))
                elif leaves is not None:
                    outputs.append(runner.finish(runner.pack.values_at(leaves[id(fold)])))
                else:
                    outputs.append(runner.native(X))
            mean = outputs[0] if len(outputs) == 1 else np.mean(outputs, axis=0)
            total = total + member.weight * mean  # the order and form of Model.predict_raw's sum
        return total

    def _build_bank(self) -> None:
        """Join every tree fold's pack into one bank, then release the packs' own topology."""
        self._tree_folds = [f for m in self._members for f in m.folds if isinstance(f.runner, TreeFold)]
        runners: list[TreeFold] = [fold.runner for fold in self._tree_folds]  # type: ignore[misc]
        self._bank = TreeBank([runner.pack for runner in runners]) if runners else None
        for runner in runners:
            runner.pack = runner.pack.released()

    # -- the self-check --------------------------------------------------------------------

    def _check_parts(self, model: Model, originals: list[Any]) -> None:
        """Replace each compiled prep or learner that disagrees with the library's own."""
        columns = synthetic_columns(model.schema)
        n_rows = len(next(iter(columns.values())))
        request = Request(columns, n_rows, model.schema)
        references = []
        for i, (prep, original) in enumerate(zip(self._preps, originals, strict=True)):
            reference = original.transform(request.frame)
            try:
                same = _same(prep(request), reference)
            except Exception:
                same = False
            if not same:
                self._preps[i] = whole_fallback(original, prep.key)
            references.append(reference)
        ours = [fold for member in self._members for fold in member.folds]
        theirs = [fold for member in model.members for fold in member.folds]
        for fold, original in zip(ours, theirs, strict=True):
            X = references[fold.prep]
            expected = original.learner.predict_raw(X)
            if not self._fold_agrees(fold, X, expected):
                fold.runner = DirectFold(original.learner.predict_raw, fast=False)

    @staticmethod
    def _fold_agrees(fold: _Fold, X: Any, expected: np.ndarray) -> bool:
        runner = fold.runner
        try:
            if isinstance(runner, DirectFold):
                return _same(runner.predict(X), expected)
            leaves = TreeBank([runner.pack]).leaves([runner.inputs(X)])[0]
            walked = runner.finish(runner.pack.values_at(leaves))
            return _same(walked, expected) and _same(runner.native(X), expected)
        except Exception:
            return False

    def _check_model(self, model: Model) -> None:
        """Raise `FastPathUnavailable` unless walked, native and one-row predictions equal
        `Model.predict_raw` on the synthetic rows."""
        columns = synthetic_columns(model.schema)
        n_rows = len(next(iter(columns.values())))
        first_row = {name: values[:1] for name, values in columns.items()}
        kept = model.last_contract_report_
        try:
            expected = model.predict_raw(pd.DataFrame(columns))
            expected_first = model.predict_raw(pd.DataFrame(first_row))
        except Exception as exc:
            raise FastPathUnavailable(f"The fast path's self-check could not run Model.predict_raw on "
                                      f"synthetic rows ({exc}); serve through Model.predict_raw.") from exc
        finally:
            model.last_contract_report_ = kept
        attempts = [
            ("walked by numpy", self._predict(columns, n_rows, native=False), expected),
            ("predicted by the libraries", self._predict(columns, n_rows, native=True), expected),
            ("one row", self.predict_raw(first_row, 1), expected_first),
        ]
        for name, got, want in attempts:
            if not _same(got, want):
                raise FastPathUnavailable(
                    f"The compiled fast path ({name}) differs from Model.predict_raw on synthetic rows "
                    f"({_difference(got, want)}); serve through Model.predict_raw."
                )


def _difference(got: Any, want: Any) -> str:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape:
        return f"shape {got.shape} instead of {want.shape}"
    return f"largest difference {float(np.nanmax(np.abs(got - want))):.3g}"


def _same(got: Any, want: Any) -> bool:
    got = got.toarray() if sparse.issparse(got) else np.asarray(got)
    want = want.toarray() if sparse.issparse(want) else np.asarray(want)
    if got.shape != want.shape:
        return False
    return bool(np.allclose(got, want, rtol=CHECK_RTOL, atol=CHECK_ATOL, equal_nan=True))

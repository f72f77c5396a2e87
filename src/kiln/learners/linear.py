"""Linear models: logistic regression / ridge on scaled numbers, one-hot and TF-IDF."""

from __future__ import annotations

from typing import Any, ClassVar

from kiln.learners.base import Learner, LearnerTags

PORTFOLIO: list[dict[str, Any]] = [{"C": 1.0}, {"C": 0.1}, {"C": 10.0}]
# With a text column: TF-IDF prep options (kiln.prep.text) ride in the config. Long texts
# start with word 1-2 grams (a fold takes a fraction of a second, and on long reviews they
# beat adding characters: fine_foods AUC 0.879 vs 0.873); short texts with word + char_wb
# 2-5 grams (titles need the characters: ucla_courses log loss 1.37 vs 1.47, and a fold is
# cheap there; see text_portfolio). `embed`: the sentence embeddings (kiln-ml[text]) beside
# the TF-IDF. On short titles they carry what a few words cannot; on long reviews they cost
# the word model AUC (fine_foods CV 0.863 -> 0.850), so the word model goes without them.
# 5-fold CV on the suite's training rows (benchmarks/text/run.py data): min_df 1 beat 2 for
# the word model (fine_foods AUC 0.8641 vs 0.8628) and the char one (ucla_courses log loss
# 1.435 vs 1.446 at C 10); with embeddings C 3 beat C 10 (1.429 vs 1.446) and fit 4x faster,
# and calibrates better still (ensemble/temperature.py: 1.401 at T 0.85).
TEXT_PORTFOLIO: list[dict[str, Any]] = [
    {"C": 10.0, "word_ngrams": 2, "char_ngrams": 0, "min_df": 1, "sublinear_tf": True, "embed": False},
    {"C": 3.0, "word_ngrams": 2, "char_ngrams": 5, "min_df": 2, "sublinear_tf": True, "embed": True},
    {"C": 10.0, "word_ngrams": 2, "char_ngrams": 5, "min_df": 1, "sublinear_tf": True, "embed": True},
]


class LinearLearner(Learner):
    key: ClassVar[str] = "linear"
    tags: ClassVar[LearnerTags] = LearnerTags(
        family="Linear (logistic / ridge)", prep="linear",
        tasks=frozenset({"binary", "multiclass", "regression"}), handles_missing=False,
        native_categorical=False, sample_weight=True, early_stopping=False, persistence="skops",
    )
    configs: ClassVar[tuple[dict[str, Any], ...]] = tuple(PORTFOLIO)
    test_params: ClassVar[dict[str, Any]] = {"C": 1.0}


    @classmethod
    def text_portfolio(cls, task: str, short: bool = False) -> list[dict[str, Any]]:
        # Short texts: characters (and embeddings) first, as they cost little there and carry
        # most (titles); the word model without embeddings last.
        order = (1, 2, 0) if short else (0, 1, 2)
        return [dict(TEXT_PORTFOLIO[i]) for i in order]

    @classmethod
    def search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {"C": trial.suggest_float("C", 1e-3, 100.0, log=True)}

    @classmethod
    def text_search_space(cls, trial: Any, task: str) -> dict[str, Any]:
        return {"C": trial.suggest_float("C", 0.3, 100.0, log=True),
                "word_ngrams": trial.suggest_int("word_ngrams", 1, 3),
                "char_ngrams": trial.suggest_int("char_ngrams", 0, 6),  # under 2: no char n-grams
                "min_df": trial.suggest_int("min_df", 1, 3),
                "sublinear_tf": trial.suggest_categorical("sublinear_tf", [True, False]),
                "embed": trial.suggest_categorical("embed", [True, False])}  # without the extra: no effect

    def _fit(self, X, y, categorical, X_val, y_val, deadline) -> None:
        strength = float(self._config().get("C", 1.0))
        if self.task == "regression":
            from sklearn.linear_model import Ridge

            self.estimator_ = Ridge(alpha=1.0 / strength, random_state=self.seed)
        else:
            from sklearn.linear_model import LogisticRegression

            # newton-cg: on 34 classes of sparse TF-IDF it converged in 10 steps, 1.6 s vs lbfgs's 2.9 s
            solver = "newton-cg" if self.task == "multiclass" else "lbfgs"
            self.estimator_ = LogisticRegression(C=strength, max_iter=2000, solver=solver, random_state=self.seed)
        from threadpoolctl import threadpool_limits

        # BLAS threads beyond the learner's share fight the other workers for the cores: a
        # 34-class fit took 14 s with them and 2.9 s without, on 2 busy cores.
        with threadpool_limits(limits=self.n_threads):
            self.estimator_.fit(X, y)
        self._scale_scores(float(self._config().get("temperature", 1.0)))

    def set_temperature(self, temperature: float) -> None:
        """Calibrate a fitted model: probabilities softmax(z / T) from now on (`kiln.ensemble.temperature`),
        recorded in its params as a refit's config would carry it."""
        previous = float(self._config().get("temperature", 1.0))
        self._scale_scores(temperature / previous)
        self.params = {**self._config(), "temperature": temperature}

    def _scale_scores(self, temperature: float) -> None:
        """Divide the scores by `temperature`: the coefficients and intercept, so every path that reads them agrees."""
        if temperature == 1.0 or self.task == "regression":
            return
        self.estimator_.coef_ = self.estimator_.coef_ / temperature
        self.estimator_.intercept_ = self.estimator_.intercept_ / temperature

"""5-fold CV of kiln's linear text model on a suite dataset's training rows: the evidence behind
the text portfolio (src/kiln/learners/linear.py) and temperature scaling (src/kiln/ensemble/temperature.py).

    python benchmarks/text/cv_linear.py ucla_courses '[{"C": 3, "char_ngrams": 5, "min_df": 2, "embed": true}]'

Each config: kiln's linear prep (`build_prep(..., "linear", text=options, embed=...)`: word and
char_wb TF-IDF, sentence embeddings when `embed`), a LogisticRegression at C, folds as kiln's
search makes them (stratified, shuffled, seed 0). Prints one JSON line per config: the mean
of the folds' log losses at T 1 and at the best T on a grid 0.5-1.5 (and ROC AUC for the binary
set); with `"test": true` also the model refit on all training rows scored on the suite's test
rows (for reading only: the portfolio was chosen on CV). `"ew"` multiplies the embedding columns.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import load  # the suite's split

from kiln.data.schema import infer_schema
from kiln.prep.build import EMBED_DIMS, build_prep

TEXT_KEYS = ("word_ngrams", "char_ngrams", "min_df", "sublinear_tf")
TEMPERATURES = np.round(np.arange(0.5, 1.51, 0.05), 2)


def main() -> None:
    name, configs = sys.argv[1], json.loads(sys.argv[2])
    train, test, _, target = load(name)
    classes = sorted(train[target].unique())
    codes = {c: i for i, c in enumerate(classes)}
    y, y_test = train[target].map(codes).to_numpy(), test[target].map(codes).to_numpy()
    schema = infer_schema(train, exclude=(target,))
    X, X_test = schema.coerce(train), schema.coerce(test)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    task = "binary" if len(classes) == 2 else "multiclass"
    for config in configs:
        started = time.time()
        options = {"word_ngrams": 2, "char_ngrams": 5, "min_df": 2, "sublinear_tf": True}
        options.update({k: config[k] for k in TEXT_KEYS if k in config})
        embed, weight = bool(config.get("embed", False)), float(config.get("ew", 1.0))

        def fit(rows_X, rows_y, options=options, embed=embed, weight=weight, C=float(config["C"])):
            prep = build_prep(schema, "linear", task=task, text=options, embed=embed).transformer
            Z = _weigh(prep.fit_transform(rows_X, rows_y), embed, weight)
            model = LogisticRegression(C=C, max_iter=2000, solver="newton-cg" if task == "multiclass" else "lbfgs")
            return prep, model.fit(Z, rows_y)

        def scores(prep, model, rows_X, embed=embed, weight=weight):
            d = model.decision_function(_weigh(prep.transform(rows_X), embed, weight))
            return np.column_stack([np.zeros_like(d), d]) if d.ndim == 1 else d

        oof = np.zeros((len(y), len(classes)))
        with threadpool_limits(1):
            for fit_rows, val_rows in folds:
                oof[val_rows] = scores(*fit(X.iloc[fit_rows], y[fit_rows]), X.iloc[val_rows])
            cv = {float(t): np.mean([_loss(y[v], oof[v], t, len(classes)) for _, v in folds]) for t in TEMPERATURES}
            best = min(cv, key=cv.get)
            out = {"config": config, "cv_log_loss": round(cv[1.0], 4), "best_t": best,
                   "cv_log_loss_at_t": round(cv[best], 4)}
            if task == "binary":
                out["cv_auc"] = round(float(np.mean([roc_auc_score(y[v], oof[v, 1]) for _, v in folds])), 4)
            if config.get("test"):
                logits = scores(*fit(X, y), X_test)
                out["test_log_loss"] = round(_loss(y_test, logits, 1.0, len(classes)), 4)
                out["test_log_loss_at_t"] = round(_loss(y_test, logits, best, len(classes)), 4)
                if task == "binary":
                    out["test_auc"] = round(float(roc_auc_score(y_test, logits[:, 1])), 4)
        out["seconds"] = round(time.time() - started, 1)
        print(json.dumps(out), flush=True)


def _weigh(Z, embed: bool, weight: float):
    """Z with its embedding columns (the last EMBED_DIMS['linear']) multiplied by `weight`."""
    if not embed or weight == 1.0:
        return Z
    scale = np.ones(Z.shape[1])
    scale[-EMBED_DIMS["linear"]:] = weight
    return sp.csr_matrix(Z) @ sp.diags(scale)


def _loss(y: np.ndarray, logits: np.ndarray, temperature: float, n_classes: int) -> float:
    return float(log_loss(y, softmax(logits / temperature, axis=1), labels=list(range(n_classes))))


if __name__ == "__main__":
    main()

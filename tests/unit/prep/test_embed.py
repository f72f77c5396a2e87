"""Sentence embeddings of text columns (the kiln-ml[text] extra, prep/embed.py): every learner
family gets them, k-NN's standardisation is fitted on the fold's own rows, the fitted prep
round-trips through skops without the model inside, and without the extra kiln says how to
install it."""

from __future__ import annotations

import importlib.abc
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from resources import missing

from kiln.data.schema import infer_schema
from kiln.errors import BundleError, MissingDependencyError
from kiln.prep import embed as embed_module
from kiln.prep.build import EMBED_DIMS, build_prep
from kiln.prep.embed import SentenceEmbedding, check_embedding, embeddings_available, missing_extra_note


def needs_extra(test):
    """The test needs the kiln-ml[text] extra: it skips on a developer's machine without it, fails under CI."""
    import functools

    @functools.wraps(test)
    def wrapped(*args, **kwargs):
        if not embeddings_available():
            missing("the kiln-ml[text] extra (wordllama) is absent: pip install -e '.[text]'")
        return test(*args, **kwargs)

    return wrapped

WORDS = ["pump", "leak", "motor", "noise", "belt", "screen", "login", "password", "printer", "jam", "oil"]


def _table(n: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    texts = [" ".join(rng.choice(WORDS, 5)) for _ in range(n)]
    texts[3] = ""  # an empty text embeds as zeros, not NaN
    frame = pd.DataFrame({"note": texts, "load": rng.normal(size=n)})
    return frame, np.array(["password" in t for t in texts], dtype=int)


class _Refuse(importlib.abc.MetaPathFinder):
    """An environment without the extra: importing wordllama fails as it does when it is not installed."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "wordllama" or name.startswith("wordllama."):
            raise ModuleNotFoundError(f"No module named '{name}'")
        return None


@pytest.fixture
def without_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "meta_path", [_Refuse(), *sys.meta_path])
    for name in [m for m in sys.modules if m == "wordllama" or m.startswith("wordllama.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(embed_module, "_MEMO", {})
    embed_module._model.cache_clear()
    yield
    embed_module._model.cache_clear()


@needs_extra
@pytest.mark.parametrize("family", ["tree", "knn", "linear"])
def test_every_family_gets_the_embedding_columns(family: str) -> None:
    frame, y = _table()
    schema = infer_schema(frame, text=("note",))
    plain = build_prep(schema, family).transformer.fit_transform(schema.coerce(frame), y)
    embedded = build_prep(schema, family, embed=True)
    out = embedded.transformer.fit_transform(schema.coerce(frame), y)
    assert out.shape[1] - plain.shape[1] == EMBED_DIMS[family]
    vectors = embedded.transformer.named_transformers_["text_embed_0"].transform(frame[["note"]])
    assert np.isfinite(vectors).all()
    if family != "knn":  # unit length, the empty text all zeros
        assert np.allclose(np.delete(np.linalg.norm(vectors, axis=1), 3), 1.0)
        assert not vectors[3].any()


def test_a_linear_trial_can_go_without_the_embeddings() -> None:
    """The linear family's text options carry `embed`: False drops the embedding step, the
    other families keep theirs (the search tunes it: on long reviews they cost AUC)."""
    frame, _ = _table(20)
    schema = infer_schema(frame, text=("note",))

    def steps(family: str, text: dict | None) -> set[str]:
        return {name for name, _, _ in build_prep(schema, family, text=text, embed=True).transformer.transformers}

    assert "text_embed_0" in steps("linear", None)
    assert "text_embed_0" in steps("linear", {"embed": True})
    assert "text_embed_0" not in steps("linear", {"embed": False})
    assert "tfidf_0" in steps("linear", {"embed": False})
    assert "text_embed_0" in steps("tree", {"embed": False})  # text options are the linear family's alone


@needs_extra
def test_the_vectors_carry_meaning() -> None:
    vectors = SentenceEmbedding(dim=256).fit_transform(
        pd.DataFrame({"t": ["the pump is leaking oil", "oil is dripping from the pump", "I forgot my login password"]})
    )
    similar, unrelated = vectors[0] @ vectors[1], vectors[0] @ vectors[2]
    assert similar > unrelated + 0.1


@needs_extra
def test_a_batch_gives_each_text_its_own_vector_in_input_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """embed() computes texts shortest first (less padding): the rows still follow the input,
    and each equals the text's vector computed alone."""
    texts = ["oil " * 40 + "leak", "pump", "", "the belt on line two squeals at start-up", "pump", "screen login"]
    monkeypatch.setattr(embed_module, "_MEMO", {})
    together = embed_module.embed(texts)
    alone = []
    for text in texts:
        monkeypatch.setattr(embed_module, "_MEMO", {})
        alone.append(embed_module.embed([text])[0])
    assert together.shape == (len(texts), embed_module.FULL_DIM)
    assert np.allclose(together, np.stack(alone), atol=1e-6)
    assert np.array_equal(together[1], together[4]) and not np.allclose(together[0], together[1])


@needs_extra
def test_knn_standardisation_is_fitted_on_the_rows_it_is_fitted_on() -> None:
    frame, _ = _table(200)
    fit_rows, other_rows = frame.iloc[:100][["note"]], frame.iloc[100:][["note"]]
    step = SentenceEmbedding(dim=64, standardize=True)
    fitted = step.fit_transform(fit_rows)
    raw = SentenceEmbedding(dim=64).fit_transform(fit_rows)
    assert np.allclose(step.mean_, raw.mean(axis=0)) and np.allclose(fitted.mean(axis=0), 0.0, atol=1e-9)
    assert not np.allclose(step.transform(other_rows).mean(axis=0), 0.0, atol=1e-3)


@needs_extra
def test_the_fitted_prep_round_trips_through_skops_without_the_model(tmp_path: Path) -> None:
    import skops.io as sio

    from kiln.learners.safe_load import TRUSTED_TYPES, load_skops

    frame, y = _table()
    schema = infer_schema(frame, text=("note",))
    prep = build_prep(schema, "tree", embed=True).transformer
    prep.fit_transform(schema.coerce(frame), y)
    before = prep.transform(schema.coerce(frame))
    sio.dump(prep, tmp_path / "prep.skops")
    assert set(sio.get_untrusted_types(file=tmp_path / "prep.skops")) <= TRUSTED_TYPES
    assert (tmp_path / "prep.skops").stat().st_size < 200_000  # the 16 MB of weights stay in the package
    loaded = load_skops(tmp_path / "prep.skops")
    assert loaded.named_transformers_["text_embed_0"].version_ == embed_module.installed_version()
    assert np.array_equal(loaded.transform(schema.coerce(frame)), before)


@needs_extra
def test_a_bundle_from_another_version_is_refused_naming_the_version() -> None:
    with pytest.raises(BundleError, match=r"trained with wordllama 0\.0\.1.*pip install wordllama==0\.0\.1"):
        check_embedding({"version": "0.0.1"}, "model/")


def test_without_the_extra_kiln_names_the_fix(without_extra: None) -> None:
    assert not embeddings_available()
    with pytest.raises(MissingDependencyError, match=r"kiln-ml\[text\].*--no-text-embeddings"):
        check_embedding({"package": "wordllama", "version": "0.4.0.post1"}, "model/")
    check_embedding(None, "model/")  # a bundle without embeddings loads as before
    with pytest.raises(MissingDependencyError, match=r"kiln-ml\[text\]"):
        SentenceEmbedding().fit_transform(pd.DataFrame({"t": ["a text"]}))
    note = missing_extra_note()
    assert "kiln-ml[text]" in note and "\n" not in note and "every learner" in note

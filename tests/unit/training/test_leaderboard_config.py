"""The leaderboard shows each trial's config as it was fitted."""

from kiln.training.train import _fitted_config


def test_embed_shows_off_when_the_run_computed_no_embeddings() -> None:
    config = {"C": 3.0, "embed": True}
    assert _fitted_config(config, embed=False) == {"C": 3.0, "embed": False}
    assert _fitted_config(config, embed=True) == config
    assert _fitted_config({"num_leaves": 31}, embed=False) == {"num_leaves": 31}

"""`--ray local`: each family's series partitioned across a local Ray cluster give the same model as the
forked path (slow: Ray starts a cluster)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import kiln


@pytest.mark.slow
def test_series_partitioned_across_a_local_ray_cluster_give_the_same_backtest() -> None:
    rng = np.random.default_rng(0)
    ds = pd.date_range("2020-01-06", periods=90, freq="D")
    frame = pd.concat([pd.DataFrame({"shop": f"s{i}", "day": ds,
                                     "sales": 50 + 10 * np.sin(2 * np.pi * np.arange(90) / 7) + rng.normal(0, 2, 90)})
                       for i in range(6)], ignore_index=True)
    options = {"time_column": "day", "id_column": "shop", "horizon": 7}
    local = kiln.train(frame, target="sales", task="forecast", time_limit=120, quiet=True, **options)
    spread = kiln.train(frame, target="sales", task="forecast", time_limit=120, quiet=True, ray="local", **options)
    ours = local.leaderboard().set_index("model")
    theirs = spread.leaderboard().set_index("model")
    for name in ("theta", "ets", "ces"):
        assert ours.loc[name, "status"] == theirs.loc[name, "status"] == "ok"
        assert ours.loc[name, "score"] == pytest.approx(theirs.loc[name, "score"], rel=1e-9)
    assert local.specs.get("ets") == spread.specs.get("ets") or "ets" not in local.specs
    pd.testing.assert_frame_equal(local.forecast(), spread.forecast())

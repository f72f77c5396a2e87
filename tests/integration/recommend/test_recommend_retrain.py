"""The recommend retrain gate on a registered champion: a challenger on the extended interactions, judged on
each user's newest interaction with a paired test over users, promoted only if better, audited either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recommend_data import interactions

import kiln


@pytest.mark.slow  # MLflow registration takes tens of seconds on 2 cores
def test_a_challenger_is_gated_over_users_and_audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from kiln.retrain.recommend import retrain_recommender
    from kiln.store.registry import audit_history, register

    monkeypatch.setenv("KILN_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("KILN_DB", raising=False)
    old = interactions(n_users=60, n_items=40, seed=0)
    champion = kiln.train(old, task="recommend", user_column="user", item_column="item", time_column="ts",
                          time_limit=8, quiet=True)
    register(kiln.save(champion, tmp_path / "champion"), "shop")
    newer = interactions(n_users=60, n_items=40, seed=5).assign(ts=lambda f: f["ts"] + 10**7)
    extended = pd.concat([old, newer], ignore_index=True)
    result = retrain_recommender("shop", extended, time_limit=8)
    assert result.test["users"] >= 20 and result.challenger_version == "2"
    assert result.promoted == (result.test["one_sided_p"] < 0.05 and result.test["difference"] > 0)
    actions = [entry.action for entry in audit_history("shop")]
    assert actions[-1] == ("promote" if result.promoted else "keep")
    # and through the command: kiln retrain hands the recommend kind's gate the whole run
    from typer.testing import CliRunner

    from kiln.cli.app import app

    extended.to_csv(tmp_path / "extended.csv", index=False)
    done = CliRunner().invoke(app, ["retrain", "shop", str(tmp_path / "extended.csv"), "--time-limit", "8",
                                    "--quiet", "--out", str(tmp_path / "retrain.html")])
    assert done.exit_code == 0, done.output
    assert ("promoted: shop version 3" in done.output) or ("challenger version 3 registered" in done.output)
    assert "gate users' newest interactions" in done.output and (tmp_path / "retrain.html").exists()

"""Ranking metrics against hand-computed cases, and the paired test's direction."""

from __future__ import annotations

import math

import numpy as np
import pytest

from kiln.evaluation.ranking import bootstrap_mean, coverage, paired_test, per_user_metrics, popularity_bias


def test_one_relevant_item_at_rank_three() -> None:
    m = per_user_metrics(np.array([[5, 7, 2, 9]]), [np.array([2])], k=4)
    assert m["ndcg"][0] == pytest.approx(1 / math.log2(4))  # rank 3: 1/log2(3 + 1) = 0.5
    assert m["recall"][0] == 1.0 and m["map"][0] == pytest.approx(1 / 3) and m["mrr"][0] == pytest.approx(1 / 3)


def test_two_relevant_items_and_a_miss() -> None:
    m = per_user_metrics(np.array([[1, 4, 3], [8, 9, -1]]), [np.array([1, 3]), np.array([2])], k=3)
    ideal = 1 + 1 / math.log2(3)
    assert m["ndcg"][0] == pytest.approx((1 + 1 / math.log2(4)) / ideal)
    assert m["recall"][0] == 1.0
    assert m["map"][0] == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at ranks 1 and 3, over min(k, |R|) = 2
    assert m["mrr"][0] == 1.0
    assert m["ndcg"][1] == m["recall"][1] == m["map"][1] == m["mrr"][1] == 0.0  # no hit; -1 pads are not items


def test_only_the_top_k_counts() -> None:
    m = per_user_metrics(np.array([[0, 1, 2, 3]]), [np.array([3])], k=3)
    assert m["ndcg"][0] == 0.0 and m["recall"][0] == 0.0


def test_coverage_and_popularity_bias() -> None:
    recs = np.array([[0, 1], [1, 2], [-1, -1]])
    assert coverage(recs, n_items=6, k=2) == pytest.approx(3 / 6)
    percentiles = np.array([0.0, 0.5, 1.0])
    bias = popularity_bias(recs, percentiles, k=2)
    assert bias[0] == pytest.approx(0.25) and bias[1] == pytest.approx(0.75) and np.isnan(bias[2])


def test_bootstrap_interval_holds_the_mean_and_a_constant_has_none() -> None:
    values = np.random.default_rng(0).random(200)
    estimate = bootstrap_mean(values)
    assert estimate.low < estimate.value < estimate.high and estimate.value == pytest.approx(values.mean())
    constant = bootstrap_mean(np.full(50, 0.3))
    assert constant.low == pytest.approx(0.3) == constant.high


def test_paired_test_finds_the_better_recommender() -> None:
    rng = np.random.default_rng(1)
    worse = rng.random(300) * 0.5
    better = worse + 0.1 + rng.normal(0, 0.02, 300)
    result = paired_test(better, worse, names=("a", "b"))
    assert result.low > 0 and result.p_value < 1e-6 and result.verdict == "a is better"
    same = paired_test(worse, worse.copy())
    assert same.p_value == 1.0 and same.verdict == "no significant difference"

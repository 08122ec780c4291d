"""bench/relevance's metric maths on small examples computed by hand."""

from __future__ import annotations

import math

import pytest

from bench.relevance_metrics import dcg, mean, ndcg_at_k, recall_at_k

pytestmark = pytest.mark.fast


def test_dcg_by_hand():
    # (2^3-1)/log2(2) + (2^0-1)/log2(3) + (2^2-1)/log2(4) = 7 + 0 + 1.5
    assert dcg([3, 0, 2]) == pytest.approx(8.5)


def test_ideal_order_scores_one_and_reversed_order_less():
    judgments = {"a": 3, "b": 2, "c": 1}
    assert ndcg_at_k(["a", "b", "c"], judgments) == pytest.approx(1.0)
    ideal = 7 + 3 / math.log2(3) + 1 / 2
    assert ndcg_at_k(["c", "b", "a"], judgments) == pytest.approx((1 + 3 / math.log2(3) + 7 / 2) / ideal)


def test_unjudged_items_count_zero_and_missing_relevant_items_lower_the_score():
    judgments = {"a": 3, "b": 1}
    ideal = 7 + 1 / math.log2(3)
    assert ndcg_at_k(["x", "a"], judgments) == pytest.approx((7 / math.log2(3)) / ideal)
    assert ndcg_at_k(["x", "y"], judgments) == 0.0
    assert ndcg_at_k([], judgments) == 0.0


def test_only_the_top_k_count():
    judgments = {"a": 2, "b": 2}
    ranked = [f"n{i}" for i in range(10)] + ["a", "b"]
    assert ndcg_at_k(ranked, judgments, k=10) == 0.0
    assert recall_at_k(ranked, judgments, k=10) == 0.0
    assert recall_at_k(ranked, judgments, k=12) == 1.0
    # The ideal DCG is capped at k too: one relevant item at rank 1 of k=1 is perfect.
    assert ndcg_at_k(["a"], judgments, k=1) == pytest.approx(1.0)


def test_recall_counts_every_grade_above_zero_once():
    judgments = {"a": 3, "b": 1, "c": 1, "d": 0}
    assert recall_at_k(["a", "d", "c", "a"], judgments) == pytest.approx(2 / 3)


def test_a_query_without_relevant_items_is_an_error():
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], {"a": 0})
    with pytest.raises(ValueError):
        recall_at_k(["a"], {})


def test_mean():
    assert mean([0.5, 1.0]) == 0.75 and mean([]) == 0.0

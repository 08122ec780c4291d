"""Ranking metrics of bench/relevance: nDCG@k and recall@k of one ranked list against graded
judgments (0-3; unjudged = 0). Pure functions, tested in tests/bench/test_relevance_metrics.py."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def dcg(grades: Sequence[int]) -> float:
    """Exponential gain (2^grade - 1) with the log2(rank + 1) discount, rank from 1."""
    return sum((2**g - 1) / math.log2(rank + 1) for rank, g in enumerate(grades, start=1))


def ndcg_at_k(ranked: Sequence, judgments: Mapping, k: int = 10) -> float:
    """DCG of the top k over the DCG of the ideal order of every judged item (1.0 = ideal)."""
    ideal = dcg(sorted((g for g in judgments.values() if g > 0), reverse=True)[:k])
    if ideal == 0:
        raise ValueError("a query needs at least one item with a grade above 0")
    return dcg([judgments.get(item, 0) for item in ranked[:k]]) / ideal


def recall_at_k(ranked: Sequence, judgments: Mapping, k: int = 10) -> float:
    """Share of the relevant items (grade >= 1) found in the top k."""
    relevant = {item for item, g in judgments.items() if g > 0}
    if not relevant:
        raise ValueError("a query needs at least one item with a grade above 0")
    return len(relevant & set(ranked[:k])) / len(relevant)


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0

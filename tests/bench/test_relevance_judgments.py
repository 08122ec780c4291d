"""bench/relevance's judged queries: well formed against the demo corpus, and how a query's own
"params" join its query string."""

from __future__ import annotations

import json

import pytest

from bench.relevance import JUDGMENTS, ROOT, query_params

CORPUS = ROOT / "write_service" / "platform" / "management" / "commands" / "demo_corpus.json"

pytestmark = pytest.mark.fast


def test_every_judgment_names_a_corpus_item_of_its_list_with_a_grade_of_1_to_3():
    corpus = json.loads(CORPUS.read_text())
    keys = {name: {item["key"] for item in corpus[name]} for name in ("assessments", "posts")}
    queries = json.loads(JUDGMENTS.read_text())["queries"]
    distinct = {(q["list"], q["query"], json.dumps(q.get("params", {}), sort_keys=True)) for q in queries}
    assert len(distinct) == len(queries), "a query is judged twice"
    for judged in queries:
        assert judged["judgments"], judged["query"]
        assert set(judged["judgments"]) <= keys[judged["list"]], judged["query"]
        assert set(judged["judgments"].values()) <= {1, 2, 3}, judged["query"]
        query_params(judged, 10)  # params, if any, are well formed


def test_a_query_without_params_sends_q_and_the_page_size():
    assert query_params({"query": "graph", "list": "posts", "judgments": {}}, 10) == {"q": "graph", "page_size": 10}


def test_params_join_the_query_string():
    judged = {"query": "graph trav", "params": {"prefix": "true"}}
    assert query_params(judged, 5) == {"q": "graph trav", "page_size": 5, "prefix": "true"}


@pytest.mark.parametrize("params", [{"q": "other"}, {"page_size": 50}, ["prefix"]])
def test_params_may_not_replace_q_or_the_page_size(params):
    with pytest.raises(SystemExit):
        query_params({"query": "graph", "params": params}, 10)

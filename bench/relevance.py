"""`bench/relevance [--search-url URL] [--reuse] [--json] [--k 10]`: search quality over the demo
corpus. Seeds the corpus (manage.py seed_demo --orgs 1 --candidates 0, through the services and the
real pipeline) into this namespace, runs every judged query of bench/relevance_judgments.json
through the search API (`q=`, the list's default relevance order, plus the query's own "params"
if it has any, e.g. {"prefix": "true"}), and prints nDCG@k and recall@k per list and overall. The
corpus's keys are mapped to this run's ids by title.

Namespace: the variables bench/relevance exports (its own by default, any other when set). By
default the namespace is reset and seeded afresh, so the indexes have the current mappings; the
command starts the namespace's workers and search API from this checkout and stops what it started.
--search-url: query a search API already running instead; it must read this namespace's Redis
(REDIS_URL/REDIS_DB_CACHE, where the token is cached) and Elasticsearch indexes (ES_INDEX_PREFIX).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import requests

from bench.relevance_metrics import mean, ndcg_at_k, recall_at_k

ROOT = Path(__file__).resolve().parents[1]
JUDGMENTS = ROOT / "bench" / "relevance_judgments.json"
ORG_NAME = "Relevance corpus"
PIPELINE = ("worker-indexing", "worker-fanout", "worker-counters", "beat", "listener")
# Data sets that are someone else's: never reset.
PROTECTED_DATABASES = {"assessments", "assessments_test", "assessments_bench"}


def apps(action: str, *components: str) -> None:
    subprocess.run(
        [str(ROOT / "stack" / "apps.sh"), action, *components], check=True, cwd=ROOT, stdout=subprocess.DEVNULL
    )


def running(component: str) -> bool:
    return (
        subprocess.run([str(ROOT / "stack" / "apps.sh"), "status", component], cwd=ROOT, capture_output=True).returncode
        == 0
    )


def reset_namespace(config) -> None:
    """Drop the namespace's database, indexes and Redis databases (never a protected one)."""
    from bench.database import wipe_namespace

    if config.pg_db in PROTECTED_DATABASES or not config.es_index_prefix:
        raise SystemExit(
            f"bench/relevance: refusing to reset {config.pg_db} / prefix '{config.es_index_prefix}'; "
            "set a namespace of its own (see bench/relevance)"
        )
    wipe_namespace(config)


def corpus_ids(org) -> dict[str, dict[str, int]]:
    """Corpus key -> id in this namespace, per list (titles are unique in the corpus)."""
    from write_service.assessments.models import Assessment
    from write_service.discussions.models import Post
    from write_service.platform.management.commands.seed_demo import load_corpus

    corpus = load_corpus()
    by_title = {
        "assessments": dict(Assessment.objects.filter(organisation=org).values_list("title", "id")),
        "posts": dict(Post.objects.filter(organisation=org).values_list("title", "id")),
    }
    return {name: {item["key"]: by_title[name][item["title"]] for item in corpus[name]} for name in by_title}


def wait_indexed(search_url: str, headers: dict, expected: dict[str, int], timeout: float = 180) -> None:
    """Until the search API lists every corpus row (the pipeline has caught up)."""
    deadline = time.monotonic() + timeout
    while True:
        counts = {}
        for name in expected:
            response = requests.get(
                f"{search_url}/search/v1/{name}", headers=headers, params={"page_size": 1}, timeout=30
            )
            counts[name] = response.json().get("count") if response.ok else None
        if counts == expected:
            return
        if time.monotonic() > deadline:
            raise SystemExit(
                f"bench/relevance: the search API lists {counts}, expected {expected} after {timeout:.0f}s"
            )
        time.sleep(1)


def query_params(judged: dict, k: int) -> dict[str, str | int]:
    """The query string of one judged query: `q`, the page size k and the query's own "params"
    (which may not set q or page_size)."""
    extra = judged.get("params", {})
    if not isinstance(extra, dict) or {"q", "page_size"} & extra.keys():
        raise SystemExit(f"bench/relevance: {judged['query']!r}: params must be an object without q or page_size")
    return {"q": judged["query"], "page_size": k, **extra}


def run_queries(search_url: str, headers: dict, ids: dict[str, dict[str, int]], k: int) -> list[dict]:
    rows = []
    for judged in json.loads(JUDGMENTS.read_text())["queries"]:
        name, query = judged["list"], judged["query"]
        params = query_params(judged, k)
        response = requests.get(f"{search_url}/search/v1/{name}", headers=headers, params=params, timeout=30)
        if not response.ok:
            raise SystemExit(f"bench/relevance: {name} {params} answered {response.status_code}: {response.text[:300]}")
        key_of = {v: key for key, v in ids[name].items()}
        ranked = [key_of.get(row["id"], f"unknown:{row['id']}") for row in response.json()["results"]]
        rows.append(
            {
                "list": name,
                "query": query,
                "params": judged.get("params", {}),
                "ndcg": ndcg_at_k(ranked, judged["judgments"], k),
                "recall": recall_at_k(ranked, judged["judgments"], k),
                "top": ranked[:3],
            }
        )
    return rows


def summary(rows: list[dict]) -> dict:
    out = {}
    for name in ("assessments", "posts", "overall"):
        mine = [r for r in rows if name == "overall" or r["list"] == name]
        out[name] = {
            "queries": len(mine),
            "ndcg": round(mean([r["ndcg"] for r in mine]), 4),
            "recall": round(mean([r["recall"] for r in mine]), 4),
        }
    return out


def _seeded_organisation(*, reuse: bool, log, started: list[str]):
    """The corpus's organisation: the one seeded before (--reuse), else a fresh namespace seeded with
    the pipeline running (what this starts is appended to `started`)."""
    import django
    from django.core.management import call_command
    from django.db import connections

    from read_indexer.lifecycle.ensure import ensure_all_indexes
    from shared.config import load_config
    from write_service.accounts.models import Organisation

    if reuse:
        try:
            org = Organisation.objects.filter(name__startswith=ORG_NAME).order_by("-id").first()
            if org is not None:
                return org
        except django.db.Error:
            connections.close_all()
    config = load_config()
    print(
        f"resetting database {config.pg_db}, indexes {config.es_index_prefix}*, Redis "
        f"{config.redis_db_broker}/{config.redis_db_cache}",
        file=log,
        flush=True,
    )
    connections.close_all()
    reset_namespace(config)
    call_command("migrate", interactive=False, verbosity=0)
    ensure_all_indexes()
    for component in PIPELINE:
        if not running(component):
            apps("start", component)
            started.append(component)
    call_command("seed_demo", orgs=1, candidates=0, org_name=ORG_NAME, stdout=log)
    return Organisation.objects.filter(name__startswith=ORG_NAME).order_by("-id").first()


def _use_synonyms(mode: str, log) -> None:
    """Store the demo's synonym sets, or empty ones, then wait out the search API's synonym cache
    (SEARCH_SYNONYMS_TTL_SECONDS) so that every query runs with them."""
    from django.core.management import call_command

    from shared import synonyms
    from shared.config import load_config
    from shared.es_client import get_es_client

    if mode == "demo":
        call_command("search_synonyms", "demo", stdout=log)
    else:
        es = get_es_client()
        for index in synonyms.SYNONYM_INDEXES:
            synonyms.store(es, index, [], previous=synonyms.load(es, index))
    time.sleep(load_config().search_synonyms_ttl_seconds + 0.5)


def _print_table(result: dict, k: int) -> None:
    for row in result["queries"]:
        label = " ".join([row["query"], *(f"{key}={value}" for key, value in row["params"].items())])
        print(
            f"{row['list']:<12} {label[:32]:<32} nDCG@{k} {row['ndcg']:.3f}  recall@{k} "
            f"{row['recall']:.3f}"
            f"  top: {', '.join(row['top'])}"
        )
    print()
    for name, figures in result["summary"].items():
        print(
            f"{name:<12} {figures['queries']:>3} queries  nDCG@{k} {figures['ndcg']:.3f}  recall@{k} "
            f"{figures['recall']:.3f}"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="bench/relevance", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--search-url", help="a running search API reading this namespace (default: start one)")
    parser.add_argument("--reuse", action="store_true", help="keep an already seeded corpus (no reset)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    parser.add_argument("--k", type=int, default=10, help="cut-off of nDCG and recall (default 10)")
    parser.add_argument(
        "--synonyms",
        choices=("demo", "none"),
        default="demo",
        help="the synonym sets searched with: the demo's starting set (default, what bin/run loads) or none",
    )
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "write_service.settings.base")
    import django

    django.setup()
    from write_service.accounts.models import User
    from write_service.accounts.services import token_issue
    from write_service.platform.management.commands.seed_demo import DEMO_PASSWORD, load_corpus

    log = sys.stderr if args.json else sys.stdout
    started: list[str] = []
    try:
        org = _seeded_organisation(reuse=args.reuse, log=log, started=started)
        staff = User.objects.filter(organisation=org, role="staff").order_by("id").first()
        headers = {"Authorization": f"Token {token_issue(username=staff.username, password=DEMO_PASSWORD)}"}
        search_url = args.search_url
        if search_url is None:
            if not running("search"):
                apps("start", "search")
                started.append("search")
            search_url = f"http://127.0.0.1:{os.environ.get('TEST_SEARCH_PORT', '8511')}"
        search_url = search_url.rstrip("/")
        _use_synonyms(args.synonyms, log)
        corpus = load_corpus()
        wait_indexed(search_url, headers, {name: len(corpus[name]) for name in ("assessments", "posts")})
        rows = run_queries(search_url, headers, corpus_ids(org), args.k)
    finally:
        if started:
            apps("stop", *started)
    result = {
        "k": args.k,
        "search_url": search_url,
        "namespace": os.environ.get("STACK_NAMESPACE"),
        "synonyms": args.synonyms,
        "summary": summary(rows),
        "queries": rows,
    }
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    _print_table(result, args.k)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Stage `doc_writes`: Elasticsearch documents written per submission on the largest leaderboard."""

from __future__ import annotations

import time

import requests

from bench import namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, auth_header
from read_indexer.operations import pipeline_status
from read_indexer.raw_sql import one_row

DOC_WRITE_SUBMISSIONS = 50  # submissions on the largest leaderboard for documents_per_submission


def _index_writes(es, alias: str) -> dict:
    """Elasticsearch's own indexing stats of the physical index behind `alias` (primaries)."""
    stats = es.indices.stats(index=alias, metric="indexing").body
    indexing = stats["_all"]["primaries"]["indexing"]
    return {
        "indices": sorted(stats["indices"]),
        "index_total": indexing["index_total"],
        "index_failed": indexing.get("index_failed", 0),
    }


def _submit(jobs: list[tuple[int, str]]) -> tuple[list[int], list[str]]:
    """Each started attempt submitted through the write API, one after the other: (ids, errors)."""
    session, errors, submitted = requests.Session(), [], []
    for k, (attempt_id, token) in enumerate(jobs):
        response = session.post(
            namespace.url(namespace.WRITE_PORT) + f"/api/v1/attempts/{attempt_id}/submit",
            json={"score": f"{40 + k % 60}.5"},
            headers=auth_header(token),
            timeout=30,
        )
        if response.status_code >= 300:
            errors.append(f"{response.status_code} {response.text[:200]}")
        else:
            submitted.append(attempt_id)
    return submitted, errors


def _all_searchable_after(es, submitted: list[int], started: float) -> float | None:
    """Seconds from `started` until every submitted attempt is searchable as submitted (None: 300 s passed)."""
    from shared.indexes import ATTEMPTS

    ids = [str(a) for a in submitted]
    while time.monotonic() - started < 300:
        found = es.count(
            index=ATTEMPTS.alias,
            query={"bool": {"filter": [{"ids": {"values": ids}}, {"term": {"status": "submitted"}}]}},
        )["count"]
        if found == len(ids):
            return round(time.monotonic() - started, 2)
        time.sleep(0.1)
    return None


def _leaderboard_in_index(es, assessment_id: int) -> int:
    from shared.indexes import ATTEMPTS

    filters = [{"term": {"assessment": assessment_id}}, {"term": {"status": "submitted"}}, {"term": {"deleted": False}}]
    return es.count(index=ATTEMPTS.alias, query={"bool": {"filter": filters}})["count"]


def run(ctx: StageContext) -> None:
    """With the workers running and the pipeline idle: Elasticsearch's indexing stats of the attempts
    and assessments indexes, DOC_WRITE_SUBMISSIONS submissions of started attempts of the largest
    leaderboard through the write API, wait until all are searchable and the pipeline is idle, the
    stats again. Writes per submission must not grow with the leaderboard."""
    from shared.es_client import get_es_client
    from shared.indexes import ASSESSMENTS, ATTEMPTS

    info, es = ctx.info, get_es_client()
    jobs = info.doc_write_jobs
    if not jobs:
        raise RuntimeError("no started attempts of the top assessment were reserved (seed.issue_tokens)")
    top = info.top_assessment
    board_before = one_row("SELECT submitted_count FROM assessments_assessment WHERE id = %s", [top])[0]
    idle_wait = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    before = {"attempts": _index_writes(es, ATTEMPTS.alias), "assessments": _index_writes(es, ASSESSMENTS.alias)}
    started = time.monotonic()
    submitted, errors = _submit(jobs)
    write_s = time.monotonic() - started
    searchable_s = _all_searchable_after(es, submitted, started)
    drain = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    time.sleep(1.0)  # a counters batch's follow-up projection, if any, shows in the queues
    drain += pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    after = {"attempts": _index_writes(es, ATTEMPTS.alias), "assessments": _index_writes(es, ASSESSMENTS.alias)}
    n = len(submitted)
    written = {k: after[k]["index_total"] - before[k]["index_total"] for k in before}
    figures = {
        "assessment_id": top,
        "leaderboard_size_before": board_before,
        "leaderboard_size_after": one_row("SELECT submitted_count FROM assessments_assessment WHERE id = %s", [top])[0],
        "leaderboard_size_in_search_index": _leaderboard_in_index(es, top),
        "submissions": n,
        "errors": len(errors),
        "error_samples": errors[:3],
        "sequential_writes_seconds": round(write_s, 2),
        "all_searchable_after_s": searchable_s,
        "idle_wait_before_s": idle_wait,
        "drain_after_s": round(drain, 2),
        "attempt_document_writes": written["attempts"],
        "assessment_document_writes": written["assessments"],
        "attempt_document_writes_per_submission": round(written["attempts"] / n, 3) if n else None,
        "assessment_document_writes_per_submission": round(written["assessments"] / n, 3) if n else None,
        "index_failed_delta": {k: after[k]["index_failed"] - before[k]["index_failed"] for k in before},
        "physical_indexes": {k: after[k]["indices"] for k in after},
        "how": (
            "GET <alias>/_stats/indexing, primaries.indexing.index_total, before and after, pipeline idle both times"
        ),
    }
    print(
        f"  {n} submissions on a {board_before:,}-attempt leaderboard: "
        f"{figures['attempt_document_writes_per_submission']} "
        f"attempt documents and {figures['assessment_document_writes_per_submission']} assessment documents written "
        f"per submission (all searchable after {searchable_s} s)",
        flush=True,
    )
    ctx.figures["documents_per_submission"] = figures

"""Stage `raw_sql_lag`: commit-to-searchable lag of changes committed by plain SQL on the primary."""

from __future__ import annotations

import random
import time

from django.db import connections

from bench import cpu, namespace
from bench.stages.context import BENCH_IDLE_TIMEOUT, StageContext, run_json_process
from read_indexer.operations import pipeline_status


def _posts_to_change(ctx: StageContext, writes_n: int) -> tuple[list[int], list[list[int]]]:
    """(posts to retitle, [post, author] pairs to comment on), shuffled. Seeded posts only (ids up
    to scale.posts; the hot posts come after): they are in the search index, while writes of earlier
    stages made with capture off are not."""
    s, info = ctx.scale, ctx.info
    comments_n = writes_n // s.raw_sql_comment_every if s.raw_sql_comment_every else 0
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT id, author_id FROM discussions_post WHERE organisation_id = %s AND deleted_at IS NULL"
            " AND id <= %s ORDER BY id",
            [info.big_org, s.posts],
        )
        rows = cursor.fetchall()
    if len(rows) < writes_n:
        raise RuntimeError(f"{len(rows)} seeded posts of organisation {info.big_org}, {writes_n} needed")
    rng = random.Random(13)
    rng.shuffle(rows)
    return [r[0] for r in rows[comments_n:writes_n]], [list(r) for r in rows[:comments_n]]


def run(ctx: StageContext) -> None:
    """Commit-to-searchable lag of changes committed by plain SQL on the primary (bench/raw_sql_probe.py,
    a separate process): post title UPDATEs and a few comment INSERTs on seeded posts of the big
    organisation, one per transaction, at the scale's rate; visible = the search API shows the new
    title (or the post's comments_count one higher). Workers and listener running."""
    s, info = ctx.scale, ctx.info
    writes_n = int(s.raw_sql_rate * s.raw_sql_seconds)
    update_posts, comment_posts = _posts_to_change(ctx, writes_n)
    spec = {
        "search_url": namespace.url(namespace.SEARCH_PORT),
        "token": info.tokens["big_org_staff"],
        "update_posts": update_posts,
        "comment_posts": comment_posts,
        "rate": s.raw_sql_rate,
        "writes": writes_n,
        "comment_every": s.raw_sql_comment_every,
        "nonce": f"{int(time.time())}",
        "poll_interval": 0.05,
        "settle_timeout": 60 if s.name == "small" else 300,
    }
    idle = pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT)
    with cpu.Sampler(ctx.procs.groups()) as sampler:
        result = run_json_process("bench.raw_sql_probe", spec, timeout=3600)
    committed = sum(result["committed"].values())
    result.update(
        how=(
            "psycopg2 on the primary (not pgBouncer, not the write service), one change per transaction, open loop; "
            "commit time = time.time() after commit() returned; searchable = first GET /search/v1/posts?id__in=... "
            "(big organisation's staff) that shows the new title / the comment counted"
        ),
        writes="UPDATE discussions_post SET title, updated_at (a different seeded post each); every "
        f"{s.raw_sql_comment_every}th an INSERT INTO discussions_comment (the post's comments_count, via the "
        "counters batch)",
        idle_wait_before_s=idle,
        cpu_while_writing=sampler.window(result["started_at"], result["writes_ended_at"], committed),
        drain_s_after=pipeline_status.wait_until_idle(timeout=BENCH_IDLE_TIMEOUT),
    )
    ctx.figures["raw_sql_lag"] = result
    lag, by = result["lag_seconds"], result["lag_seconds_by_kind"]
    print(
        f"  raw SQL lag ({result['committed']} at {result['achieved_rate']} writes/s): n {lag['n']} p50 {lag['p50']} "
        f"p95 {lag['p95']} p99 {lag['p99']} max {lag['max']} s; updates p99 {by['update']['p99']} s, comments p99 "
        f"{by['comment']['p99']} s; unseen {result['unseen_after_settle']}, errors {result['errors']}",
        flush=True,
    )
    if result["unseen_after_settle"] or result["errors"]:
        raise RuntimeError(
            f"raw SQL writes: {result['unseen_after_settle']} never searchable, {result['errors']} failed "
            f"({result['error_samples']})"
        )

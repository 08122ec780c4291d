"""Stage `hot_counter`: comments on one post, the pipeline's batched counter against a synchronous
UPDATE ... + 1 per comment."""

from __future__ import annotations

import json
import time

from bench import database, namespace
from bench.loadgen import Request, run_wrk
from bench.stages.context import StageContext, auth_header
from read_indexer.operations import pipeline_status
from read_indexer.raw_sql import one_row


def _comment_rows(post_id: int) -> tuple[int, int, int]:
    """(comment rows, comments_count, version) of one post, from the primary."""
    rows = one_row("SELECT count(*) FROM discussions_comment WHERE post_id = %s AND deleted_at IS NULL", [post_id])[0]
    count, version = one_row("SELECT comments_count, version FROM discussions_post WHERE id = %s", [post_id])
    return rows, count, version


def _hot_run(ctx: StageContext, kind: str, port: int, post_id: int, n: int, c: int, body: str, outbox0: int) -> dict:
    info = ctx.info
    rows0, count0, version0 = _comment_rows(post_id)
    reqs = [
        Request(
            "POST", f"/api/v1/posts/{post_id}/comments", {**auth_header(t), "Content-Type": "application/json"}, body
        )
        for t in info.writer_tokens
    ]
    before = database.statements_snapshot()
    run_started = time.time()
    max_id = one_row("SELECT COALESCE(MAX(id), 0) FROM discussions_comment")[0]
    load = run_wrk(
        f"hot counter {kind}",
        namespace.url(port),
        reqs,
        connections=c,
        duration=ctx.scale.duration,
        quota=n,
        cpu_groups=ctx.procs.groups(),
    ).as_dict()
    acked_at = time.monotonic()
    rows1, count1, version1 = _comment_rows(post_id)
    while True:  # requests abandoned in flight by the stopping load generator may still commit
        time.sleep(1.0)
        again = _comment_rows(post_id)
        if again[0] == rows1:
            break
        rows1, count1, version1 = again
    after = database.statements_snapshot()
    committed = rows1 - rows0
    # Throughput from the rows themselves: first to last commit of this run (created_at is set
    # in the writing transaction), independent of how the load generator's run ended.
    first, last = one_row(
        "SELECT MIN(created_at), MAX(created_at) FROM discussions_comment WHERE post_id = %s AND id > %s",
        [post_id, max_id],
    )
    span = (last - first).total_seconds() if first and last else 0.0
    exact_after = 0.0
    if kind == "pipeline":  # the counter is exact once the pipeline has flushed
        deadline = time.monotonic() + 300
        while count1 != rows1 and time.monotonic() < deadline:
            time.sleep(0.1)
            rows1, count1, version1 = _comment_rows(post_id)
        exact_after = round(time.monotonic() - acked_at, 2)
    run = {
        "post_id": post_id,
        "load": load,
        "committed_comments": committed,
        "comments_per_second": round((committed - 1) / span, 1) if span > 0 else None,
        "first_to_last_commit_s": round(span, 2),
        "comments_count": count1,
        "comment_rows": rows1,
        "exact": count1 == rows1,
        "seconds_until_exact_after_last_ack": exact_after,
        "naive_update_statements": database.calls_matching(
            before, after, 'UPDATE "discussions_post" SET "comments_count" = ("discussions_post"."comments_count" +'
        ),
        "pipeline_counter_updates_on_row": version1 - version0,  # every pipeline UPDATE bumps version by 1
        "sql_during_run": database.statements_delta(before, after, top=5),
    }
    if kind == "pipeline":
        from bench import worker_log

        run["worker_tasks"] = worker_log.task_stats(run_started, time.time())
    run["updates_on_hot_row"] = (
        run["naive_update_statements"] if kind == "naive" else run["pipeline_counter_updates_on_row"]
    )
    print(
        f"  hot counter {kind:<31} {run['comments_per_second']:>9} comments/s  count {count1}/{rows1}"
        f"  UPDATEs on the row {run['updates_on_hot_row']}  exact after {exact_after}s",
        flush=True,
    )
    # Each comment counted once: with capture off the naive run records no outbox row at all.
    run["outbox_rows_recorded"] = database.rows_since("outbox_outboxevent", outbox0)
    run["counter_moved_by"] = count1 - count0
    return run


def run(ctx: StageContext) -> None:
    """Comments on one post: the pipeline (capture on, counters batched by the workers) vs the naive
    baseline (NAIVE_COUNTER_UPDATES: a synchronous UPDATE ... + 1 per comment) with capture OFF, so
    the baseline is "no pipeline": it pays no capture and the pipeline does not count its comments
    a second time. Capture is re-enabled right after the naive phase (and always, on failure)."""
    from shared.es_client import get_es_client
    from shared.indexes import POSTS

    info, n, c = ctx.info, ctx.scale.hot_comments, ctx.scale.hot_connections
    body = json.dumps({"body": "+1, same here."})
    figures: dict = {"comments_per_run": n, "connections": c, "clients": len(info.writer_tokens)}
    for kind, port in (("naive", namespace.WRITE_NAIVE_PORT), ("pipeline", namespace.WRITE_PORT)):
        post_id = info.hot_posts[kind]
        figures.setdefault("idle_wait_s", {})[kind] = pipeline_status.wait_until_idle(timeout=600)
        outbox0 = database.max_id("outbox_outboxevent")
        with database.capture_mode("capture_off" if kind == "naive" else "capture_on") as toggled:
            run = _hot_run(ctx, kind, port, post_id, n, c, body, outbox0)
        run["capture"] = "off (triggers disabled for the run)" if kind == "naive" else "on"
        if toggled:
            run["capture_toggle"] = toggled
        figures[kind] = run
    # The post's search document shows the exact count too, once projected.
    post_id = info.hot_posts["pipeline"]
    started, searchable = time.monotonic(), None
    while time.monotonic() - started < 120:
        doc = get_es_client().options(ignore_status=404).get(index=POSTS.alias, id=str(post_id)).body
        if doc.get("found") and doc["_source"].get("comments_count") == figures["pipeline"]["comment_rows"]:
            searchable = round(time.monotonic() - started, 2)
            break
        time.sleep(0.1)
    figures["pipeline"]["search_document_exact_after_s"] = searchable
    figures["drain_s_after_pipeline_run"] = pipeline_status.wait_until_idle(timeout=900)
    naive, pipe = figures["naive"], figures["pipeline"]
    # The baseline counted each of its comments exactly once: its counter moved by the comments
    # committed, capture recorded nothing for them, and once the pipeline has drained (capture back
    # on, counters flushed) its counter still equals its rows (nothing counted them a second time).
    rows_after, count_after, _ = _comment_rows(info.hot_posts["naive"])
    figures["naive_checks"] = {
        "counter_moved_by_committed_comments": naive["counter_moved_by"] == naive["committed_comments"],
        "no_outbox_rows_with_capture_off": naive["outbox_rows_recorded"] == 0,
        "exact_after_pipeline_drained": count_after == rows_after,
        "comments_count_after_pipeline_drained": count_after,
        "comment_rows_after_pipeline_drained": rows_after,
    }
    naive_ok = naive["exact"] and all(v for k, v in figures["naive_checks"].items() if isinstance(v, bool))
    # No target on the ratio: the naive baseline records no event, so it measures what capture
    # costs one row more than what batching saves (the figures below are what batching promises).
    figures["pipeline_vs_naive_comments_per_second"] = round(
        pipe["comments_per_second"] / naive["comments_per_second"], 3
    )
    figures["exact"] = bool(naive_ok and pipe["exact"] and searchable is not None)
    figures["pipeline_updates_per_comment"] = round(pipe["updates_on_hot_row"] / max(1, pipe["committed_comments"]), 5)
    window = pipe["first_to_last_commit_s"] + pipe["seconds_until_exact_after_last_ack"]
    figures["pipeline_updates_per_second"] = round(pipe["updates_on_hot_row"] / max(window, 1.0), 2)
    ctx.figures["hot_counter"] = figures

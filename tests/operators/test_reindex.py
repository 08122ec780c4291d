"""`reindex`: no downtime and no lost write while writers write and readers search;
a reindex killed halfway is finished by `--resume`; `--dry-run` changes nothing."""

from __future__ import annotations

import threading
import time

from read_indexer.lifecycle import rebuild_checkpoint
from read_indexer.lifecycle.index_lifecycle import alias_target, write_targets
from read_indexer.lifecycle.rebuild_checkpoint import LOADING
from read_indexer.operations import pipeline_status
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES, POSTS
from tests.helpers import wait_until
from tests.operators.support import (
    Writer,
    cpu_pressure,
    indexed_seed_posts,
    json_output,
    logged_at,
    manage,
    manage_async,
)
from write_service.discussions.services import post_create
from write_service.read_model.projections import PROJECTIONS


class Reader(threading.Thread):
    """Keeps searching every alias; the seed organisation's post count must never move."""

    def __init__(self, seed_organisation: int):
        super().__init__(daemon=True)
        self.seed_organisation = seed_organisation
        self.stop = threading.Event()
        self.searches = 0
        self.seed_counts: dict[int, float] = {}  # count -> when a reader first saw it
        self.errors: list[str] = []

    def run(self) -> None:
        es = get_es_client()
        while not self.stop.is_set():
            try:
                for definition in ALL_INDEXES.values():
                    es.search(index=definition.alias, size=5, query={"term": {"deleted": False}})
                seed_query = {"term": {"organisation": self.seed_organisation}}
                self.seed_counts.setdefault(es.count(index=POSTS.alias, query=seed_query)["count"], time.time())
                self.searches += 1
            except Exception as exc:
                self.errors.append(repr(exc))
            time.sleep(0.01)  # a busy reader, not a load generator starving the reindex


def test_reindex_all_under_writes_and_reads_loses_nothing_and_moves_the_alias(pipeline, seeded_posts):
    seed_organisation, seeded = seeded_posts
    es = get_es_client()
    # No refresh here: the old index must already be complete when readers start (the fixture's job),
    # so any other count a reader sees comes from the reindex.
    seed_query = {"term": {"organisation": seed_organisation}}
    assert es.count(index=POSTS.alias, query=seed_query)["count"] == seeded, "the seed is not searchable yet"
    before = {name: alias_target(definition) for name, definition in ALL_INDEXES.items()}
    writer, reader = Writer(seed_organisation), Reader(seed_organisation)
    # Under CPU pressure, as on a loaded machine: refreshes, bulks and the swap all slow down.
    with cpu_pressure(seconds=240):
        writer.start()
        reader.start()
        try:
            wait_until(lambda: len(writer.write_times) >= 5 or writer.errors, timeout=30, message="writer warming up")
            result = manage("reindex", "all", "--workers", "2", "--batch-size", "250", timeout=200)
            time.sleep(1.0)  # writes after the swap must land in the new indexes too
        finally:
            writer.stop.set()
            reader.stop.set()
            writer.join(30)
            reader.join(30)

    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.count("docs/s") == len(ALL_INDEXES), result.stdout
    assert writer.errors == []
    started = logged_at(result.stderr, "reindex.started", alias=POSTS.alias)
    swapped = logged_at(result.stderr, "reindex.alias_swapped", alias=POSTS.alias)
    assert sum(started <= t <= swapped for t in writer.write_times) >= 3, (
        "the writer must write while posts are rebuilt"
    )
    assert reader.errors == [] and reader.searches > 0
    seen = {count: f"{at - started:+.2f}s" for count, at in sorted(reader.seed_counts.items(), key=lambda kv: kv[1])}
    assert set(reader.seed_counts) == {seeded}, (
        f"readers saw a partial index: first seen (relative to the posts rebuild's start, swap at "
        f"{swapped - started:+.2f}s): {seen}"
    )

    for name, definition in ALL_INDEXES.items():
        assert alias_target(definition) != before[name], f"{definition.alias} did not move"
        assert not es.indices.exists(index=before[name]), "the old index should be deleted without --keep-old"
        assert write_targets(definition) == [definition.alias], "dual writes must stop after the swap"

    pipeline_status.wait_until_idle()
    # Every post the writer touched is in the new index, at the database's current version.
    touched = sorted(set(writer.post_ids))
    expected = {doc.id: doc.version for doc in PROJECTIONS["posts"].project(touched)}
    found = es.mget(index=POSTS.alias, ids=[str(i) for i in touched])["docs"]
    assert {int(d["_id"]): d.get("_version") for d in found} == expected
    verified = manage("verify", "all", "--json", "--settle", "1")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
    assert all(not any(r["drift"].values()) for r in json_output(verified)["indexes"])


def test_reindex_killed_halfway_is_finished_by_resume(pipeline, seeded_posts, tenant):
    seed_organisation, seeded = seeded_posts
    old_index = alias_target(POSTS)
    process = manage_async("reindex", "posts", "--workers", "1", "--batch-size", "200")

    def halfway():
        checkpoint = rebuild_checkpoint.load(POSTS.alias)
        return checkpoint is not None and checkpoint.loaded >= seeded // 4

    try:
        wait_until(halfway, timeout=60, interval=0.02, message="the bulk load to pass a quarter of the rows")
    finally:
        process.kill()  # SIGKILL: no cleanup code runs
        process.communicate(timeout=30)

    checkpoint = rebuild_checkpoint.load(POSTS.alias)
    assert checkpoint.phase == LOADING and 0 < checkpoint.last_id
    assert alias_target(POSTS) == old_index, "readers stay on the old, complete index"
    assert checkpoint.index in write_targets(POSTS), "dual writes go on while the reindex is down"
    status = manage("pipeline_status", "--json")
    rebuild_status = json_output(status)["indexes"]["posts"]["rebuild"]
    assert rebuild_status["running"] is False and rebuild_status["phase"] == LOADING
    assert status.returncode == 1 and "interrupted reindex" in status.stderr

    # Writes made while no reindex runs reach the half-built index (dual writes), not only the alias.
    crashed_posts = [post_create(actor=tenant.staff, title=f"written while crashed {i}", body="b").pk for i in range(3)]
    es = get_es_client()

    def in_half_built_index():
        return all(d["found"] for d in es.mget(index=checkpoint.index, ids=[str(i) for i in crashed_posts])["docs"])

    wait_until(in_half_built_index, timeout=30, message="dual writes into the interrupted rebuild's index")

    resumed = manage("reindex", "posts", "--resume", "--workers", "4")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"after id {checkpoint.last_id}" in resumed.stdout and "docs/s" in resumed.stdout
    assert alias_target(POSTS) == checkpoint.index
    assert not es.indices.exists(index=old_index)
    assert write_targets(POSTS) == [POSTS.alias] and rebuild_checkpoint.load(POSTS.alias) is None
    assert indexed_seed_posts(seed_organisation) == seeded

    pipeline_status.wait_until_idle()
    verified = manage("verify", "posts", "--settle", "1")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]


def test_dry_run_and_keep_old(pipeline, seeded_posts):
    es = get_es_client()
    old_index = alias_target(POSTS)
    indexes_before = set(es.indices.get(index=f"{POSTS.alias}-*"))
    dry = manage("reindex", "posts", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Would create" in dry.stdout and old_index in dry.stdout
    assert set(es.indices.get(index=f"{POSTS.alias}-*")) == indexes_before and alias_target(POSTS) == old_index

    kept = manage("reindex", "posts", "--keep-old", "--workers", "4")
    assert kept.returncode == 0, kept.stderr[-3000:]
    assert alias_target(POSTS) != old_index and es.indices.exists(index=old_index)
    assert f"old index {old_index} kept" in kept.stdout
    es.indices.delete(index=old_index)

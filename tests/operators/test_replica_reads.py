"""Heavy operator reads on the replica: `reindex`'s bulk load and `verify`'s hash
comparison read the streaming replica once it has replayed the primary's WAL position, and a
replica that is down or fails makes them slower or stop, never wrong.

What is proven, over the real stack (one PostgreSQL primary and its real hot standby):
  - under a concurrent writer (real services), `reindex posts` says it read the replica, every
    post written during the run (also after the replica's position was taken, which only the dual
    writes can carry) is in the new index exactly as the primary projects it now, and `verify`
    afterwards is clean and read the replica too;
  - with the replica stopped before the command, `verify` and `reindex` read the primary and say
    so in one line, and their verdict is right: verify finds an injected lost update (an older
    source at the current version), reindex loads every row;
  - with the replica stopped in the middle of the run (stopped once progress shows, on a run made
    long by small pages): `verify` starts its comparison over on the primary and still reports
    exactly the injected drift, counting every row once; `reindex` stops with one sentence (exit 2,
    no traceback), keeps the old index behind the alias and its dual writes, and `--resume`
    finishes it from the replica, `verify` clean afterwards.
The replica is shared by every namespace on the machine: it is down for seconds only, restarted
in a `finally`, and each test waits until it streams (and has caught up) again.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
from django.db import DatabaseError, connections

from read_indexer.lifecycle import rebuild_checkpoint, replica_reads
from read_indexer.lifecycle.index_lifecycle import alias_target, write_targets
from read_indexer.lifecycle.rebuild_checkpoint import LOADING
from read_indexer.operations import pipeline_status
from shared.es_client import get_es_client
from shared.indexes import POSTS
from tests.helpers import wait_until
from tests.operators.support import (
    ROOT,
    Writer,
    beat_stopped,
    indexed_seed_posts,
    json_output,
    log_entries,
    logged_at,
    manage,
    manage_async,
)
from write_service.discussions.services import post_create, post_update
from write_service.read_model.projections import PROJECTIONS

pytestmark = pytest.mark.slow

NO_DRIFT = {"missing": [], "stale": [], "ahead": [], "orphan": []}
FROM_REPLICA = "reading from the replica (caught up with the primary's "
REPLICA_DOWN = "reading from the primary: the replica is unavailable ("
STARTED_OVER = "reading from the primary: the replica failed mid-run ("
# Small pages make a run of the ~20,000 seeded posts last long enough to stop the replica inside it.
VERIFY_CHUNK = "20"
REINDEX_PAGE = "50"


# --- the shared replica --------------------------------------------------------------------------


def _postgres(action: str) -> None:
    # Without our PG_DB: `start` also ensures the stack's own databases, not ones named after ours.
    env = {key: value for key, value in os.environ.items() if key != "PG_DB"}
    subprocess.run(
        [str(ROOT / "stack" / "postgres.sh"), action], check=True, cwd=ROOT, env=env, capture_output=True, timeout=180
    )


def _replica_streaming() -> bool:
    """The primary streams to the replica, and the replica has replayed the primary's position."""
    connections["replica"].close()
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")
            if not cursor.fetchone()[0]:
                return False
    except DatabaseError:
        return False
    return replica_reads.caught_up_replica("test_replica_reads", timeout=5).is_replica


class Replica:
    """Stops the replica for as short a time as possible; `start` waits until it streams again."""

    def __init__(self) -> None:
        self.down = False
        self.stopped_at = 0.0  # when the stop had completed (pg_ctl -w returned)

    def stop(self) -> None:
        self.down = True  # before the call: a stop that fails halfway is still undone
        _postgres("stop-replica")
        self.stopped_at = time.time()

    def start(self) -> None:
        if not self.down:
            return
        _postgres("start")  # starts the replica, then waits until a probe row has been replicated
        wait_until(_replica_streaming, timeout=60, interval=0.5, message="the replica streaming and caught up again")
        self.down = False


@pytest.fixture
def replica(pipeline) -> Iterator[Replica]:
    wait_until(_replica_streaming, timeout=60, interval=0.5, message="the replica streaming before the test")
    control = Replica()
    try:
        yield control
    finally:
        control.start()


@pytest.fixture
def no_drift_sweep(pipeline):
    with beat_stopped():
        yield


# --- commands watched while they run --------------------------------------------------------------


class RunningCommand:
    """A manage.py process whose stdout and stderr (progress bars included) are read as they come."""

    def __init__(self, *args: str):
        self.process = manage_async(*args)
        self._out: list[bytes] = []
        self._err: list[bytes] = []
        self._drains = [
            threading.Thread(target=self._drain, args=(stream, chunks), daemon=True)
            for stream, chunks in ((self.process.stdout, self._out), (self.process.stderr, self._err))
        ]
        for drain in self._drains:
            drain.start()

    @staticmethod
    def _drain(stream, chunks: list[bytes]) -> None:
        while chunk := stream.buffer.read1(65536):  # not line by line: tqdm redraws with \r
            chunks.append(chunk)

    @property
    def stdout(self) -> str:
        return b"".join(self._out).decode(errors="replace")

    @property
    def stderr(self) -> str:
        return b"".join(self._err).decode(errors="replace")

    def exited(self) -> bool:
        return self.process.poll() is not None

    def wait_for(self, predicate: Callable[[], object], *, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.exited():
                for drain in self._drains:
                    drain.join(5)
                if predicate():
                    return
                raise AssertionError(
                    f"the command exited ({self.process.returncode}) before {message}:\n"
                    f"{self.stdout[-2000:]}\n{self.stderr[-3000:]}"
                )
            time.sleep(0.02)
        raise AssertionError(
            f"timed out after {timeout}s waiting for {message}:\n{self.stdout[-2000:]}\n{self.stderr[-3000:]}"
        )

    def finish(self, timeout: float = 180) -> subprocess.CompletedProcess:
        try:
            self.process.wait(timeout=timeout)
        finally:
            if not self.exited():
                self.process.kill()
                self.process.wait(timeout=30)
            for drain in self._drains:
                drain.join(10)
        return subprocess.CompletedProcess(self.process.args, self.process.returncode, self.stdout, self.stderr)


@contextmanager
def running(*args: str) -> Iterator[RunningCommand]:
    command = RunningCommand(*args)
    try:
        yield command
    finally:
        if not command.exited():  # the test failed while it ran: no orphan process
            command.process.kill()
            command.finish(timeout=30)


def _rows_percent(stderr: str, alias: str) -> int:
    """How far verify's rows bar has come (tqdm: `<alias> rows:  12%|...`), 0 before it shows."""
    return max((int(p) for p in re.findall(rf"{re.escape(alias)} rows:\s+(\d+)%", stderr)), default=0)


def _logged(stderr: str, event: str) -> bool:
    return bool(log_entries(stderr, event))


def _assert_one_sentence_failure(result: subprocess.CompletedProcess, expected: str) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout[-2000:], result.stderr[-3000:])
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("CommandError: ") and expected in last and last.endswith("."), result.stderr[-3000:]
    return last


# --- helpers of the verdicts -----------------------------------------------------------------------


def _lost_update(tenant) -> int:
    """A post whose document holds its previous content at its current version (what a lost update
    leaves), created last so it has the highest id: a comparison reaches it at its very end."""
    clean = manage("verify", "posts", "--repair", "--settle", "1")  # start from an index without drift
    assert clean.returncode == 0, clean.stdout[-2000:] + clean.stderr[-2000:]
    post = post_create(actor=tenant.staff, title="replica drift", body="body", tags=["replica"])
    post_update(actor=tenant.staff, post_id=post.pk, changes={"title": "the title before"})
    pipeline_status.wait_until_idle()
    es, doc_id = get_es_client(), str(post.pk)
    before_edit = es.get(index=POSTS.alias, id=doc_id)["_source"]
    post_update(actor=tenant.staff, post_id=post.pk, changes={"title": "the title now"})
    pipeline_status.wait_until_idle()
    current = es.get(index=POSTS.alias, id=doc_id)
    assert current["_source"]["title"] == "the title now"
    es.index(
        index=POSTS.alias, id=doc_id, document=before_edit, version=current["_version"], version_type="external_gte"
    )
    es.indices.refresh(index=POSTS.alias)
    return post.pk


def _post_rows() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {PROJECTIONS['posts'].table}")
        return cursor.fetchone()[0]


def _assert_rebuilt_and_clean(old_index: str, seed_organisation: int, seeded: int) -> None:
    es = get_es_client()
    assert alias_target(POSTS) != old_index and not es.indices.exists(index=old_index)
    assert write_targets(POSTS) == [POSTS.alias] and rebuild_checkpoint.load(POSTS.alias) is None
    assert indexed_seed_posts(seed_organisation) == seeded
    pipeline_status.wait_until_idle()
    verified = manage("verify", "posts", "--json", "--settle", "1")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
    report = json_output(verified)["indexes"][0]
    assert report["drift"] == NO_DRIFT and report["read_from"].startswith(FROM_REPLICA), report


# --- 1. from the caught-up replica, under a concurrent writer --------------------------------------


def test_reindex_under_a_concurrent_writer_reads_the_caught_up_replica_and_loses_no_write(replica, seeded_posts):
    seed_organisation, seeded = seeded_posts
    old_index = alias_target(POSTS)
    writer = Writer(seed_organisation)
    writer.start()
    try:
        wait_until(lambda: len(writer.write_times) >= 5 or writer.errors, timeout=30, message="writer warming up")
        result = manage("reindex", "posts", "--workers", "2", "--batch-size", "250", timeout=240)
        time.sleep(1.0)  # writes after the swap must land in the new index too
    finally:
        writer.stop.set()
        writer.join(30)

    assert result.returncode == 0, result.stderr[-3000:]
    assert writer.errors == []
    loading = [line for line in result.stdout.splitlines() if line.startswith(f"Loading {POSTS.alias}: ")]
    assert len(loading) == 1 and loading[0].startswith(f"Loading {POSTS.alias}: {FROM_REPLICA}"), result.stdout
    caught_up = logged_at(result.stderr, "replica_reads.caught_up", purpose="reindex")
    swapped = logged_at(result.stderr, "reindex.alias_swapped", alias=POSTS.alias)
    # Writes committed after the replica's position was taken are on no page the load read: only
    # the dual writes carry them into the new index.
    assert sum(caught_up <= t <= swapped for t in writer.write_times) >= 3, "the writer must write during the load"
    new_index = alias_target(POSTS)
    assert new_index != old_index and not get_es_client().indices.exists(index=old_index)

    pipeline_status.wait_until_idle()
    touched = sorted(set(writer.post_ids))
    expected = {doc.id: (doc.version, doc.source) for doc in PROJECTIONS["posts"].project(touched)}
    found = get_es_client().mget(index=new_index, ids=[str(i) for i in touched])["docs"]
    actual = {int(d["_id"]): (d.get("_version"), d.get("_source")) for d in found}
    wrong = {i: {"index": actual[i], "database": expected[i]} for i in touched if actual[i] != expected[i]}
    assert not wrong, (
        f"{len(wrong)} of {len(touched)} posts written during the reindex differ: {list(wrong.items())[:3]}"
    )

    verified = manage("verify", "posts", "--json", "--settle", "1")
    assert verified.returncode == 0, verified.stdout[-3000:] + verified.stderr[-2000:]
    report = json_output(verified)["indexes"][0]
    assert report["drift"] == NO_DRIFT and report["read_from"].startswith(FROM_REPLICA), report


# --- 2. replica down before the command -------------------------------------------------------------


@pytest.mark.faults
def test_replica_down_verify_reads_the_primary_says_so_and_finds_a_lost_update(replica, no_drift_sweep, tenant):
    stale = _lost_update(tenant)
    replica.stop()
    try:
        # Both forms side by side; once both have chosen the primary, the replica can come back.
        with (
            running("verify", "posts", "--json", "--settle", "1") as as_json,
            running("verify", "posts", "--settle", "1") as as_text,
        ):
            for command in (as_json, as_text):
                command.wait_for(
                    lambda command=command: _logged(command.stderr, "replica_reads.using_primary"),
                    timeout=60,
                    message="verify to choose where it reads",
                )
            replica.start()
            found, shown = as_json.finish(timeout=120), as_text.finish(timeout=120)
    finally:
        replica.start()

    assert found.returncode == 1, found.stdout[-2000:] + found.stderr[-3000:]
    report = json_output(found)["indexes"][0]
    assert report["drift"] == {**NO_DRIFT, "stale": [stale]}
    assert report["read_from"].startswith(REPLICA_DOWN), report["read_from"]
    assert report["rows"] == _post_rows()
    assert "Traceback" not in found.stderr and f"Drift found in {POSTS.alias}" in found.stderr.splitlines()[-1]

    assert shown.returncode == 1, shown.stdout[-2000:] + shown.stderr[-3000:]
    lines = shown.stdout.splitlines()
    assert REPLICA_DOWN in lines[0], lines[0]
    assert [line for line in lines if "reading from" in line] == [lines[0]], "the source is said once, on line one"
    assert re.fullmatch(rf"\s*stale\s+1\s+ids: {stale}", lines[1]) and len(lines) == 2, lines

    # Back on the replica, the same verdict; --repair heals it.
    repaired = manage("verify", "posts", "--repair", "--json", "--settle", "1")
    assert repaired.returncode == 0, repaired.stdout[-2000:] + repaired.stderr[-2000:]
    report = json_output(repaired)["indexes"][0]
    assert report["read_from"].startswith(FROM_REPLICA) and report["drift"]["stale"] == [stale]
    assert report["remaining"] == NO_DRIFT


@pytest.mark.faults
def test_replica_down_reindex_loads_from_the_primary_and_says_so(replica, seeded_posts):
    seed_organisation, seeded = seeded_posts
    old_index = alias_target(POSTS)
    replica.stop()
    try:
        with running("reindex", "posts", "--workers", "2", "--batch-size", "500") as command:
            command.wait_for(
                lambda: f"Loading {POSTS.alias}: " in command.stdout,
                timeout=60,
                message="the reindex to choose where it reads",
            )
            replica.start()  # the load reads the primary to its end: the replica can come back now
            result = command.finish(timeout=240)
    finally:
        replica.start()

    assert result.returncode == 0, result.stderr[-3000:]
    loading = [line for line in result.stdout.splitlines() if line.startswith(f"Loading {POSTS.alias}: ")]
    assert len(loading) == 1 and loading[0].startswith(f"Loading {POSTS.alias}: {REPLICA_DOWN}"), result.stdout
    assert "docs/s" in result.stdout.splitlines()[-1]
    _assert_rebuilt_and_clean(old_index, seed_organisation, seeded)


# --- 3. replica stopped in the middle of the run ---------------------------------------------------


@pytest.mark.faults
def test_replica_stopped_mid_verify_starts_the_comparison_over_on_the_primary(
    replica, no_drift_sweep, tenant, seeded_posts
):
    stale = _lost_update(tenant)  # the highest id: compared after the replica has gone
    rows, documents = _post_rows(), get_es_client().count(index=POSTS.alias)["count"]
    with running("verify", "posts", "--json", "--settle", "1", "--chunk-size", VERIFY_CHUNK) as command:
        try:
            command.wait_for(
                lambda: (
                    _logged(command.stderr, "replica_reads.caught_up")
                    and _rows_percent(command.stderr, POSTS.alias) >= 1
                ),
                timeout=90,
                message="the comparison on the replica to show progress",
            )
            progress_at_stop = _rows_percent(command.stderr, POSTS.alias)
            replica.stop()
            command.wait_for(
                lambda: _logged(command.stderr, "verify.replica_failed") or command.exited(),
                timeout=60,
                message="verify to notice the replica is gone",
            )
        finally:
            replica.start()  # verify goes on against the primary meanwhile
        result = command.finish(timeout=240)

    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-3000:]
    report = json_output(result)["indexes"][0]
    # The verdict of a full comparison, whichever server finished it: nothing of the half-read
    # replica is kept (every row and document counted once), the lost update is found.
    assert report["drift"] == {**NO_DRIFT, "stale": [stale]}, report["drift_counts"]
    assert (report["rows"], report["documents"]) == (rows, documents)
    if _logged(result.stderr, "verify.replica_failed"):
        assert report["read_from"].startswith(STARTED_OVER) and "started over" in report["read_from"], report
    else:
        # Only legitimate if the comparison was over before the replica went away.
        finished = logged_at(result.stderr, "verify.finished", alias=POSTS.alias)
        assert finished <= replica.stopped_at, (
            f"the replica stopped at {progress_at_stop}% of the comparison, yet verify neither noticed nor "
            f"finished first: {report['read_from']}"
        )
        assert report["read_from"].startswith(FROM_REPLICA), report
    assert progress_at_stop < 100, "the comparison was too quick to stop the replica inside it: lower VERIFY_CHUNK"


@pytest.mark.faults
def test_replica_stopped_mid_reindex_stops_with_one_sentence_and_resume_finishes(replica, seeded_posts):
    seed_organisation, seeded = seeded_posts
    old_index = alias_target(POSTS)

    def loading_from_the_replica() -> bool:
        checkpoint = rebuild_checkpoint.load(POSTS.alias)
        return FROM_REPLICA in command.stdout and checkpoint is not None and checkpoint.loaded >= 1000

    with running("reindex", "posts", "--workers", "1", "--batch-size", REINDEX_PAGE) as command:
        try:
            command.wait_for(loading_from_the_replica, timeout=90, message="the load from the replica to be under way")
            loaded_at_stop = rebuild_checkpoint.load(POSTS.alias).loaded
            replica.stop()
            result = command.finish(timeout=120)
        finally:
            replica.start()

    assert loaded_at_stop < _post_rows(), "the load was too quick to stop the replica inside it: lower REINDEX_PAGE"
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    if result.returncode == 0:
        # Legitimate only if the load (the one part that reads the replica) was over before the
        # replica went away, or if the load said it went on from the primary.
        loaded = logged_at(result.stderr, "reindex.loaded", alias=POSTS.alias)
        assert loaded <= replica.stopped_at or "reading from the primary" in result.stdout, result.stdout
        _assert_rebuilt_and_clean(old_index, seed_organisation, seeded)
        return

    checkpoint = rebuild_checkpoint.load(POSTS.alias)
    last = _assert_one_sentence_failure(result, f"The reindex of {POSTS.alias} stopped at phase {LOADING} after id ")
    assert last.endswith("`manage.py reindex posts --resume`."), last
    assert checkpoint is not None and checkpoint.phase == LOADING and 0 < checkpoint.last_id
    assert f"after id {checkpoint.last_id} " in last, (last, checkpoint)
    assert alias_target(POSTS) == old_index, "readers stay on the old, complete index"
    assert checkpoint.index in write_targets(POSTS), "dual writes go on until the reindex is resumed"

    resumed = manage("reindex", "posts", "--resume", "--workers", "4", timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"after id {checkpoint.last_id}." in resumed.stdout and "docs/s" in resumed.stdout, resumed.stdout
    assert f"Loading {POSTS.alias}: {FROM_REPLICA}" in resumed.stdout, resumed.stdout
    assert alias_target(POSTS) == checkpoint.index
    _assert_rebuilt_and_clean(old_index, seed_organisation, seeded)

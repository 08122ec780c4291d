"""Clear errors: one sentence on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor

import pytest

from read_indexer.lifecycle.rebuild_lock import reindex_lock
from shared.indexes import POSTS
from tests.operators.support import manage

ES_DOWN = {"ES_URL": "http://127.0.0.1:9"}
PG_DOWN = {"PG_PORT": "9", "PGBOUNCER_PORT": "9", "PG_REPLICA_PORT": "9"}

CASES = {
    "unknown index (reindex)": (
        ("reindex", "nosuch"),
        {},
        "Unknown index 'nosuch'; choose one of: assessments, attempts, posts, comments, all.",
    ),
    "unknown index (verify)": (("verify", "nosuch", "--repair"), {}, "Unknown index 'nosuch'"),
    "elasticsearch down (reindex)": (
        ("reindex", "posts"),
        ES_DOWN,
        "Elasticsearch is unreachable at http://127.0.0.1:9",
    ),
    "elasticsearch down (verify)": (("verify", "all"), ES_DOWN, "Elasticsearch is unreachable"),
    "elasticsearch down (status)": (("pipeline_status",), ES_DOWN, "Elasticsearch is unreachable"),
    "postgresql down (reindex)": (("reindex", "posts"), PG_DOWN, "PostgreSQL is unreachable"),
    "postgresql down (verify)": (("verify", "posts"), PG_DOWN, "PostgreSQL is unreachable"),
    "postgresql down (dead letters)": (("dead_letters", "list"), PG_DOWN, "PostgreSQL is unreachable"),
    "nothing to resume": (("reindex", "posts", "--resume"), {}, f"There is no interrupted reindex of {POSTS.alias}"),
    "unknown dead letter": (("dead_letters", "replay", "999999999"), {}, "No dead letter for event id(s) 999999999"),
}


def _assert_one_sentence(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("CommandError: ") and expected in last, result.stderr[-2000:]
    assert last.endswith(".")


@pytest.fixture(scope="module")
def results():
    # Independent processes: run them side by side (each pays Django's start-up once).
    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        futures = {name: pool.submit(manage, *args, **env) for name, (args, env, _) in CASES.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("case", list(CASES))
def test_failures_are_one_sentence_and_a_non_zero_exit(case, results):
    _assert_one_sentence(results[case], CASES[case][2])


def test_a_second_reindex_of_the_same_index_is_refused_while_one_runs():
    with reindex_lock(POSTS.alias):  # what a running reindex holds
        refused = manage("reindex", "posts")
        planned = manage("reindex", "posts", "--dry-run")
    _assert_one_sentence(refused, f"A reindex of {POSTS.alias} is already running")
    assert planned.returncode == 0 and "A reindex of this alias is running now" in planned.stdout

"""Commit-to-searchable lag of writes made outside Django (capture at the database).

A separate process. One psycopg2 connection straight to the primary (not pgBouncer, not the write
service) commits one change per transaction at a fixed rate (open loop):
- most are `UPDATE discussions_post SET title = <unique token>, updated_at = now()` of a seeded
  post (a different post each time); searchable = the search API lists the post with that title;
- every `comment_every`-th is an `INSERT INTO discussions_comment` on another seeded post;
  searchable = the search API shows the post's comments_count one higher than before the insert
  (two hops: the comment's change row moves the post's counter in a counters batch, whose own
  UPDATE of the post row is captured and re-projects the post).
A write's commit time is time.time() right after `commit()` returned (never early). A poller asks
the search API (`GET /search/v1/posts?id__in=...&page_size=100`, as the organisation's staff,
every `poll_interval` seconds) for every pending post; a write is searchable at the response time
of the first answer that shows it (late by at most one poll interval plus one request, never early).

Input: JSON on stdin; output: JSON on the last line of stdout.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import psycopg2
import requests

from bench.lag_probe import summary
from shared.config import load_config


class Poller:
    def __init__(self, spec: dict):
        self.url = spec["search_url"].rstrip("/") + "/search/v1/posts"
        self.headers = {"Authorization": f"Token {spec['token']}"}
        self.interval = spec["poll_interval"]
        self.session = requests.Session()
        self.lock = threading.Lock()
        # post id -> (kind, committed_at, expected: title for "update", minimum comments_count for "comment")
        self.pending: dict[int, tuple[str, float, object]] = {}
        self.lags: list[tuple[str, float]] = []
        self.errors: list[str] = []
        self.poll_ms: list[float] = []
        self.stop = threading.Event()

    def committed(self, post_id: int, kind: str, at: float, expected) -> None:
        with self.lock:
            self.pending[post_id] = (kind, at, expected)

    def _shows(self, kind: str, expected, row: dict) -> bool:
        return row.get("title") == expected if kind == "update" else row.get("comments_count", -1) >= expected

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.time()
            with self.lock:
                ids = list(self.pending)
            for k in range(0, len(ids), 100):
                chunk = ids[k : k + 100]
                sent = time.time()
                try:
                    response = self.session.get(
                        self.url,
                        params={"id__in": ",".join(map(str, chunk)), "page_size": 100},
                        headers=self.headers,
                        timeout=10,
                    )
                    seen_at = time.time()
                    if response.status_code != 200:
                        self.errors.append(f"{response.status_code} {response.text[:200]}")
                        continue
                    rows = response.json()["results"]
                except (requests.RequestException, ValueError, KeyError) as exc:
                    self.errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    continue
                self.poll_ms.append((seen_at - sent) * 1000)
                with self.lock:
                    for row in rows:
                        entry = self.pending.get(row["id"])
                        if entry and self._shows(entry[0], entry[2], row):
                            del self.pending[row["id"]]
                            self.lags.append((entry[0], seen_at - entry[1]))
            self.stop.wait(max(0.0, self.interval - (time.time() - started)))

    def wait_drained(self, timeout: float) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if not self.pending:
                    return 0
            time.sleep(0.05)
        with self.lock:
            return len(self.pending)


def _connect():
    config = load_config()
    return psycopg2.connect(
        host=config.pg_host,
        port=config.pg_port,
        user=config.pg_user,
        password=config.pg_password,
        dbname=config.pg_db,
        application_name="bench_raw_sql",
    )


def main() -> None:
    spec = json.load(sys.stdin)
    update_posts = list(spec["update_posts"])  # [post id]
    comment_posts = list(spec["comment_posts"])  # [[post id, author id]]
    rate, total, every = spec["rate"], spec["writes"], spec["comment_every"]
    poller = Poller(spec)
    thread = threading.Thread(target=poller.run, daemon=True)
    thread.start()
    conn = _connect()
    nonce = spec["nonce"]
    commit_ms, lateness, errors = [], [], []
    counts = {"update": 0, "comment": 0}
    started = time.time() + 0.2
    for i in range(total):
        due = started + i / rate
        delay = due - time.time()
        if delay > 0:
            time.sleep(delay)
        else:
            lateness.append(-delay)
        kind = "comment" if every and (i + 1) % every == 0 and comment_posts else "update"
        try:
            with conn.cursor() as cursor:
                if kind == "update":
                    post_id = update_posts.pop()
                    expected = f"Raw SQL edit {nonce}x{i}"
                    cursor.execute(
                        "UPDATE discussions_post SET title = %s, updated_at = now() WHERE id = %s", [expected, post_id]
                    )
                    if cursor.rowcount != 1:
                        raise RuntimeError(f"post {post_id} not updated")
                else:
                    post_id, author_id = comment_posts.pop()
                    cursor.execute("SELECT comments_count FROM discussions_post WHERE id = %s", [post_id])
                    expected = cursor.fetchone()[0] + 1
                    cursor.execute(
                        "INSERT INTO discussions_comment (version, post_id, author_id, body, created_at) "
                        "VALUES (1, %s, %s, %s, now())",
                        [post_id, author_id, f"Raw SQL comment {nonce}x{i}"],
                    )
            before_commit = time.time()
            conn.commit()
            committed_at = time.time()
        except Exception as exc:  # noqa: BLE001 - reported, the run goes on
            conn.rollback()
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
            continue
        commit_ms.append((committed_at - before_commit) * 1000)
        counts[kind] += 1
        poller.committed(post_id, kind, committed_at, expected)
    writes_ended_at = time.time()
    conn.close()
    unseen = poller.wait_drained(spec["settle_timeout"])
    poller.stop.set()
    thread.join(timeout=5)
    elapsed = writes_ended_at - started
    result = {
        "started_at": started,
        "writes_ended_at": writes_ended_at,
        "ended_at": time.time(),
        "planned_writes": total,
        "committed": counts,
        "errors": len(errors),
        "error_samples": errors[:3],
        "planned_rate": rate,
        "achieved_rate": round(sum(counts.values()) / elapsed, 1) if elapsed > 0 else None,
        "late_sends": len(lateness),
        "max_lateness_s": round(max(lateness), 3) if lateness else 0.0,
        "commit_ms": summary(commit_ms),
        "lag_seconds": summary([lag for _k, lag in poller.lags]),
        "lag_seconds_by_kind": {
            kind: summary([lag for k, lag in poller.lags if k == kind]) for kind in ("update", "comment")
        },
        "unseen_after_settle": unseen,
        "poll_interval_s": spec["poll_interval"],
        "poll_round_trip_ms": summary(poller.poll_ms),
        "poll_errors": len(poller.errors),
        "poll_error_samples": poller.errors[:3],
    }
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

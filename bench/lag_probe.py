"""Commit-to-searchable lag, measured from outside (a separate process, plain HTTP).

Writers POST to the write API; a write's commit time is taken as the moment its 2xx response
arrived (the service commits before it responds, so this is at most the response transfer after
the commit: the lag is never overstated by queueing in front of the service). A poller searches
Elasticsearch for every written id not yet seen, every `poll_interval` seconds, through the same
alias the search API reads (a `_search`, so refresh visibility counts, not a realtime GET); a
write is searchable at the response time of the first search that finds it (a bound that may be
late by up to one poll interval plus one search, never early).

Writes (the same mix in every phase): new posts (visible as a post document), and, every
1/submit_share-th write (a third), a submission of a started attempt by its candidate (visible as
the attempt document with status=submitted; it also moves its assessment's counters). The caller
picks the submissions (seed.issue_tokens): most of them on the largest leaderboard; each phase
reports how many landed there.
Phases (in order, from the input): "open" ones write at a fixed rate for some seconds whatever
the service does (open loop); "closed" ones (the burst) send N writes from C clients as fast as
the service takes them. Each phase settles (every write seen) before the next starts.

Input: JSON on stdin; output: JSON on the last line of stdout.
"""

from __future__ import annotations

import json
import queue
import sys
import threading
import time

import requests

_local = threading.local()


def _session() -> requests.Session:
    if not hasattr(_local, "session"):
        _local.session = requests.Session()
    return _local.session


def _pct(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 3)


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50": _pct(values, 0.5),
        "p95": _pct(values, 0.95),
        "p99": _pct(values, 0.99),
        "max": round(max(values), 3) if values else None,
    }


class Tracker:
    def __init__(self, es_url: str, aliases: dict[str, str], poll_interval: float):
        self.es_url = es_url
        self.aliases = aliases
        self.poll_interval = poll_interval
        self.lock = threading.Lock()
        self.pending: dict[str, dict[int, float]] = {"posts": {}, "attempts": {}}
        self.lags: list[tuple[str, str, float]] = []  # (phase, kind, seconds)
        self.phase_of: dict[tuple[str, int], str] = {}
        self.stop = threading.Event()
        self.polls = 0
        self.poll_ms: list[float] = []

    def acknowledged(self, phase: str, kind: str, doc_id: int, at: float) -> None:
        with self.lock:
            self.pending[kind][doc_id] = at
            self.phase_of[(kind, doc_id)] = phase

    def _search(self, kind: str, ids: list[int]) -> set[int]:
        filters = [{"ids": {"values": [str(i) for i in ids]}}]
        if kind == "attempts":
            filters.append({"term": {"status": "submitted"}})
        body = {"size": len(ids), "_source": False, "query": {"bool": {"filter": filters}}}
        response = _session().post(
            f"{self.es_url}/{self.aliases[kind]}/_search?filter_path=hits.hits._id", json=body, timeout=10
        )
        response.raise_for_status()
        return {int(hit["_id"]) for hit in response.json().get("hits", {}).get("hits", [])}

    def run(self) -> None:
        while not self.stop.is_set():
            started = time.time()
            for kind in ("posts", "attempts"):
                with self.lock:
                    ids = list(self.pending[kind])[:5000]
                if not ids:
                    continue
                try:
                    found = self._search(kind, ids)
                except requests.RequestException:
                    continue
                seen_at = time.time()
                self.poll_ms.append((seen_at - started) * 1000)
                with self.lock:
                    for doc_id in found:
                        acked = self.pending[kind].pop(doc_id, None)
                        if acked is not None:
                            self.lags.append((self.phase_of[(kind, doc_id)], kind, seen_at - acked))
            self.polls += 1
            self.stop.wait(max(0.0, self.poll_interval - (time.time() - started)))

    def wait_drained(self, timeout: float) -> int:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                left = sum(len(p) for p in self.pending.values())
            if not left:
                return 0
            time.sleep(0.05)
        with self.lock:
            return sum(len(p) for p in self.pending.values())


class Writer:
    def __init__(self, spec: dict, tracker: Tracker):
        self.base = spec["write_url"]
        self.post_tokens = spec["post_tokens"]
        self.submit_jobs = list(spec["submit_jobs"])
        self.submit_share = spec["submit_share"]
        self.tracker = tracker
        self.lock = threading.Lock()
        self.n = 0
        self.errors: list[str] = []
        self.latencies: list[float] = []
        self.top_assessment = spec["top_assessment"]
        self.counts = {"posts": 0, "attempts": 0, "attempts_on_top_assessment": 0}

    def write(self, phase: str) -> None:
        with self.lock:
            i = self.n
            self.n += 1
            # Exactly submit_share of the writes, evenly spread: write i submits when the running
            # quota int((i + 1) * share) steps up.
            submits = int((i + 1) * self.submit_share) > int(i * self.submit_share)
            job = self.submit_jobs.pop() if submits and self.submit_jobs else None
        session = _session()
        started = time.time()
        try:
            if job is not None:
                attempt_id, token, assessment_id = job
                response = session.post(
                    f"{self.base}/api/v1/attempts/{attempt_id}/submit",
                    json={"score": f"{50 + (i % 50)}.5"},
                    headers={"Authorization": f"Token {token}"},
                    timeout=30,
                )
                kind, doc_id = "attempts", attempt_id
            else:
                token = self.post_tokens[i % len(self.post_tokens)]
                response = session.post(
                    f"{self.base}/api/v1/posts",
                    json={"title": f"lag probe {phase} {i}", "body": "Is this searchable yet?", "tags": ["bench"]},
                    headers={"Authorization": f"Token {token}"},
                    timeout=30,
                )
                kind, doc_id = "posts", None
            acked = time.time()
            if response.status_code >= 300:
                with self.lock:
                    self.errors.append(f"{response.status_code} {response.text[:200]}")
                return
            if doc_id is None:
                doc_id = response.json()["id"]
            with self.lock:
                self.latencies.append((acked - started) * 1000)
                self.counts[kind] += 1
                if job is not None and assessment_id == self.top_assessment:
                    self.counts["attempts_on_top_assessment"] += 1
            self.tracker.acknowledged(phase, kind, int(doc_id), acked)
        except requests.RequestException as exc:
            with self.lock:
                self.errors.append(f"{type(exc).__name__}: {exc}"[:200])


def steady(writer: Writer, rate: float, seconds: float, phase: str, threads: int = 64) -> dict:
    """Open loop: write k is due at start + k / rate, whatever happened to earlier writes (enough
    threads that slow responses do not throttle the rate; late sends are counted)."""
    total = int(rate * seconds)
    due: queue.Queue = queue.Queue()
    start = time.time() + 0.2
    for k in range(total):
        due.put(start + k / rate)
    lateness: list[float] = []

    def work():
        while True:
            try:
                at = due.get_nowait()
            except queue.Empty:
                return
            delay = at - time.time()
            if delay > 0:
                time.sleep(delay)
            else:
                lateness.append(-delay)
            writer.write(phase)

    pool = [threading.Thread(target=work, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.time() - start
    return {
        "planned_writes": total,
        "seconds": round(elapsed, 2),
        "achieved_rate": round(total / elapsed, 1),
        "late_sends": len(lateness),
        "max_lateness_s": round(max(lateness), 3) if lateness else 0.0,
    }


def burst(writer: Writer, writes: int, connections: int, phase: str) -> dict:
    left = {"n": writes}
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                if left["n"] <= 0:
                    return
                left["n"] -= 1
            writer.write(phase)

    start = time.time()
    pool = [threading.Thread(target=work, daemon=True) for _ in range(connections)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.time() - start
    return {"planned_writes": writes, "seconds": round(elapsed, 2), "achieved_rate": round(writes / elapsed, 1)}


def main() -> None:
    spec = json.load(sys.stdin)
    tracker = Tracker(spec["es_url"], spec["aliases"], spec["poll_interval"])
    poller = threading.Thread(target=tracker.run, daemon=True)
    poller.start()
    writer = Writer(spec, tracker)
    result: dict = {"poll_interval_s": spec["poll_interval"], "submit_share": spec["submit_share"], "phases": []}
    for phase_spec in spec["phases"]:
        phase = phase_spec["name"]
        before_errors, before_lat = len(writer.errors), len(writer.latencies)
        before_counts = dict(writer.counts)
        phase_started = time.time()
        if phase_spec["kind"] == "open":
            load = steady(writer, phase_spec["rate"], phase_spec["seconds"], phase)
        else:
            load = burst(writer, phase_spec["writes"], phase_spec["connections"], phase)
        drained_at = time.time()
        unseen = tracker.wait_drained(spec["settle_timeout"])
        lags = [lag for p, _k, lag in tracker.lags if p == phase]
        result["phases"].append(phase)
        result[phase] = {
            **phase_spec,
            **load,
            "acknowledged": {k: writer.counts[k] - before_counts[k] for k in ("posts", "attempts")},
            "submissions_on_top_assessment": writer.counts["attempts_on_top_assessment"]
            - before_counts["attempts_on_top_assessment"],
            "jobs_left": len(writer.submit_jobs),
            "errors": len(writer.errors) - before_errors,
            "error_samples": writer.errors[before_errors:][:3],
            "write_latency_ms": summary(writer.latencies[before_lat:]),
            "lag_seconds": summary(lags),
            "lag_seconds_by_kind": {
                kind: summary([lag for p, k, lag in tracker.lags if p == phase and k == kind])
                for kind in ("posts", "attempts")
            },
            "unseen_after_settle": unseen,
            "settle_seconds": round(time.time() - drained_at, 2),
            "started_at": phase_started,
            "writes_ended_at": drained_at,
            "ended_at": time.time(),
        }
    tracker.stop.set()
    poller.join(timeout=5)
    result["poll_round_trip_ms"] = summary(tracker.poll_ms)
    sys.stdout.write("\n" + json.dumps(result) + "\n")


if __name__ == "__main__":
    main()

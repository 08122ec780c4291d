"""Stage `consistency`: reading your own writes (docs/CONSISTENCY.md).

- Added latency, p50 and p99, of a write with `Prefer: wait-for=indexed` against the same write
  without it, and of a read carrying the write's token against the same read without it, at a
  steady background write rate (open loop). The writes are comments: the token covers the post's
  counter too, which the counters batch applies after a 0.5 s coalescing window.
- Throughput of writes and reads that carry no token, with the feature present and absent: two
  instances of the same code started the same way, CONSISTENCY_TOKENS true and false, in
  interleaved rounds (ABBA) so that neither side always runs on a warmer machine.
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from bench import namespace
from bench.lag_probe import summary
from bench.loadgen import Request
from bench.stages.context import StageContext, auth_header, measure

ROUNDS = 2  # of each variant, interleaved A B B A
SAMPLES = {"small": 12, "full": 60}
TOKEN, STATUS, PREFER_WAIT = "Consistency-Token", "Consistency-Status", {"Prefer": "wait-for=indexed"}


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class SteadyWriter:
    """Posts at `rate` per second, open loop, until stopped: the background the samples run in."""

    def __init__(self, tokens: list[str], rate: float):
        self.tokens, self.rate = tokens, rate
        self.sent = self.failed = 0
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=32)
        self._session = requests.Session()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _write(self, index: int) -> None:
        response = self._session.post(
            namespace.url(namespace.WRITE_PORT) + "/api/v1/posts",
            json={"title": f"steady {index}", "body": "background write"},
            headers=auth_header(self.tokens[index % len(self.tokens)]),
            timeout=30,
        )
        if response.status_code != 201:
            self.failed += 1

    def _run(self) -> None:
        started = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._write, self.sent)
            self.sent += 1
            self._stop.wait(max(0.0, started + self.sent / self.rate - time.monotonic()))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


def _sample(session: requests.Session, token: str, post_id: int, reader: str) -> dict:
    """One of each: a plain write, a waiting write, a read with the last write's token, the same read bare."""
    write_url = namespace.url(namespace.WRITE_PORT) + f"/api/v1/posts/{post_id}/comments"
    read_url = namespace.url(namespace.SEARCH_PORT) + f"/search/v1/posts/{post_id}/comments"
    started = time.perf_counter()
    plain = session.post(write_url, json={"body": "plain"}, headers=auth_header(token), timeout=30)
    plain_ms = _ms(started)
    started = time.perf_counter()
    waiting = session.post(write_url, json={"body": "waits"}, headers={**auth_header(token), **PREFER_WAIT}, timeout=30)
    waiting_ms = _ms(started)
    written = session.post(write_url, json={"body": "then read"}, headers=auth_header(token), timeout=30)
    started = time.perf_counter()
    with_token = session.get(read_url, headers={**auth_header(reader), TOKEN: written.headers[TOKEN]}, timeout=30)
    with_token_ms = _ms(started)
    started = time.perf_counter()
    bare = session.get(read_url, headers=auth_header(reader), timeout=30)
    bare_ms = _ms(started)
    assert {plain.status_code, waiting.status_code, written.status_code} == {201}, "a sample's write failed"
    assert {with_token.status_code, bare.status_code} == {200}, "a sample's read failed"
    return {
        "plain_write_ms": plain_ms,
        "waiting_write_ms": waiting_ms,
        "waiting_write_status": waiting.headers.get(STATUS),
        "read_with_token_ms": with_token_ms,
        "read_with_token_status": with_token.headers.get(STATUS),
        "bare_read_ms": bare_ms,
    }


def _added(samples: list[dict], slow: str, fast: str) -> dict:
    slow_summary, fast_summary = summary([s[slow] / 1000 for s in samples]), summary([s[fast] / 1000 for s in samples])
    return {
        slow: slow_summary,
        fast: fast_summary,
        "added_p50_ms": round((slow_summary["p50"] - fast_summary["p50"]) * 1000, 1),
        "added_p99_ms": round((slow_summary["p99"] - fast_summary["p99"]) * 1000, 1),
    }


def _latency(ctx: StageContext) -> dict:
    info = ctx.info
    token, reader = info.writer_tokens[0], info.tokens["big_org_staff"]
    session = requests.Session()
    post = session.post(
        namespace.url(namespace.WRITE_PORT) + "/api/v1/posts",
        json={"title": "read your writes", "body": "comments land here"},
        headers={**auth_header(token), **PREFER_WAIT},
        timeout=30,
    )
    post_id = post.json()["id"]
    rate = ctx.scale.lag_rate / 2
    with SteadyWriter(info.writer_tokens[1:], rate) as background:
        samples = [_sample(session, token, post_id, reader) for _ in range(SAMPLES[ctx.scale.name])]
    figures = {
        "background_writes_per_second": rate,
        "background_writes_sent": background.sent,
        "background_writes_failed": background.failed,
        "samples": len(samples),
        "waiting_write": _added(samples, "waiting_write_ms", "plain_write_ms"),
        "read_with_token": _added(samples, "read_with_token_ms", "bare_read_ms"),
        "waiting_writes_reflected": sum(s["waiting_write_status"] == "reflected" for s in samples),
        "reads_with_token_reflected": sum(s["read_with_token_status"] == "reflected" for s in samples),
    }
    print(f"  latency: {json.dumps({k: v for k, v in figures.items() if 'write' in k or 'read' in k})}", flush=True)
    return figures


def _rounds(
    ctx: StageContext, label: str, variants: dict[str, int], requests_: list[Request], connections: int
) -> dict:
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    order = list(variants)
    for round_index in range(ROUNDS):
        for name in order if round_index % 2 == 0 else reversed(order):
            runs[name].append(measure(f"{label}, {name}", variants[name], requests_, connections, ctx))
    medians = {name: statistics.median(run["rps"] for run in results) for name, results in runs.items()}
    return {
        "runs": runs,
        "median_rps": medians,
        "present_vs_absent": round(medians["present"] / medians["absent"], 3) if medians["absent"] else None,
    }


def _throughput(ctx: StageContext) -> dict:
    info = ctx.info
    writes = [
        Request(
            "POST",
            "/api/v1/posts",
            {**auth_header(t), "Content-Type": "application/json"},
            json.dumps({"title": "throughput", "body": "no token asked"}),
        )
        for t in info.writer_tokens
    ]
    reads = [Request("GET", "/search/v1/posts?page_size=20", auth_header(info.tokens["big_org_staff"]))]
    return {
        "writes": _rounds(
            ctx,
            "writes without a token",
            {"present": namespace.WRITE_TOKENS_PORT, "absent": namespace.WRITE_NO_TOKENS_PORT},
            writes,
            ctx.scale.write_connections,
        ),
        "reads": _rounds(
            ctx,
            "reads without a token",
            {"present": namespace.SEARCH_TOKENS_PORT, "absent": namespace.SEARCH_NO_TOKENS_PORT},
            reads,
            ctx.scale.read_connections,
        ),
    }


def run(ctx: StageContext) -> None:
    ctx.procs.start_search_variant("search-no-tokens", namespace.SEARCH_NO_TOKENS_PORT, {"CONSISTENCY_TOKENS": "false"})
    ctx.procs.start_search_variant("search-tokens", namespace.SEARCH_TOKENS_PORT, {"CONSISTENCY_TOKENS": "true"})
    ctx.figures["consistency"] = {"throughput": _throughput(ctx), "latency": _latency(ctx)}

"""The load generator: wrk (C, event loop; a separate process on the same machine), scripted in Lua.

Closed loop: `connections` clients each send a request, wait for the response, send the next.
Latency percentiles come from wrk's own histogram (microsecond resolution, not corrected for
coordinated omission: at a fixed concurrency that is the service time the clients saw).
Each measured run is preceded by a warm-up run of the same requests, whose figures are dropped.

A run either lasts `duration` seconds, or (quota) stops once `quota` requests are answered (each
wrk thread its share); a few more may have been sent and processed: callers that need exact
numbers count what the server committed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import asdict, dataclass, field

from bench import cpu


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict = field(default_factory=dict)
    body: str | None = None


@dataclass
class LoadResult:
    label: str
    target: str
    connections: int
    threads: int
    duration_s: float  # measured wall time of the run
    warmup_s: float
    requests: int
    rps: float
    answered: int | None  # quota runs: answers received
    p50_ms: float
    p90_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float
    errors: dict
    loadavg_before: float  # 1-minute load average of the machine when the run started
    cpu: dict = field(default_factory=dict)  # bench.cpu.delta over the measured run
    note: str = ""
    mean_ms: float | None = None  # wrk's mean latency (closed loop: about connections / rps)

    def as_dict(self) -> dict:
        return asdict(self)


def ensure_wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise RuntimeError("wrk is not installed (bench/run installs it with apt-get when run as root)")
    return path


def _lua_string(value: str) -> str:
    return "[==[" + value + "]==]"


def _script(requests: list[Request], out_path: str, quota: int | None) -> str:
    entries = []
    for r in requests:
        headers = ", ".join(f"[ {_lua_string(k)} ] = {_lua_string(v)}" for k, v in r.headers.items())
        body = _lua_string(r.body) if r.body is not None else "nil"
        entries.append(f"{{{_lua_string(r.method)}, {_lua_string(r.path)}, {{{headers}}}, {body}}}")
    lua = [
        "local specs = {" + ",\n".join(entries) + "}",
        "local formatted, n, i = {}, #specs, 0",
        "local threads, made = {}, 0",
        f"local quota_total = {quota or 0}",
        "function setup(thread)",
        "  made = made + 1",
        "  thread:set('thread_index', made)",
        "  table.insert(threads, thread)",
        "end",
        "function init(args)",
        "  for k, s in ipairs(specs) do formatted[k] = wrk.format(s[1], s[2], s[3], s[4]) end",
        "  sent, answered = 0, 0",
        "  quota = 0",
        "  if quota_total > 0 then",
        "    local share = math.floor(quota_total / thread_count)",
        "    if thread_index <= quota_total % thread_count then share = share + 1 end",
        "    quota = share",
        "  end",
        "end",
        "function request()",
        "  sent = sent + 1",
        "  i = i % n + 1",
        "  return formatted[i]",
        "end",
    ]
    if quota:
        # Each thread stops once `quota` of its requests are answered. Requests in flight on its
        # other connections may still be processed by the server after that, and a request lost
        # with its connection is never answered: the caller counts what was really committed.
        # wrk's main thread sleeps for the whole -d duration whatever its threads do, so each
        # thread leaves a marker file and the caller ends the run with SIGINT once all are there.
        lua += [
            "function response(status, headers, body)",
            "  answered = answered + 1",
            "  if answered >= quota and not marked then",
            "    marked = true",
            f"    local m = io.open({_lua_string(out_path)} .. '.quota' .. thread_index, 'w')",
            "    m:close()",
            "    wrk.thread:stop()",
            "  end",
            "end",
        ]
    lua += [
        "function done(summary, latency, requests)",
        f"  local f = io.open({_lua_string(out_path)}, 'w')",
        "  local e = summary.errors",
        "  local answered_total = 0",
        "  for _, t in ipairs(threads) do answered_total = answered_total + (t:get('answered') or 0) end",
        '  f:write(string.format(\'{"answered": %d, "requests": %d, "duration_us": %d, "errors": {"connect": %d, '
        '"read": %d, '
        '"write": %d, "status": %d, "timeout": %d}, "latency_us": {"p50": %d, "p90": %d, "p95": %d, '
        '"p99": %d, "max": %d, "mean": %.1f}}\', answered_total, summary.requests, summary.duration, e.connect, '
        "e.read, e.write, e.status, "
        "e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99), "
        "latency.max, latency.mean))",
        "  f:close()",
        "end",
    ]
    return "\n".join(lua)


def run_wrk(
    label: str,
    base_url: str,
    requests: list[Request],
    *,
    connections: int,
    duration: float,
    warmup: float = 0,
    quota: int | None = None,
    timeout_s: int = 10,
    note: str = "",
    cpu_groups: dict[str, int] | None = None,
) -> LoadResult:
    wrk = ensure_wrk()
    threads = max(1, min(2, connections))
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as tmp:
        out = os.path.join(tmp, "result.json")
        script = os.path.join(tmp, "script.lua")

        def one_run(seconds: float, run_quota: int | None) -> dict:
            with open(script, "w") as f:
                # thread_count is known here, not in the Lua state: bake it in.
                f.write(f"thread_count = {threads}\n" + _script(requests, out, run_quota))
            if os.path.exists(out):
                os.remove(out)
            cmd = [
                wrk,
                "-t",
                str(threads),
                "-c",
                str(connections),
                "-d",
                f"{max(1, int(round(seconds)))}s",
                "--timeout",
                f"{timeout_s}s",
                "-s",
                script,
                base_url,
            ]
            process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            if run_quota:
                markers = [f"{out}.quota{k}" for k in range(1, threads + 1)]
                while process.poll() is None:
                    if all(os.path.exists(m) for m in markers):
                        process.send_signal(signal.SIGINT)
                        break
                    time.sleep(0.02)
            stdout, stderr = process.communicate()
            if process.returncode != 0 or not os.path.exists(out):
                raise RuntimeError(f"wrk failed ({label}): {stderr.strip() or stdout.strip()}")
            with open(out) as f:
                return json.load(f)

        if warmup > 0:
            one_run(warmup, None)
        load_before = os.getloadavg()[0]
        cpu_before = cpu.snapshot(cpu_groups or {})
        # A quota run is bounded by a generous duration cap; it normally stops at its quota.
        raw = one_run(duration if quota is None else max(duration, 600), quota)
        cpu_used = cpu.delta(cpu_before, cpu.snapshot(cpu_groups or {}), raw["answered"] if quota else raw["requests"])
    seconds = raw["duration_us"] / 1e6
    lat = {k: v / 1000 for k, v in raw["latency_us"].items()}
    return LoadResult(
        label=label,
        target=base_url,
        connections=connections,
        threads=threads,
        duration_s=round(seconds, 2),
        warmup_s=warmup,
        requests=raw["requests"],
        answered=raw["answered"] if quota else None,
        rps=round(raw["requests"] / seconds, 1) if seconds else 0.0,
        p50_ms=round(lat["p50"], 2),
        p90_ms=round(lat["p90"], 2),
        p95_ms=round(lat["p95"], 2),
        p99_ms=round(lat["p99"], 2),
        max_ms=round(lat["max"], 2),
        errors=raw["errors"],
        loadavg_before=round(load_before, 2),
        cpu=cpu_used,
        note=note,
        mean_ms=round(lat["mean"], 2) if "mean" in lat else None,
    )

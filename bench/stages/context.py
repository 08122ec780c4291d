"""What every stage shares: the run's context (scale, seed, processes, figures), how a stage
measures one load under wrk, authenticates, and runs a helper process in the bench namespace."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field

from bench import cpu, namespace, seed
from bench.loadgen import LoadResult, Request, run_wrk
from bench.processes import ProcessSet
from bench.scales import Scale

# A stage's waits for an idle pipeline: a full-scale backlog (writes made with the workers
# paused) takes minutes to drain on the shared cores.
BENCH_IDLE_TIMEOUT = 900
# Between two measured runs: the machine counts as done serving below this share of all cores
# (a refresh, a log flush) for this many consecutive half-second windows.
SERVED_CPU_SHARE = 0.2
SERVED_WINDOWS = 2
SERVED_TIMEOUT_SECONDS = 30


@dataclass
class StageContext:
    scale: Scale
    info: seed.SeedInfo
    procs: ProcessSet
    figures: dict = field(default_factory=dict)  # each stage's raw figures, by stage key
    not_run: dict = field(default_factory=dict)
    read_scenarios: list[dict] | None = None  # built once, shared by the read stages


def auth_header(token: str) -> dict:
    return {"Authorization": f"Token {token}"}


def wait_until_served(timeout: float = SERVED_TIMEOUT_SECONDS) -> float:
    """Until the machine's CPU busy share stays under SERVED_CPU_SHARE for SERVED_WINDOWS windows of
    half a second: wrk stops without waiting for slow answers, and a server still serving an
    earlier run's requests (an ORM baseline's 1.5 s queries) must not share the cores with the next
    run. The seconds waited (at most `timeout`, then the run starts anyway)."""
    started, quiet, before = time.monotonic(), 0, cpu.machine_busy()
    while quiet < SERVED_WINDOWS and time.monotonic() - started < timeout:
        time.sleep(0.5)
        after = cpu.machine_busy()
        quiet, before = (quiet + 1 if cpu.busy_share(before, after) < SERVED_CPU_SHARE else 0), after
    return round(time.monotonic() - started, 1)


def measure(label: str, port_or_url, requests_: list[Request], connections_: int, ctx: StageContext, **kwargs) -> dict:
    """One wrk run (warm-up, then the scale's duration) with the CPU of every component, printed;
    it starts once the requests of the run before are served."""
    base = port_or_url if isinstance(port_or_url, str) else namespace.url(port_or_url)
    served_wait = wait_until_served()
    started = time.time()
    result: LoadResult = run_wrk(
        label,
        base,
        requests_,
        connections=connections_,
        duration=ctx.scale.duration,
        warmup=ctx.scale.warmup,
        cpu_groups=ctx.procs.groups(),
        **kwargs,
    )
    print(
        f"  {label:<44} {result.rps:>8.1f} req/s  p50 {result.p50_ms:>7.1f}  p95 {result.p95_ms:>7.1f}  p99 "
        f"{result.p99_ms:>7.1f} ms"
        f"  errors {sum(result.errors.values())}  load {result.loadavg_before}",
        flush=True,
    )
    return {**result.as_dict(), "started_at": started, "ended_at": time.time(), "waited_until_served_s": served_wait}


def namespace_env() -> dict:
    return {**os.environ, **namespace.ENV}


def run_json_process(module: str, spec: dict, timeout: float) -> dict:
    """`python -m <module>` in the bench namespace with `spec` as JSON on stdin; its last stdout line
    is its JSON result (a separate process, so its load does not share this one's GIL)."""
    completed = subprocess.run(
        [namespace.PYTHON, "-m", module],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=namespace.ROOT,
        env=namespace_env(),
        timeout=timeout,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} failed: {completed.stderr[-2000:]}")
    return json.loads(completed.stdout.strip().splitlines()[-1])

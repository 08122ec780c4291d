"""What every stage shares: the run's context (scale, seed, processes, figures), how a stage
measures one load under wrk, authenticates, and runs a helper process in the bench namespace."""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field

from bench import namespace, seed
from bench.loadgen import LoadResult, Request, run_wrk
from bench.processes import ProcessSet
from bench.scales import Scale

# A stage's waits for an idle pipeline: a full-scale backlog (writes made with the workers
# paused) takes minutes to drain on the shared cores.
BENCH_IDLE_TIMEOUT = 900


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


def measure(label: str, port_or_url, requests_: list[Request], connections_: int, ctx: StageContext, **kwargs) -> dict:
    """One wrk run (warm-up, then the scale's duration) with the CPU of every component, printed."""
    base = port_or_url if isinstance(port_or_url, str) else namespace.url(port_or_url)
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
    return {**result.as_dict(), "started_at": started, "ended_at": time.time()}


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

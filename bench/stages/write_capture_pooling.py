"""Figures of the write-capture stage's ABBA runs: one mode's runs pooled, CPU per write, on - off."""

from __future__ import annotations


def pool_cpu(deltas: list[dict], writes_n: int) -> dict:
    """bench.cpu.delta figures of several runs as one, per write over `writes_n`. `unaccounted`
    is machine busy time no component of ours (nor a shared server) used: other engineers' work."""
    seconds: dict[str, float] = {}
    for d in deltas:
        for k, v in d.get("cpu_seconds", {}).items():
            seconds[k] = seconds.get(k, 0.0) + v
    busy = seconds.pop("machine_busy", 0.0)
    components = {k: round(v, 3) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
    return {
        "cpu_seconds": components,
        "machine_busy_seconds": round(busy, 3),
        "unaccounted_busy_seconds": round(busy - sum(components.values()), 3),
        "cpu_ms_per_request": {k: round(v * 1000 / writes_n, 2) for k, v in components.items()} if writes_n else {},
    }


def pool_runs(runs: list[dict]) -> dict:
    """One mode's runs as one: requests/s over their summed time, mean latency weighted by requests,
    CPU per request over all their requests; each run's own figures under `runs`."""
    requests_n = sum(r["requests"] for r in runs)
    seconds = sum(r["duration_s"] for r in runs)
    means = [(r["mean_ms"], r["requests"]) for r in runs if r.get("mean_ms") is not None]
    return {
        "rps": round(requests_n / seconds, 1) if seconds else 0.0,
        "requests": requests_n,
        "duration_s": round(seconds, 2),
        "warmup_s": runs[0]["warmup_s"],
        "runs_pooled": len(runs),
        "mean_ms": round(sum(m * n for m, n in means) / sum(n for _m, n in means), 2) if means else None,
        "p50_ms_per_run": [r["p50_ms"] for r in runs],
        "p95_ms_per_run": [r["p95_ms"] for r in runs],
        "outbox_rows_recorded": sum(r.get("outbox_rows_recorded", 0) for r in runs),
        "posts_written_with_warmup": sum(r.get("posts_written_with_warmup", 0) for r in runs),
        "cpu": pool_cpu([r.get("cpu", {}) for r in runs], requests_n),
        "runs": runs,
    }


def cpu_per_write(on: dict, off: dict) -> dict:
    """CPU ms per write per component (bench.cpu: our processes by process group, the shared
    servers by name), both modes and on - off; `total` sums every component but the load generator."""

    def per(run: dict) -> dict:
        ms = dict(run.get("cpu", {}).get("cpu_ms_per_request", {}))
        ms["total"] = round(sum(v for k, v in ms.items() if k != "load generator (wrk)"), 2)
        return ms

    a, b = per(on), per(off)
    return {
        "capture_on": a,
        "capture_off": b,
        "difference": {
            k: round(a.get(k, 0.0) - b.get(k, 0.0), 2) for k in sorted(set(a) | set(b), key=lambda k: -a.get(k, 0.0))
        },
        "unaccounted_busy_seconds": {
            "capture_on": on.get("cpu", {}).get("unaccounted_busy_seconds"),
            "capture_off": off.get("cpu", {}).get("unaccounted_busy_seconds"),
        },
    }


def difference(on: dict, off: dict, key: str) -> dict:
    a, b = on.get(key), off.get(key)
    return {
        "capture_on": a,
        "capture_off": b,
        "difference": round(a - b, 2) if a is not None and b is not None else None,
    }


def pair_ratios(order: tuple[str, ...], runs: list[dict]) -> list[float | None]:
    """on/off of each adjacent pair of the ABBA order: the spread behind the pooled ratio."""
    out = []
    for k in range(0, len(order), 2):
        by = {order[k]: runs[k], order[k + 1]: runs[k + 1]}
        off = by["capture_off"]["rps"]
        out.append(round(by["capture_on"]["rps"] / off, 3) if off else None)
    return out

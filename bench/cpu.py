"""CPU seconds per component during a run, from /proc (py-spy is not available; this tells which
process spends the CPU, cProfile and pg_stat_statements then tell where inside it).

Our processes are counted by process group (each is started in its own session); the shared
servers by command name, so their figures include other engineers' work on the same machine
(machine_busy is the whole machine, for scale).
"""

from __future__ import annotations

import os

SERVERS = {
    "postgres": "postgresql",
    "java": "elasticsearch",
    "redis-server": "redis",
    "pgbouncer": "pgbouncer",
    "wrk": "load generator (wrk)",
}
TICKS = os.sysconf("SC_CLK_TCK")
STACK_HOME = os.environ.get("STACK_HOME", "/var/lib/cqrs-stack")


def machine_busy() -> tuple[float, float]:
    """(CPU seconds busy, CPU seconds in all) of the whole machine since boot."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / TICKS, sum(fields) / TICKS


def busy_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """The machine's CPU busy share between two machine_busy() readings (0 when no time passed)."""
    return (after[0] - before[0]) / (after[1] - before[1]) if after[1] > before[1] else 0.0


def _postmasters() -> dict[int, str]:
    """The primary's and the replica's postmaster pids (first line of postmaster.pid): their
    backends are their children, so PostgreSQL's CPU splits into primary and replica."""
    found = {}
    for name in ("primary", "replica"):
        try:
            with open(os.path.join(STACK_HOME, "postgres", name, "postmaster.pid")) as f:
                found[int(f.readline())] = f"postgresql {name}"
        except (OSError, ValueError):
            continue
    return found


def snapshot(groups: dict[str, int]) -> dict[str, float]:
    """CPU seconds so far per named process group and per shared server, plus machine busy/total."""
    by_group = {pgid: name for name, pgid in groups.items()}
    postmasters = _postmasters()
    totals: dict[str, float] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
        except OSError:
            continue
        comm = raw[raw.index("(") + 1 : raw.rindex(")")]
        rest = raw[raw.rindex(")") + 2 :].split()
        ppid, pgrp, utime, stime = int(rest[1]), int(rest[2]), int(rest[11]), int(rest[12])
        # Children that exited are folded into their parent's cutime/cstime: count those too.
        cutime, cstime = int(rest[13]), int(rest[14])
        name = (
            by_group.get(pgrp)
            or (postmasters.get(int(entry)) or postmasters.get(ppid) if comm == "postgres" else None)
            or SERVERS.get(comm)
        )
        if name:
            totals[name] = totals.get(name, 0.0) + (utime + stime + cutime + cstime) / TICKS
    busy, total = machine_busy()
    totals["machine_busy"] = busy
    totals["machine_total"] = total
    return totals


def delta(before: dict[str, float], after: dict[str, float], requests: int | None = None) -> dict:
    """CPU seconds per component between two snapshots (and ms per request when given)."""
    seconds = {k: round(after[k] - before.get(k, 0.0), 3) for k in after if k not in ("machine_total",)}
    wall_cpu = after["machine_total"] - before["machine_total"]
    out = {
        "cpu_seconds": {k: v for k, v in sorted(seconds.items(), key=lambda kv: -kv[1]) if v > 0.005},
        "machine_busy_share": round(seconds["machine_busy"] / wall_cpu, 3) if wall_cpu else None,
    }
    if requests:
        out["cpu_ms_per_request"] = {
            k: round(v * 1000 / requests, 2) for k, v in out["cpu_seconds"].items() if k != "machine_busy"
        }
    return out


class Sampler:
    """Snapshots every `interval` seconds in a thread, so phases of a run measured by another
    process (the lag probe) can be attributed afterwards by their timestamps."""

    def __init__(self, groups: dict[str, int], interval: float = 0.5):
        import threading

        self.groups = groups
        self.interval = interval
        self.samples: list[tuple[float, dict[str, float]]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import time

        while not self._stop.is_set():
            self.samples.append((time.time(), snapshot(self.groups)))
            self._stop.wait(self.interval)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import time

        self._stop.set()
        self._thread.join()
        self.samples.append((time.time(), snapshot(self.groups)))

    def window(self, start: float, end: float, requests: int | None = None) -> dict:
        before = [s for t, s in self.samples if t <= start] or [self.samples[0][1]]
        after = [s for t, s in self.samples if t >= end] or [self.samples[-1][1]]
        return delta(before[-1], after[0], requests)

"""Data sizes and run lengths per scale. `full` is the issue's; `small` proves the command in CI."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    assessments: int
    attempts: int
    posts: int
    organisations: int
    candidates: int
    # Assessment popularity follows Zipf(s): the top assessment takes 1/H(n, s) of all attempts.
    zipf_s: float
    # Load runs: seconds measured, seconds of discarded warm-up before each.
    duration: float
    warmup: float
    read_connections: int
    write_connections: int
    hot_comments: int
    hot_connections: int
    lag_rate: float  # writes per second, steady phase
    lag_steady_seconds: float
    lag_burst_writes: int
    lag_burst_connections: int
    reindex_workers: int
    reindex_batch_size: int
    seed_processes: int
    idle_timeout: float  # seconds a stage waits for an idle machine before it runs anyway (stages.quiet_start)
    raw_sql_rate: float  # raw_sql_lag: writes per second on one psycopg2 connection (open loop)
    raw_sql_seconds: float
    raw_sql_comment_every: int  # every n-th raw write is a comment INSERT, the others post UPDATEs


SCALES = {
    "small": Scale(
        name="small",
        assessments=40,
        attempts=20_000,
        posts=5_000,
        organisations=5,
        candidates=8_000,
        zipf_s=1.1,
        duration=2,
        warmup=1,
        read_connections=8,
        write_connections=8,
        hot_comments=600,
        hot_connections=16,
        lag_rate=100,
        lag_steady_seconds=5,
        lag_burst_writes=300,
        lag_burst_connections=16,
        reindex_workers=4,
        reindex_batch_size=1000,
        seed_processes=2,
        idle_timeout=30,
        raw_sql_rate=20,
        raw_sql_seconds=10,
        raw_sql_comment_every=10,
    ),
    "full": Scale(
        name="full",
        assessments=1_000,
        attempts=1_000_000,
        posts=200_000,
        organisations=50,
        candidates=200_000,
        zipf_s=1.0,
        duration=20,
        warmup=5,
        read_connections=8,
        write_connections=8,
        hot_comments=10_000,
        hot_connections=16,
        lag_rate=100,
        lag_steady_seconds=60,
        lag_burst_writes=3_000,
        lag_burst_connections=16,
        reindex_workers=4,
        reindex_batch_size=1000,
        seed_processes=3,
        idle_timeout=300,
        raw_sql_rate=20,
        raw_sql_seconds=60,
        raw_sql_comment_every=10,
    ),
}

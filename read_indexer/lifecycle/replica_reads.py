"""Heavy operator reads from the streaming replica, with its gap to the primary closed first.

The primary is the one server that cannot scale out, so reindex's bulk load and verify's hash
comparison read the hot standby. The replica lags, so before the first read we take the
primary's current WAL position and wait until the replica has replayed it: every transaction
committed before that moment is then visible on the replica. What commits later is covered by
the caller's own guarantee, not by the replica: reindex registers its dual-write target before
taking the position (a later change is written into the new index by the workers, and versions
keep the newest state whatever the order); verify re-checks every drifted id on the primary
before it reports it. So a replica read can make either slower, never wrong.

If the replica is unreachable, or has not caught up within CATCH_UP_SECONDS, the read goes to
the primary and says so (a structured warning, and `source` in the command's output).
May touch: the primary and the replica (read-only: WAL positions).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog
from django.db import DatabaseError, connections

from read_indexer.raw_sql import one_row

log = structlog.get_logger(__name__)
PRIMARY, REPLICA = "default", "replica"
CATCH_UP_SECONDS = 30.0


@dataclass(frozen=True)
class ReadSource:
    using: str  # the Django database alias to read from
    reason: str  # one sentence for the operator

    @property
    def is_replica(self) -> bool:
        return self.using == REPLICA


def caught_up_replica(purpose: str, *, timeout: float = CATCH_UP_SECONDS, primary_only: bool = False) -> ReadSource:
    """The replica once it has replayed everything the primary has committed now; else the primary."""
    if primary_only:  # the operator asked (--primary), e.g. a replica known to be unhealthy
        log.info("replica_reads.primary_requested", purpose=purpose)
        return ReadSource(PRIMARY, "reading from the primary (--primary)")
    started = time.monotonic()
    try:
        target = one_row("SELECT pg_current_wal_lsn()::text", using=PRIMARY)[0]
        while True:
            replayed = one_row(
                "SELECT pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= %s::pg_lsn", [target], using=REPLICA
            )[0]
            if replayed:
                waited = round(time.monotonic() - started, 3)
                log.info("replica_reads.caught_up", purpose=purpose, lsn=target, waited_seconds=waited)
                return ReadSource(
                    REPLICA, f"reading from the replica (caught up with the primary's {target} in {waited} s)"
                )
            if time.monotonic() - started > timeout:
                break
            time.sleep(0.05)
        reason = f"the replica had not replayed {target} after {timeout:.0f} s"
    except DatabaseError as exc:
        reason = f"the replica is unavailable ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})"
    finally:
        connections[REPLICA].close()  # this thread is done with it; a dead socket must not be reused
    log.warning("replica_reads.using_primary", purpose=purpose, reason=reason)
    return ReadSource(PRIMARY, f"reading from the primary: {reason}")

"""The captured changes (outbox rows) as the read model consumes them: claim, mark, relay, park.

Every handler tracks its own completion on the change's row (`indexed_at`, `counters_applied_at`),
so whoever looks for unfinished work finds it by each row's own state, never by a high-water
mark over ids (ids reserved by transactions that commit later would be skipped). Each query below
that scans the backlog repeats a partial index's predicate (write_service/outbox/models.py), so it
reads only the backlog.
May touch: outbox_outboxevent, outbox_deadletter and platform_idempotencyrecord rows (primary).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import connections, transaction
from django.utils import timezone

from shared.events import RowChange
from write_service.outbox.models import DeadLetter, OutboxEvent
from write_service.platform.models import IdempotencyRecord

log = structlog.get_logger(__name__)
OUTBOX = OutboxEvent._meta.db_table
CAPTURE_CHANNEL = "outbox_capture"  # the capture triggers' NOTIFY channel (migration 0002_capture_triggers)
LISTENER_BACKLOG = 5000  # pending ids the listener forwards when it (re)connects

_unindexed = OutboxEvent.objects.using("default").filter(indexed_at__isnull=True, dead_at__isnull=True)


# --- the indexing path -------------------------------------------------------------------------

# Raw SQL on the indexing path: building and compiling these querysets cost more of a task's
# CPU than PostgreSQL spent running them (py-spy, bench/README.md "Write path profile").
_PENDING_COLUMNS = "id, event_type, payload, occurred_at, relay_attempts"  # what projection and dead_letter read
_UNINDEXED = "indexed_at IS NULL AND dead_at IS NULL"  # the partial index outbox_unindexed's predicate
_PENDING_OWN = f"SELECT {_PENDING_COLUMNS} FROM {OUTBOX} WHERE id = ANY(%s) AND {_UNINDEXED}"
_PENDING_WITH_OTHERS = (
    f"({_PENDING_OWN}) UNION ALL (SELECT {_PENDING_COLUMNS} FROM {OUTBOX} WHERE {_UNINDEXED}"
    " AND NOT (id = ANY(%s)) AND event_type <> %s ORDER BY occurred_at LIMIT %s)"
)


def pending(event_ids: list[int], *, also_pending: int = 0) -> list[OutboxEvent]:
    """The given changes still unindexed, plus up to `also_pending` other ones, oldest first
    (not fan-outs: one stays pending while it runs, and every task would take it along), in one
    statement: one round trip through pgBouncer."""
    ids = list(event_ids)
    if also_pending:
        rows = OutboxEvent.objects.using("default").raw(
            _PENDING_WITH_OTHERS, [ids, ids, RowChange.ROW_FANOUT, also_pending]
        )
    else:
        rows = OutboxEvent.objects.using("default").raw(_PENDING_OWN, [ids])
    return list(rows)


def mark_indexed(event_ids: list[int]) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"UPDATE {OUTBOX} SET indexed_at = now() WHERE id = ANY(%s) AND indexed_at IS NULL", [list(event_ids)]
        )


def record_failure(event_ids: list[int], error: str) -> None:
    OutboxEvent.objects.using("default").filter(id__in=event_ids, indexed_at__isnull=True).update(
        last_error=error[:4000]
    )


def dead_letter(event: OutboxEvent, handler: str, error: str) -> None:
    with transaction.atomic(using="default"):
        OutboxEvent.objects.using("default").filter(pk=event.pk).update(dead_at=timezone.now(), last_error=error[:4000])
        DeadLetter.objects.using("default").update_or_create(
            event_id=event.pk, defaults={"handler": handler, "error": error[:4000], "attempts": event.relay_attempts}
        )
    log.error("outbox.dead_letter", event_id=event.pk, event_type=event.event_type, error=error[:500])


@contextmanager
def locked_fanouts(event_ids: list[int]) -> Iterator[list[RowChange]]:
    """The given fan-out changes still to do, locked for the whole block (a duplicate task finds
    them locked or done and gets none); marked indexed when the block ends, in the same
    transaction, so a killed run leaves them unindexed for the relay."""
    with transaction.atomic(using="default"):
        rows = list(
            OutboxEvent.objects.using("default")
            .select_for_update(skip_locked=True)
            .filter(id__in=event_ids, event_type=RowChange.ROW_FANOUT, indexed_at__isnull=True, dead_at__isnull=True)
        )
        yield [RowChange.model_validate(row.payload) for row in rows]
        OutboxEvent.objects.using("default").filter(id__in=[row.id for row in rows]).update(indexed_at=timezone.now())


def pending_on(cursor) -> tuple[list[int], bool]:
    """(unindexed change ids, whether counters have work), on the listener's own DB-API cursor."""
    cursor.execute(
        f"SELECT id FROM {OUTBOX} WHERE indexed_at IS NULL AND dead_at IS NULL "
        f"ORDER BY occurred_at LIMIT {LISTENER_BACKLOG}"
    )
    ids = [row[0] for row in cursor.fetchall()]
    cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {OUTBOX} WHERE counters_applied_at IS NULL AND dead_at IS NULL)")
    return ids, cursor.fetchone()[0]


# --- read your own writes (shared/consistency.py) ----------------------------------------------


def commit_bounds() -> tuple[int, int]:
    """(txid bound, event bound) once a write has committed: no transaction below the first is still
    running, and every change recorded so far has an id at or below the second."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, (SELECT coalesce(max(id), 0) FROM {OUTBOX})"
        )
        return cursor.fetchone()


def processing_record_on(cursor) -> tuple[int, int, int]:
    """(snapshot xmin, oldest unfinished change id or None, newest change id), in one snapshot, on
    the horizon publisher's own DB-API cursor. Unfinished: not indexed, or not counted; a dead
    letter is finished (docs/CONSISTENCY.md says what that means for its write's token)."""
    cursor.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        cursor.execute(
            "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint,"
            f" LEAST((SELECT min(id) FROM {OUTBOX} WHERE indexed_at IS NULL AND dead_at IS NULL),"
            f"       (SELECT min(id) FROM {OUTBOX} WHERE counters_applied_at IS NULL AND dead_at IS NULL)),"
            f" (SELECT coalesce(max(id), 0) FROM {OUTBOX})"
        )
        return cursor.fetchone()
    finally:
        cursor.execute("COMMIT")


# --- the relay and housekeeping ------------------------------------------------------------------


def claim_for_resend(stale_before: datetime, *, max_attempts: int, limit: int) -> list[int]:
    """Unindexed changes older than `stale_before` and due (backoff), their relay count bumped;
    those past `max_attempts` become dead letters instead."""
    with transaction.atomic(using="default"):
        rows = list(
            _unindexed.select_for_update(skip_locked=True)
            .filter(occurred_at__lt=stale_before)
            .exclude(next_relay_at__gt=timezone.now())
            .order_by("occurred_at")[:limit]
        )
        resend = []
        for row in rows:
            if row.relay_attempts >= max_attempts:
                dead_letter(row, "indexing", row.last_error or "not indexed after repeated relays")
                continue
            resend.append(row.id)
        if resend:
            with connections["default"].cursor() as cursor:
                cursor.execute(
                    f"UPDATE {OUTBOX} SET relay_attempts = relay_attempts + 1, "
                    "next_relay_at = now() + make_interval(secs => LEAST(30, power(2, relay_attempts + 1)::int)) "
                    "WHERE id = ANY(%s)",
                    [resend],
                )
    return resend


def counters_behind(stale_before: datetime) -> bool:
    return (
        OutboxEvent.objects.using("default")
        .filter(counters_applied_at__isnull=True, dead_at__isnull=True, occurred_at__lt=stale_before)
        .exists()
    )


def delete_processed(retention_days: int) -> dict[str, int]:
    """Changes fully processed `retention_days` ago, and expired idempotency records."""
    cutoff = timezone.now() - timedelta(days=retention_days)
    deleted_events, _ = (
        OutboxEvent.objects.using("default")
        .filter(indexed_at__lt=cutoff, counters_applied_at__isnull=False, dead_at__isnull=True)
        .delete()
    )
    key_cutoff = timezone.now() - timedelta(seconds=settings.IDEMPOTENCY_TTL_SECONDS)
    expired_keys, _ = IdempotencyRecord.objects.using("default").filter(created_at__lt=key_cutoff).delete()
    return {"events": deleted_events, "idempotency_records": expired_keys}


# --- the drift sweep ---------------------------------------------------------------------------


def recently_indexed_rows(
    tables: list[str], *, window_seconds: float, settle_seconds: float, limit: int
) -> list[tuple[str, int]]:
    """(table, row id) of the changes indexed between `window_seconds` and `settle_seconds` ago."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT payload->>'table', (payload->>'id')::bigint FROM {OUTBOX}"
            " WHERE indexed_at >= now() - make_interval(secs => %s) AND indexed_at < now() - make_interval(secs => %s)"
            "   AND payload->>'table' = ANY(%s) ORDER BY indexed_at DESC LIMIT %s",
            [window_seconds, settle_seconds, tables, limit],
        )
        return cursor.fetchall()


def rows_with_pending_changes(table: str, ids: list[int]) -> set[int]:
    if not ids:
        return set()
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT (payload->>'id')::bigint FROM {OUTBOX} WHERE indexed_at IS NULL AND dead_at IS NULL"
            " AND payload->>'table' = %s AND (payload->>'id')::bigint = ANY(%s)",
            [table, ids],
        )
        return {row[0] for row in cursor.fetchall()}


def fanout_pending() -> bool:
    return _unindexed.filter(event_type=RowChange.ROW_FANOUT).exists()


# --- status and dead letters ---------------------------------------------------------------------


def backlog() -> dict:
    """Unprocessed changes per stage with the age of the oldest, and the dead letters' count."""
    with connections["default"].cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), EXTRACT(EPOCH FROM now() - min(occurred_at))::float8 FROM {OUTBOX}"
            " WHERE indexed_at IS NULL AND dead_at IS NULL"
        )
        unindexed, unindexed_age = cursor.fetchone()
        cursor.execute(
            f"SELECT count(*), EXTRACT(EPOCH FROM now() - min(occurred_at))::float8 FROM {OUTBOX}"
            " WHERE counters_applied_at IS NULL AND dead_at IS NULL"
        )
        uncounted, uncounted_age = cursor.fetchone()
    return {
        "unindexed": unindexed,
        "unindexed_age": unindexed_age,
        "uncounted": uncounted,
        "uncounted_age": uncounted_age,
        "dead_letters": DeadLetter.objects.using("default").count(),
    }


class UnknownDeadLetters(LookupError):
    def __init__(self, event_ids: list[int]):
        super().__init__(event_ids)
        self.event_ids = event_ids


def dead_letters(limit: int | None = None) -> list[dict]:
    rows = DeadLetter.objects.using("default").select_related("event").order_by("event_id")
    return [
        {
            "event_id": row.event_id,
            "event_type": row.event.event_type,
            "handler": row.handler,
            "attempts": row.attempts,
            "failed_at": row.failed_at,
            "error": row.error,
            "payload": row.event.payload,
        }
        for row in (rows[:limit] if limit else rows)
    ]


def _locked_dead_letter_ids(event_ids: list[int] | None) -> list[int]:
    """The requested dead letters (all if None), locked; unknown ids raise UnknownDeadLetters."""
    rows = DeadLetter.objects.using("default").select_for_update()
    if event_ids is not None:
        rows = rows.filter(event_id__in=event_ids)
    found = sorted(rows.values_list("event_id", flat=True))
    if unknown := sorted(set(event_ids or []) - set(found)):
        raise UnknownDeadLetters(unknown)
    return found


def replay_dead_letters(event_ids: list[int] | None) -> list[int]:
    """Back into normal delivery: fresh relay state, dead mark cleared (the relay sends them next)."""
    with transaction.atomic(using="default"):
        ids = _locked_dead_letter_ids(event_ids)
        OutboxEvent.objects.using("default").filter(id__in=ids).update(
            dead_at=None,
            relay_attempts=0,
            next_relay_at=None,
            last_error="",
        )
        DeadLetter.objects.using("default").filter(event_id__in=ids).delete()
    return ids


def discard_dead_letters(event_ids: list[int] | None) -> list[dict]:
    """Dropped for good; returns what was dropped (the caller logs it, so nothing vanishes untraced)."""
    with transaction.atomic(using="default"):
        ids = _locked_dead_letter_ids(event_ids)
        dropped = [
            {"event_id": e.id, "event_type": e.event_type, "payload": e.payload, "last_error": e.last_error}
            for e in OutboxEvent.objects.using("default").filter(id__in=ids)
        ]
        OutboxEvent.objects.using("default").filter(id__in=ids).delete()  # cascades to the dead letter
    return dropped

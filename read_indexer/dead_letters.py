"""Dead letters: outbox events that kept failing, for an operator to list, replay or discard.

Dead letters are named by their outbox event id (the id in every log line about the event).
Replay puts the event back into the normal delivery path (fresh relay state, dead mark cleared:
the outbox relay sends it at its next pass, within seconds);
every handler is idempotent, so replaying an event that partly succeeded is safe. Discard drops
the event for good; it is logged with its payload first, so nothing disappears without a trace.
May touch: outbox_outboxevent and outbox_deadletter rows (primary).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog
from django.db import transaction

from read_indexer.operator_cli import OperatorError
from write_service.outbox.models import DeadLetter, OutboxEvent

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DeadLetterView:
    event_id: int
    event_type: str
    handler: str
    attempts: int
    failed_at: datetime
    error: str
    payload: dict

    def as_dict(self) -> dict:
        return {**self.__dict__, "failed_at": self.failed_at.isoformat()}


def list_dead_letters(limit: int | None = None) -> list[DeadLetterView]:
    rows = DeadLetter.objects.using("default").select_related("event").order_by("event_id")
    return [
        DeadLetterView(row.event_id, row.event.event_type, row.handler, row.attempts, row.failed_at, row.error,
                       row.event.payload)
        for row in (rows[:limit] if limit else rows)
    ]


def _locked_event_ids(event_ids: list[int] | None) -> list[int]:
    """The requested dead letters (all if None), locked; unknown ids are an OperatorError."""
    rows = DeadLetter.objects.using("default").select_for_update()
    if event_ids is not None:
        rows = rows.filter(event_id__in=event_ids)
    found = sorted(rows.values_list("event_id", flat=True))
    unknown = sorted(set(event_ids or []) - set(found))
    if unknown:
        raise OperatorError(f"No dead letter for event id(s) {', '.join(map(str, unknown))}; "
                            "see `manage.py dead_letters list`.")
    return found


def replay(event_ids: list[int] | None) -> list[int]:
    with transaction.atomic(using="default"):
        ids = _locked_event_ids(event_ids)
        OutboxEvent.objects.using("default").filter(id__in=ids).update(
            dead_at=None, relay_attempts=0, next_relay_at=None, last_error="",
        )
        DeadLetter.objects.using("default").filter(event_id__in=ids).delete()
    log.warning("dead_letters.replayed", event_ids=ids)
    return ids


def discard(event_ids: list[int] | None) -> list[int]:
    with transaction.atomic(using="default"):
        ids = _locked_event_ids(event_ids)
        for event in OutboxEvent.objects.using("default").filter(id__in=ids):
            log.warning("dead_letters.discarded", event_id=event.id, event_type=event.event_type,
                        payload=event.payload, last_error=event.last_error[:500])
        OutboxEvent.objects.using("default").filter(id__in=ids).delete()  # cascades to the dead letter
    return ids


def render(letters: list[DeadLetterView]) -> list[str]:
    if not letters:
        return ["No dead letters."]
    lines = [f"{'event':>10}  {'type':<26} {'handler':<10} {'tries':>5}  {'failed at (UTC)':<19}  error"]
    for letter in letters:
        error = " ".join(letter.error.split())
        lines.append(f"{letter.event_id:>10}  {letter.event_type:<26} {letter.handler:<10} {letter.attempts:>5}  "
                     f"{letter.failed_at:%Y-%m-%d %H:%M:%S}  {error[:100]}")
    return lines

"""Dead letters: outbox events that kept failing, for an operator to list, replay or discard.

Dead letters are named by their outbox event id (the id in every log line about the event).
Replay puts the event back into the normal delivery path (fresh relay state, dead mark cleared:
the outbox relay sends it at its next pass, within seconds);
every handler is idempotent, so replaying an event that partly succeeded is safe. Discard drops
the event for good; it is logged with its payload first, so nothing disappears without a trace.
May touch: the outbox's change and dead-letter rows (primary), through write_service.read_model.outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from read_indexer.errors import OperatorError
from write_service.read_model import outbox

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
    return [DeadLetterView(**row) for row in outbox.dead_letters(limit)]


def _unknown(exc: outbox.UnknownDeadLetters) -> OperatorError:
    return OperatorError(
        f"No dead letter for event id(s) {', '.join(map(str, exc.event_ids))}; see `manage.py dead_letters list`."
    )


def replay(event_ids: list[int] | None) -> list[int]:
    try:
        ids = outbox.replay_dead_letters(event_ids)
    except outbox.UnknownDeadLetters as exc:
        raise _unknown(exc) from None
    log.warning("dead_letters.replayed", event_ids=ids)
    return ids


def discard(event_ids: list[int] | None) -> list[int]:
    try:
        dropped = outbox.discard_dead_letters(event_ids)
    except outbox.UnknownDeadLetters as exc:
        raise _unknown(exc) from None
    for event in dropped:
        log.warning(
            "dead_letters.discarded",
            event_id=event["event_id"],
            event_type=event["event_type"],
            payload=event["payload"],
            last_error=event["last_error"][:500],
        )
    return sorted(event["event_id"] for event in dropped)


def render(letters: list[DeadLetterView]) -> list[str]:
    if not letters:
        return ["No dead letters."]
    lines = [f"{'event':>10}  {'type':<26} {'handler':<10} {'tries':>5}  {'failed at (UTC)':<19}  error"]
    for letter in letters:
        error = " ".join(letter.error.split())
        lines.append(
            f"{letter.event_id:>10}  {letter.event_type:<26} {letter.handler:<10} {letter.attempts:>5}  "
            f"{letter.failed_at:%Y-%m-%d %H:%M:%S}  {error[:100]}"
        )
    return lines

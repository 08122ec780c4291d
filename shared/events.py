"""The outbox's contract: the captured row changes, undeclared fields rejected.

Row changes are written by PostgreSQL triggers (write_service/outbox/migrations/
0002_capture_triggers.py); read_indexer parses them back with `parse_event`.
Adding a field is a contract change made here and in the trigger migration.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class RowChange(BaseModel):
    """What the capture triggers record for every changed row (write_service/outbox/migrations/
    0002_capture_triggers.py): which row, how, and the old and new values of the columns the
    handlers need (counter targets, liveness). Documents are re-read from the row itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    ROW_CHANGED: ClassVar[str] = "row.changed"
    # A change that reaches every child document (an assessment deleted or moved, a user renamed).
    ROW_FANOUT: ClassVar[str] = "row.fanout"
    table: str
    id: int
    op: Literal["insert", "update", "delete"]
    old: dict | None
    new: dict | None


ROW_CHANGE_TYPES = (RowChange.ROW_CHANGED, RowChange.ROW_FANOUT)


class UnknownEventType(ValueError):
    pass


def parse_event(event_type: str, payload: dict) -> RowChange:
    """Validates a stored payload against its contract; raises on unknown types or fields."""
    if event_type not in ROW_CHANGE_TYPES:
        raise UnknownEventType(f"unknown event type {event_type!r}")
    return RowChange.model_validate(payload)

"""The outbox's contracts: captured row changes and typed domain events, undeclared fields rejected.

Row changes are written by PostgreSQL triggers, domain events by the write side's service
functions (write_service.outbox.recorder); read_indexer parses both back with `parse_event`.
Adding a field is a contract change made here (and, for row changes, in the trigger migration).
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    event_type: ClassVar[str]


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


# Domain events: recorded by service functions beside the row change, for what a row change does
# not say. Nothing in the pipeline consumes them (the captured row changes drive projection and
# counters); they are the platform's event log for integrations, kept for the outbox retention.
class AssessmentCutOffChanged(Event):
    """Every qualified verdict on the assessment's leaderboard was re-decided."""

    event_type: ClassVar[str] = "assessment.cut_off_changed"
    assessment_id: int
    organisation_id: int
    old_cut_off: str
    new_cut_off: str


class AttemptSubmitted(Event):
    """A candidate finished an attempt: their result exists."""

    event_type: ClassVar[str] = "attempt.submitted"
    attempt_id: int
    assessment_id: int
    candidate_id: int


DOMAIN_EVENT_TYPES: dict[str, type[Event]] = {cls.event_type: cls for cls in (AssessmentCutOffChanged, AttemptSubmitted)}
ROW_CHANGE_TYPES = (RowChange.ROW_CHANGED, RowChange.ROW_FANOUT)


class UnknownEventType(ValueError):
    pass


def parse_event(event_type: str, payload: dict) -> Event | RowChange:
    """Validates a stored payload against its contract; raises on unknown types or fields."""
    if event_type in ROW_CHANGE_TYPES:
        return RowChange.model_validate(payload)
    try:
        cls = DOMAIN_EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
    return cls.model_validate(payload)

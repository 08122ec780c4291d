"""Typed event contracts: one type per change, undeclared fields rejected, JSON only.

The write side records these into the outbox (write_service.outbox.recorder); read_indexer parses
them back with `parse_event`. Adding a field is a contract change made here, in one place.
"""
from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict


class Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
    event_type: ClassVar[str]


class AssessmentCreated(Event):
    event_type: ClassVar[str] = "assessment.created"
    assessment_id: int
    organisation_id: int


class AssessmentUpdated(Event):
    event_type: ClassVar[str] = "assessment.updated"
    assessment_id: int
    organisation_id: int
    changed_fields: list[str]


class AssessmentCutOffChanged(Event):
    event_type: ClassVar[str] = "assessment.cut_off_changed"
    assessment_id: int
    organisation_id: int
    old_cut_off: str
    new_cut_off: str


class AssessmentDeleted(Event):
    event_type: ClassVar[str] = "assessment.deleted"
    assessment_id: int
    organisation_id: int


class AttemptStarted(Event):
    event_type: ClassVar[str] = "attempt.started"
    attempt_id: int
    assessment_id: int
    candidate_id: int


class AttemptSubmitted(Event):
    event_type: ClassVar[str] = "attempt.submitted"
    attempt_id: int
    assessment_id: int
    candidate_id: int


class PostCreated(Event):
    event_type: ClassVar[str] = "post.created"
    post_id: int
    organisation_id: int


class PostUpdated(Event):
    event_type: ClassVar[str] = "post.updated"
    post_id: int
    changed_fields: list[str]


class PostDeleted(Event):
    event_type: ClassVar[str] = "post.deleted"
    post_id: int


class CommentCreated(Event):
    event_type: ClassVar[str] = "comment.created"
    comment_id: int
    post_id: int


class CommentDeleted(Event):
    event_type: ClassVar[str] = "comment.deleted"
    comment_id: int
    post_id: int


EVENT_TYPES: dict[str, type[Event]] = {
    cls.event_type: cls
    for cls in (
        AssessmentCreated, AssessmentUpdated, AssessmentCutOffChanged, AssessmentDeleted,
        AttemptStarted, AttemptSubmitted, PostCreated, PostUpdated, PostDeleted,
        CommentCreated, CommentDeleted,
    )
}

EventTypeName = Literal[tuple(EVENT_TYPES)]  # type: ignore[valid-type]


class UnknownEventType(ValueError):
    pass


def parse_event(event_type: str, payload: dict) -> Event:
    """Validates a stored payload against its contract; raises on unknown types or fields."""
    try:
        cls = EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(f"unknown event type {event_type!r}") from None
    return cls.model_validate(payload)

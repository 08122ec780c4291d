"""The five lists of the read API, declared once each: the single source of truth for parsing,
validation, the Elasticsearch query (query_builder.py) and the OpenAPI document (openapi.py).

Document fields are those of shared/indexes.py (filled by write_service/read_model/projections.py), except
rank, percentile and qualified: attempt documents hold facts only, and those three are computed
when read (derived_metrics.py). Orderings by rank and percentile sort on the immutable keys that
define them (score, then time taken), so cursor walks are exact (every row once) even while
submissions land between pages.
"""

from __future__ import annotations

from search_api import visibility
from search_api.filtering import (
    EXACT,
    IN,
    RANGE,
    RELEVANCE,
    Boolean,
    Choice,
    DateTime,
    Facet,
    Filter,
    Integer,
    Keyword,
    ListSchema,
    Number,
    both_directions,
)
from shared.indexes import ASSESSMENTS, ATTEMPTS, COMMENTS, POSTS

ID = Integer(minimum=1)
COUNT = Integer(minimum=0)
RANK = Integer(minimum=0, maximum=2**31 - 1)  # an `integer` field: larger values are a 400 here, not in ES
TAG = Keyword(max_length=50)  # the write side caps tags at 50 characters
DIFFICULTIES = Choice(("easy", "medium", "hard"))
ASSESSMENT_STATUSES = Choice(("draft", "published", "archived"))
ATTEMPT_STATUSES = Choice(("started", "submitted"))


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


INT = {"type": "integer", "format": "int64"}
NUM = {"type": "number"}
STR = {"type": "string"}
TIME = {"type": "string", "format": "date-time"}
BOOL = {"type": "boolean"}
TAGS = {"type": "array", "items": STR}
PERSON = {"type": "object", "properties": {"id": INT, "display_name": STR}, "required": ["id", "display_name"]}

# Rank = RANK() by score desc, then time taken asc (write_service/assessments/selectors.py), so
# these keys give rank order and never change once an attempt is submitted.
RANK_KEYS = (("score", "desc"), ("time_taken_seconds", "asc"))
# Within one assessment, percentile rises with score (ties share a percentile).
PERCENTILE_KEYS = (("score", "asc"),)

ASSESSMENT_LIST = ListSchema(
    name="assessments",
    summary="Assessments: published ones of every organisation, and all of the caller's own (staff).",
    index=ASSESSMENTS,
    id_field="id",
    filters=(
        Filter("id", "id", ID, (EXACT, IN), "Assessment id."),
        Filter("tags", "tags", TAG, (EXACT, IN), "Has this tag (any of, with __in)."),
        Filter("difficulty", "difficulty", DIFFICULTIES, (EXACT, IN), "Difficulty."),
        Filter(
            "status",
            "status",
            ASSESSMENT_STATUSES,
            (EXACT, IN),
            "Status (others than published: own organisation only).",
        ),
        Filter("organisation", "organisation", ID, (EXACT, IN), "Organisation id."),
        Filter("created_at", "created_at", DateTime(), RANGE, "Creation time."),
        Filter("attempts_count", "attempts_count", COUNT, (EXACT, *RANGE), "Number of attempts started."),
    ),
    orderings=(
        RELEVANCE,
        *both_directions("created_at", "created_at", "Creation time, oldest first"),
        *both_directions("attempts_count", "attempts_count", "Attempts started, fewest first"),
        *both_directions("title", "title.sort", "Title, by Unicode code point (case-sensitive)"),
    ),
    default_ordering="-created_at",
    search_fields=("title^2", "description"),
    highlight_fields=("title", "description"),
    facets=(
        Facet("tags", "tags", TAG),
        Facet("difficulty", "difficulty", DIFFICULTIES),
        Facet("status", "status", ASSESSMENT_STATUSES),
        Facet("organisation", "organisation", ID),
    ),
    row={
        "id": INT,
        "title": STR,
        "description": STR,
        "tags": TAGS,
        "difficulty": STR,
        "status": STR,
        "organisation": INT,
        "attempts_count": INT,
        "submitted_count": INT,
        "max_score": _nullable(NUM),
        "duration_minutes": _nullable(INT),
        "created_at": TIME,
    },
    visibility=visibility.assessments,
)

_ATTEMPT_METRIC_FILTERS = (
    Filter("candidate", "candidate.id", ID, (EXACT, IN), "Candidate (user) id."),
    Filter(
        "qualified",
        "qualified",
        Boolean(),
        (EXACT,),
        "Score at or above the assessment's current cut-off.",
        derived=True,
    ),
    Filter("score", "score", Number(), RANGE, "Score."),
    Filter("time_taken", "time_taken_seconds", Number(), RANGE, "Seconds from start to submission."),
    Filter("submitted_at", "submitted_at", DateTime(), RANGE, "Submission time."),
    Filter(
        "percentile",
        "percentile",
        Number(),
        RANGE,
        "Share of the assessment's submitted attempts with a strictly lower score, in percent.",
        derived=True,
    ),
    Filter("rank", "rank", RANK, (EXACT, *RANGE), "Rank on the assessment's leaderboard (1 is best).", derived=True),
)
_LEADERBOARD_ROW = {
    "attempt_id": INT,
    "candidate": PERSON,
    "score": _nullable(NUM),
    "time_taken_seconds": _nullable(NUM),
    "submitted_at": _nullable(TIME),
    "rank": _nullable(INT),
    "percentile": _nullable(NUM),
    "qualified": _nullable(BOOL),
}

LEADERBOARD = ListSchema(
    name="leaderboard",
    summary="Submitted attempts of one assessment, best first. Public when the assessment is published; "
    "always visible to its organisation's staff.",
    index=ATTEMPTS,
    id_field="attempt_id",
    filters=_ATTEMPT_METRIC_FILTERS,
    orderings=(
        *both_directions("rank", RANK_KEYS, "Rank, best first (score desc, then time taken asc)"),
        *both_directions("score", "score", "Score, lowest first"),
        *both_directions("time_taken", "time_taken_seconds", "Time taken, fastest first"),
        *both_directions("percentile", PERCENTILE_KEYS, "Percentile, lowest first"),
        *both_directions("submitted_at", "submitted_at", "Submission time, earliest first"),
    ),
    default_ordering="rank",
    facets=(Facet("qualified", "qualified", Boolean(), derived=True),),
    row=_LEADERBOARD_ROW,
    visibility=visibility.leaderboard_rows,
    base_filters=({"term": {"status": "submitted"}},),
)

ATTEMPT_LIST = ListSchema(
    name="attempts",
    summary="Attempts: staff see their organisation's, candidates their own.",
    index=ATTEMPTS,
    id_field="attempt_id",
    filters=(
        Filter("assessment", "assessment", ID, (EXACT, IN), "Assessment id."),
        Filter("status", "status", ATTEMPT_STATUSES, (EXACT, IN), "Attempt status."),
        Filter("started_at", "started_at", DateTime(), RANGE, "Start time."),
        *_ATTEMPT_METRIC_FILTERS,
    ),
    orderings=(
        *both_directions("started_at", "started_at", "Start time, earliest first"),
        *both_directions("submitted_at", "submitted_at", "Submission time, earliest first (unsubmitted last)"),
        *both_directions("score", "score", "Score, lowest first (unsubmitted last)"),
        *both_directions("time_taken", "time_taken_seconds", "Time taken, fastest first (unsubmitted last)"),
    ),
    default_ordering="-started_at",
    facets=(
        Facet("status", "status", ATTEMPT_STATUSES),
        Facet("qualified", "qualified", Boolean(), derived=True),
        Facet("assessment", "assessment", ID),
    ),
    row={**_LEADERBOARD_ROW, "assessment": INT, "status": STR, "started_at": TIME},
    visibility=visibility.attempts,
)

POST_LIST = ListSchema(
    name="posts",
    summary="Discussion posts of the caller's organisation.",
    index=POSTS,
    id_field="id",
    filters=(
        Filter("id", "id", ID, (EXACT, IN), "Post id."),
        Filter("tags", "tags", TAG, (EXACT, IN), "Has this tag (any of, with __in)."),
        Filter("assessment", "assessment", ID, (EXACT, IN), "Assessment the post discusses."),
        Filter("author", "author.id", ID, (EXACT, IN), "Author (user) id."),
        Filter("comments_count", "comments_count", COUNT, (EXACT, *RANGE), "Number of comments."),
        Filter("created_at", "created_at", DateTime(), RANGE, "Creation time."),
        Filter("last_activity_at", "last_activity_at", DateTime(), RANGE, "Time of the latest comment (or creation)."),
    ),
    orderings=(
        RELEVANCE,
        *both_directions("created_at", "created_at", "Creation time, oldest first"),
        *both_directions("comments_count", "comments_count", "Comments, fewest first"),
        *both_directions("last_activity_at", "last_activity_at", "Latest activity, oldest first"),
    ),
    default_ordering="-created_at",
    search_fields=("title^2", "body"),
    highlight_fields=("title", "body"),
    facets=(Facet("tags", "tags", TAG), Facet("assessment", "assessment", ID)),
    row={
        "id": INT,
        "title": STR,
        "tags": TAGS,
        "assessment": _nullable(INT),
        "author": PERSON,
        "comments_count": INT,
        "created_at": TIME,
        "last_activity_at": _nullable(TIME),
    },
    visibility=visibility.posts,
)

COMMENT_LIST = ListSchema(
    name="comments",
    summary="Comments of one post, oldest first: visible to members of the post's organisation while the post is.",
    index=COMMENTS,
    id_field="id",
    filters=(
        Filter("id", "id", ID, (EXACT, IN), "Comment id."),
        Filter("author", "author.id", ID, (EXACT, IN), "Author (user) id."),
        Filter("created_at", "created_at", DateTime(), RANGE, "Creation time."),
    ),
    orderings=(RELEVANCE, *both_directions("created_at", "created_at", "Creation time, oldest first")),
    default_ordering="created_at",
    search_fields=("body",),
    highlight_fields=("body",),
    row={"id": INT, "post": INT, "author": PERSON, "body": STR, "created_at": TIME},
    visibility=visibility.comments,
)

ALL_LISTS = (ASSESSMENT_LIST, LEADERBOARD, ATTEMPT_LIST, POST_LIST, COMMENT_LIST)

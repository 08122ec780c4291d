"""A brute-force model of the read API in plain Python, written independently of search_api:
which documents a viewer sees, what each filter parameter means, how each ordering sorts.

Tests compare the API against it over the same documents (the projected sources), so the
tables below restate the contract; `test_every_filter_and_ordering_is_modelled` keeps them in
step with the list schemas.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from datetime import UTC, datetime

# param name -> (document path, kind)
FILTERS: dict[str, dict[str, tuple[str, str]]] = {
    "assessments": {
        "id": ("id", "int"),
        "tags": ("tags", "str"),
        "difficulty": ("difficulty", "str"),
        "status": ("status", "str"),
        "organisation": ("organisation", "int"),
        "created_at": ("created_at", "time"),
        "attempts_count": ("attempts_count", "int"),
    },
    "leaderboard": {
        "candidate": ("candidate.id", "int"),
        "qualified": ("qualified", "bool"),
        "score": ("score", "num"),
        "time_taken": ("time_taken_seconds", "num"),
        "submitted_at": ("submitted_at", "time"),
        "percentile": ("percentile", "num"),
        "rank": ("rank", "int"),
    },
    "posts": {
        "id": ("id", "int"),
        "tags": ("tags", "str"),
        "assessment": ("assessment", "int"),
        "author": ("author.id", "int"),
        "comments_count": ("comments_count", "int"),
        "created_at": ("created_at", "time"),
        "last_activity_at": ("last_activity_at", "time"),
    },
    "comments": {"id": ("id", "int"), "author": ("author.id", "int"), "created_at": ("created_at", "time")},
}
FILTERS["attempts"] = {
    **FILTERS["leaderboard"],
    "assessment": ("assessment", "int"),
    "status": ("status", "str"),
    "started_at": ("started_at", "time"),
}
# ordering name -> document path (nulls always last; ties by the id field ascending)
ORDERINGS: dict[str, dict[str, str]] = {
    "assessments": {"created_at": "created_at", "attempts_count": "attempts_count", "title": "title"},
    "leaderboard": {
        "rank": "rank",
        "score": "score",
        "time_taken": "time_taken_seconds",
        "percentile": "percentile",
        "submitted_at": "submitted_at",
    },
    "attempts": {
        "started_at": "started_at",
        "submitted_at": "submitted_at",
        "score": "score",
        "time_taken": "time_taken_seconds",
    },
    "posts": {"created_at": "created_at", "comments_count": "comments_count", "last_activity_at": "last_activity_at"},
    "comments": {"created_at": "created_at"},
}
DEFAULT_ORDERING = {
    "assessments": "-created_at",
    "leaderboard": "rank",
    "attempts": "-started_at",
    "posts": "-created_at",
    "comments": "created_at",
}
ID_FIELD = {"assessments": "id", "leaderboard": "attempt_id", "attempts": "attempt_id", "posts": "id", "comments": "id"}
TEXT_FIELDS = {"assessments": ("title", "description"), "posts": ("title", "body"), "comments": ("body",)}
FACETS = {
    "assessments": ("tags", "difficulty", "status", "organisation"),
    "leaderboard": ("qualified",),
    "attempts": ("status", "qualified", "assessment"),
    "posts": ("tags", "assessment"),
    "comments": (),
}


def get(doc: dict, path: str):
    for part in path.split("."):
        doc = doc.get(part) if isinstance(doc, dict) else None
    return doc


def parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)  # the index keeps milliseconds


def _value(kind: str, raw: str):
    return {"int": int, "num": float, "bool": lambda r: r == "true", "time": parse_time, "str": str}[kind](raw)


def doc_values(doc: dict, path: str, kind: str) -> list:
    value = get(doc, path)
    values = value if isinstance(value, list) else [value]
    return [parse_time(v) if kind == "time" else v for v in values if v is not None]


def matches(list_name: str, doc: dict, param: str, raw: str) -> bool:
    name, _, lookup = param.partition("__")
    path, kind = FILTERS[list_name][name]
    values = doc_values(doc, path, kind)
    if lookup == "in":
        wanted = {_value(kind, item) for item in raw.split(",")}
        return any(v in wanted for v in values)
    target = _value(kind, raw)
    compare = {
        "": lambda v: v == target,
        "gte": lambda v: v >= target,
        "lte": lambda v: v <= target,
        "gt": lambda v: v > target,
        "lt": lambda v: v < target,
    }[lookup]
    return any(compare(v) for v in values)


def tokens(text: str | None) -> set[str]:
    return set(re.findall(r"\w+", (text or "").lower()))


def text_matches(list_name: str, doc: dict, q: str) -> bool:
    words = tokens(" ".join(get(doc, f) or "" for f in TEXT_FIELDS[list_name]))
    return all(word in words for word in q.lower().split())


def visible(list_name: str, doc: dict, viewer: dict) -> bool:
    """viewer: {"user_id", "organisation_id", "staff"}."""
    if doc.get("deleted"):
        return False
    own_org = viewer["staff"] and doc.get("organisation") == viewer["organisation_id"]
    if list_name == "assessments":
        return doc["status"] == "published" or own_org
    if list_name == "leaderboard":
        return doc["status"] == "submitted" and (doc["assessment_status"] == "published" or own_org)
    if list_name == "attempts":
        return own_org or doc["candidate"]["id"] == viewer["user_id"]
    # posts; comments (of one post, which the caller checks is visible)
    return doc["organisation"] == viewer["organisation_id"]


def _sort_key(list_name: str, key: str, doc: dict):
    path = ORDERINGS[list_name][key.lstrip("-")]
    value = get(doc, path)
    return parse_time(value) if value is not None and path.endswith("_at") else value


def expected(list_name: str, docs: list[dict], viewer: dict, params: dict[str, str]) -> list[dict]:
    """The rows the API must return, in order, for these parameters."""
    rows = [d for d in docs if visible(list_name, d, viewer)]
    for param, raw in params.items():
        if param == "q":
            rows = [d for d in rows if text_matches(list_name, d, raw)]
        elif param not in ("ordering", "page_size", "facets", "cursor"):
            rows = [d for d in rows if matches(list_name, d, param, raw)]
    keys = params.get("ordering", DEFAULT_ORDERING[list_name]).split(",")
    id_field = ID_FIELD[list_name]

    def compare(a: dict, b: dict) -> int:
        for key in keys:
            va, vb = _sort_key(list_name, key, a), _sort_key(list_name, key, b)
            if va == vb:
                continue
            if va is None or vb is None:  # missing values last, whatever the direction
                return 1 if va is None else -1
            result = -1 if va < vb else 1
            return -result if key.startswith("-") else result
        return (a[id_field] > b[id_field]) - (a[id_field] < b[id_field])

    return sorted(rows, key=functools.cmp_to_key(compare))


def facet_counts(rows: list[dict], facet: str) -> dict:
    counter: Counter = Counter()
    for row in rows:
        value = get(row, facet)
        for v in value if isinstance(value, list) else [value]:
            if v is not None:
                counter[v] += 1
    return dict(counter)

"""The OpenAPI 3.0 document of the read API, generated from the list schemas of lists.py.

Nothing here is written by hand per list: parameters, their types and limits, orderings, facets
and row shapes all come from the same declarations the parser and query builder use (and the
suggestions' from suggest.py), so the document cannot drift from the behaviour.
"""

from __future__ import annotations

import functools

from search_api.filtering import (
    CONJUNCTIVE,
    DEFAULT_PAGE_SIZE,
    DISJUNCTIVE,
    IN,
    MAX_IN_VALUES,
    MAX_ORDERING_KEYS,
    MAX_PAGE_SIZE,
    MAX_Q_LENGTH,
    Filter,
    ListSchema,
)
from search_api.lists import ASSESSMENT_LIST, ATTEMPT_LIST, COMMENT_LIST, LEADERBOARD, POST_LIST
from search_api.pagination import MAX_CURSOR_LENGTH
from search_api.query_builder import COUNT_BOUND, HIGHLIGHT_FRAGMENTS, MIN_COMPLETED_CHARACTERS, PREFIX_MAX_EXPANSIONS
from search_api.suggest import ASSESSMENT_TITLES, MAX_LIMIT, MIN_PREFIX_CHARACTERS, POST_TITLES, Suggestion

ERRORS = {
    "type": "object",
    "required": ["errors"],
    "properties": {
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}}
    },
}
_ERROR_RESPONSES = {
    "400": "Unknown or malformed parameter (each one named, with the allowed ones), or a bad cursor.",
    "401": "Missing, invalid or expired credentials.",
    "405": "Method other than GET.",
    "429": "Rate limit of this token exceeded; see Retry-After.",
    "503": "Elasticsearch or Redis unreachable; retry after Retry-After seconds.",
}
_LOOKUP_TEXT = {
    "exact": "equal to",
    "in": "any of (comma-separated)",
    "gte": "at least",
    "lte": "at most",
    "gt": "greater than",
    "lt": "less than",
}


def _error_responses(errors: dict[str, str]) -> dict:
    return {
        status: {"description": description, "content": {"application/json": {"schema": ERRORS}}}
        for status, description in sorted(errors.items())
    }


# From the middleware, before any parsing or rate limit (search_api/middleware.py).
_URI_TOO_LONG = _error_responses({"414": "Request line longer than 4094 bytes."})


def _query_param(name: str, schema: dict, description: str, *, explode: bool = True) -> dict:
    param = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
    if not explode:
        param.update(style="form", explode=False)
    return param


def _array(items: dict, **limits) -> dict:
    return {"type": "array", "items": items, **limits}


def _filter_params(f: Filter) -> list[dict]:
    params = []
    for lookup in f.lookups:
        description = f"{f.description} Rows whose `{f.name}` is {_LOOKUP_TEXT[lookup]} the value."
        if lookup == IN:
            schema = _array(f.type.openapi, minItems=1, maxItems=MAX_IN_VALUES)
            params.append(_query_param(f.param_name(lookup), schema, description, explode=False))
        else:
            params.append(_query_param(f.param_name(lookup), f.type.openapi, description))
    return params


def _reserved_params(schema: ListSchema) -> list[dict]:
    params = []
    if schema.search_fields:
        fields = ", ".join(f.split("^")[0] for f in schema.search_fields)
        params.append(
            _query_param(
                "q",
                {"type": "string", "minLength": 1, "maxLength": MAX_Q_LENGTH},
                f"Full text over {fields}: every word must match, as written or by its English "
                "stem (graph finds graphs), exact words ranking first. Only when that finds too few rows "
                "(SEARCH_TYPO_THRESHOLD, default 1) do plain words tolerate typos (one edit from 5 "
                'letters, two from 8, never in the first letter nor in a word with a digit). "phrase", '
                "-word, a | b and ( ) work (then without typos), nothing else is an operator. "
                "Orders by relevance unless `ordering` is given.",
            )
        )
        params.append(
            _query_param(
                "prefix",
                {"type": "boolean", "default": False},
                "With q, for search-as-you-type: its last word also matches the start of a word as written "
                f"(gra finds graphs), when it has at least {MIN_COMPLETED_CHARACTERS} letters or digits (a "
                f"shorter one must match whole), expanding to at most {PREFIX_MAX_EXPANSIONS} words per field; "
                "never with typos; no effect after a trailing space or with operators.",
            )
        )
    keys = list(schema.orderings_by_key)
    params.append(
        _query_param(
            "ordering",
            _array({"type": "string", "enum": keys}, minItems=1, maxItems=MAX_ORDERING_KEYS, uniqueItems=True),
            f"Comma-separated keys, `-` for descending; default `{schema.default_ordering}`. Ties are broken by "
            f"`{schema.id_field}` ascending. " + "; ".join(f"`{o.key}`: {o.description}" for o in schema.orderings),
            explode=False,
        )
    )
    params.append(
        _query_param(
            "page_size",
            {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
            f"Rows per page (default {DEFAULT_PAGE_SIZE}).",
        )
    )
    params.append(
        _query_param(
            "cursor",
            {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH},
            "Opaque; copy it from `next`. Valid only with the same filters, q and ordering.",
        )
    )
    if schema.highlight_fields:
        params.append(
            _query_param(
                "highlight",
                {"type": "boolean", "default": False},
                f"With q: each row gets `highlights`, up to {HIGHLIGHT_FRAGMENTS} fragments per field of "
                f"{', '.join(schema.highlight_fields)} that q matched, HTML-escaped, matches in <em></em>.",
            )
        )
    if schema.facets:
        params.append(
            _query_param(
                "facets",
                _array({"type": "string", "enum": list(schema.facets_by_name)}, minItems=1),
                "Comma-separated fields to count values of, over the filtered rows.",
                explode=False,
            )
        )
        params.append(
            _query_param(
                "facet_mode",
                {"type": "string", "enum": [CONJUNCTIVE, DISJUNCTIVE], "default": CONJUNCTIVE},
                "With facets: `conjunctive` counts every facet over the rows returned; `disjunctive` counts "
                "each facet under every filter except those on its own field (so the other values of a "
                "filtered field keep their counts). Rows and count obey every filter either way.",
            )
        )
    return params


def _page_schema(schema: ListSchema) -> dict:
    row = {"type": "object", "required": list(schema.row), "properties": schema.row}
    if schema.highlight_fields:
        fragments = {"type": "array", "items": {"type": "string"}, "maxItems": HIGHLIGHT_FRAGMENTS}
        row["properties"] = {
            **schema.row,
            "highlights": {
                "type": "object",
                "properties": {name: fragments for name in schema.highlight_fields},
                "additionalProperties": False,
                "description": "Only with highlight=true: the fields q matched (HTML, only <em> is markup).",
            },
        }
    bucket = {
        "type": "object",
        "required": ["value", "count"],
        "properties": {"value": {}, "count": {"type": "integer"}},
    }
    return {
        "type": "object",
        "required": ["results", "count", "count_is_lower_bound", "next", "facets"],
        "properties": {
            "results": {"type": "array", "items": row},
            "count": {"type": "integer", "description": f"Matching rows; exact up to {COUNT_BOUND}."},
            "count_is_lower_bound": {
                "type": "boolean",
                "description": f"True when more than {COUNT_BOUND} rows match: count is then {COUNT_BOUND}.",
            },
            "next": {
                "type": "string",
                "nullable": True,
                "description": "URL of the next page, or null on the last one.",
            },
            "facets": {"type": "object", "additionalProperties": {"type": "array", "items": bucket}},
        },
    }


def _operation(schema: ListSchema, *, extra_params: tuple[dict, ...] = (), not_found: str | None = None) -> dict:
    responses = {
        "200": {"description": "One page of rows.", "content": {"application/json": {"schema": _page_schema(schema)}}}
    }
    responses.update(_error_responses({**_ERROR_RESPONSES, **({"404": not_found} if not_found else {})}))
    responses.update(_URI_TOO_LONG)
    return {
        "operationId": f"list_{schema.name}",
        "summary": schema.summary,
        "parameters": [
            *extra_params,
            *_reserved_params(schema),
            *(p for f in schema.filters for p in _filter_params(f)),
        ],
        "responses": responses,
    }


def _path_id(what: str) -> dict:
    return {
        "name": "id",
        "in": "path",
        "required": True,
        "description": f"{what} id.",
        "schema": {"type": "integer", "format": "int64", "minimum": 1, "maximum": 2**63 - 1},
    }


_ASSESSMENT_ID = _path_id("Assessment")
_POST_ID = _path_id("Post")


def _detail_operation(schema: ListSchema, what: str, summary: str) -> dict:
    """One row of a list by id: the list's row shape and visibility, no query parameters."""
    row = {"type": "object", "required": list(schema.row), "properties": schema.row}
    responses = {"200": {"description": f"The {what}.", "content": {"application/json": {"schema": row}}}}
    responses.update(
        _error_responses(
            {
                **_ERROR_RESPONSES,
                "400": "Any query parameter but consistency_token (this endpoint takes no other), or a bad token.",
                "404": f"No such {what}, deleted, or not visible to the caller.",
            }
        )
    )
    return {
        "operationId": f"get_{what}",
        "summary": summary,
        "parameters": [_path_id(what.capitalize())],
        "responses": responses,
    }


def _suggest_operation(spec: Suggestion) -> dict:
    """Search-as-you-type over one list's titles: no paging, no count, the list's visibility."""
    row = {"type": "object", "required": list(spec.row), "properties": spec.row}
    page = {
        "type": "object",
        "required": ["results"],
        "properties": {"results": {"type": "array", "maxItems": MAX_LIMIT, "items": row}},
    }
    responses = {
        "200": {
            "description": "Matching rows, best match first (ties by id).",
            "content": {"application/json": {"schema": page}},
        }
    }
    responses.update(
        _error_responses(
            {
                **_ERROR_RESPONSES,
                "400": f"Missing prefix, fewer than {MIN_PREFIX_CHARACTERS} letters or digits in it, longer than "
                f"{MAX_Q_LENGTH} characters, a bad limit, or an unknown parameter (each one named, with the allowed "
                "ones).",
            }
        )
    )
    responses.update(_URI_TOO_LONG)
    prefix = {
        "name": "prefix",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "minLength": MIN_PREFIX_CHARACTERS, "maxLength": MAX_Q_LENGTH},
        "description": f"What the user has typed, as typed: every word but the last must be a word of the "
        f"{spec.field}, the last the start of one (a whole word when a space or punctuation "
        f"follows it), in any position, case-insensitive. At least {MIN_PREFIX_CHARACTERS} "
        "letters or digits (one is a 400).",
    }
    limit = _query_param(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
        f"Rows returned at most (default {MAX_LIMIT}).",
    )
    return {
        "operationId": f"suggest_{spec.schema.name}",
        "summary": f"Up to {MAX_LIMIT} {spec.schema.name} whose {spec.field} matches what is typed, "
        f"for search-as-you-type; only rows GET {spec.schema.name} shows the caller.",
        "parameters": [prefix, limit],
        "responses": responses,
    }


_CONSISTENCY_WHAT = (
    "A write's consistency token (its response's Consistency-Token header): the answer waits, up to the "
    "deployment's bound (CONSISTENCY_WAIT_SECONDS, 5 s by default), until the indexes reflect that write, "
    "its counters and fan-outs included, and says so in Consistency-Status. A malformed token, or one not "
    "issued to the caller's organisation, is a 400 naming it."
)
_CONSISTENCY_PARAMS = (
    {
        "name": "Consistency-Token",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": _CONSISTENCY_WHAT,
    },
    {
        "name": "consistency_token",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "The same as the Consistency-Token header, for links; send one or the other.",
    },
)
_CONSISTENCY_STATUS = {
    "Consistency-Status": {
        "description": "Only with a consistency token: `reflected` when the answer includes the write, "
        "`pending` when the bound passed first (the answer is what the indexes had then).",
        "schema": {"type": "string", "enum": ["reflected", "pending"]},
    }
}


def _with_consistency(operation: dict) -> dict:
    """Every read accepts a consistency token, and its answers (errors after the wait too) say the status."""
    operation["parameters"] = [*operation["parameters"], *_CONSISTENCY_PARAMS]
    for code, response in operation["responses"].items():
        if code in ("200", "404"):
            response["headers"] = {**response.get("headers", {}), **_CONSISTENCY_STATUS}
    return operation


@functools.cache
def document() -> dict:
    spec = _document()
    for path in spec["paths"].values():
        _with_consistency(path["get"])
    return spec


def _document() -> dict:
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Assessment platform read API",
            "version": "1.0.0",
            "description": (
                "Filtered, sorted, cursor-paginated lists served from Elasticsearch. Parameters follow "
                "django-filter conventions (field=, field__in=a,b, __gte/__lte/__gt/__lt). Counts are exact up "
                f"to {COUNT_BOUND} rows, then a lower bound flagged by count_is_lower_bound. Date-times are "
                "ISO 8601 (UTC when no offset), compared with millisecond precision."
            ),
        },
        "components": {
            "securitySchemes": {
                "token": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Token <token>`, from POST /api/v1/auth/token on the write API.",
                },
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "sessionid",
                    "description": "The write API's session (POST /api/v1/auth/login).",
                },
            },
        },
        "security": [{"token": []}, {"session": []}],
        "paths": {
            "/search/v1/assessments": {"get": _operation(ASSESSMENT_LIST)},
            "/search/v1/assessments/suggest": {"get": _suggest_operation(ASSESSMENT_TITLES)},
            "/search/v1/assessments/{id}": {
                "get": _detail_operation(
                    ASSESSMENT_LIST, "assessment", "One assessment, as the assessments list shows it."
                )
            },
            "/search/v1/assessments/{id}/leaderboard": {
                "get": _operation(
                    LEADERBOARD,
                    extra_params=(_ASSESSMENT_ID,),
                    not_found="No such assessment, or its leaderboard is not visible to the caller.",
                )
            },
            "/search/v1/attempts": {"get": _operation(ATTEMPT_LIST)},
            "/search/v1/attempts/{id}": {
                "get": _detail_operation(
                    ATTEMPT_LIST,
                    "attempt",
                    "One attempt's report: score, time taken, rank, percentile and qualified "
                    "(the candidate's own, or their organisation's for its staff).",
                )
            },
            "/search/v1/posts": {"get": _operation(POST_LIST)},
            "/search/v1/posts/suggest": {"get": _suggest_operation(POST_TITLES)},
            "/search/v1/posts/{id}/comments": {
                "get": _operation(
                    COMMENT_LIST,
                    extra_params=(_POST_ID,),
                    not_found="No such post, deleted, or not of the caller's organisation.",
                )
            },
        },
    }

"""HTTP views of the read API: authenticate, rate-limit, parse, call the selector, render.

Thin on purpose: what a list accepts and returns is declared in lists.py, how it is searched in
query_builder.py and selectors.py; title suggestions likewise in suggest.py.
"""

from __future__ import annotations

import functools

from search_api import admission, auth, consistency, lists, openapi, pagination, selectors, suggest
from search_api.errors import ApiError, BadRequest, MethodNotAllowed
from search_api.filtering import ListSchema, ParamErrors, parse_params
from search_api.responses import json_response
from shared.consistency import STATUS_HEADER as CONSISTENCY_STATUS_HEADER


def _get_only(request) -> None:
    if request.method != "GET":
        raise MethodNotAllowed(("GET",))


def search_endpoint(view):
    """GET only, authenticated (401), rate-limited per credential (429); passes the principal.
    A read carrying a consistency token first waits for its write (search_api/consistency.py)."""

    @functools.wraps(view)
    def wrapper(request, **kwargs):
        _get_only(request)
        principal, limit = admission.admit(request)
        headers = limit.headers()
        try:
            if (status := consistency.consistency_status(request, principal)) is not None:
                headers[CONSISTENCY_STATUS_HEADER] = status  # a 404 after a deletion says it too
            response = view(request, principal, **kwargs)
        except ApiError as exc:  # a 400 still tells the client how much budget is left
            exc.headers.update(headers)
            raise
        for name, value in headers.items():
            response[name] = value
        return response

    return wrapper


def _list_response(request, schema: ListSchema, principal: auth.Principal, scope: selectors.Scope | None = None):
    try:
        query = parse_params(schema, request.GET.lists())
    except ParamErrors as exc:
        raise BadRequest(exc.errors) from None
    page = selectors.list_search(schema, query, principal, scope=scope)
    return json_response(
        {
            "results": page.results,
            "count": page.count,
            "count_is_lower_bound": page.count_is_lower_bound,
            "next": pagination.next_url(request, page.next_cursor) if page.next_cursor else None,
            "facets": page.facets or {},
        }
    )


def _detail_response(request, schema: ListSchema, principal: auth.Principal, row_id: int):
    if request.GET:  # one row has nothing to filter, sort or page
        raise BadRequest({name: ["Unknown parameter: this endpoint takes none."] for name in request.GET})
    return json_response(selectors.detail(schema, principal, row_id))


def _suggest_response(request, spec: suggest.Suggestion, principal: auth.Principal):
    try:
        query = suggest.parse_params(request.GET.lists())
    except ParamErrors as exc:
        raise BadRequest(exc.errors) from None
    return json_response({"results": selectors.suggestions(spec, query, principal)})


@search_endpoint
def assessment_list(request, principal):
    return _list_response(request, lists.ASSESSMENT_LIST, principal)


@search_endpoint
def assessment_suggest(request, principal):
    return _suggest_response(request, suggest.ASSESSMENT_TITLES, principal)


@search_endpoint
def assessment_detail(request, principal, assessment_id: int):
    return _detail_response(request, lists.ASSESSMENT_LIST, principal, assessment_id)


@search_endpoint
def attempt_detail(request, principal, attempt_id: int):
    """One attempt's report with its rank, percentile and qualified: the candidate's own, or any of
    their organisation's for its staff (the attempts list's visibility)."""
    return _detail_response(request, lists.ATTEMPT_LIST, principal, attempt_id)


@search_endpoint
def leaderboard(request, principal, assessment_id: int):
    return _list_response(
        request, lists.LEADERBOARD, principal, scope=selectors.leaderboard_scope(assessment_id, principal)
    )


@search_endpoint
def attempt_list(request, principal):
    return _list_response(request, lists.ATTEMPT_LIST, principal)


@search_endpoint
def post_list(request, principal):
    return _list_response(request, lists.POST_LIST, principal)


@search_endpoint
def post_comments(request, principal, post_id: int):
    return _list_response(request, lists.COMMENT_LIST, principal, scope=selectors.comments_scope(post_id, principal))


@search_endpoint
def post_suggest(request, principal):
    return _suggest_response(request, suggest.POST_TITLES, principal)


def schema(request):
    """The OpenAPI document, public: it describes the API, not its data."""
    _get_only(request)
    return json_response(openapi.document())

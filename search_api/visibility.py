"""Who sees what: one filter clause per list, built from the authenticated principal only.

Rules (docs/SEARCH_API.md): anyone authenticated sees published assessments and the
leaderboards of published assessments; organisation staff see everything of their organisation;
a candidate sees their own attempts; posts are visible to members of the post's organisation, and
so are their comments while the post is visible (selectors.comments_scope checks the post).
Parameters can only narrow these sets, never widen them.
"""

from __future__ import annotations

from search_api.auth import Principal

MATCH_NONE = {"match_none": {}}
MATCH_ALL = {"match_all": {}}
PUBLISHED = "published"


def _any_of(*clauses: dict | None) -> dict:
    should = [c for c in clauses if c is not None]
    return {"bool": {"should": should, "minimum_should_match": 1}} if should else MATCH_NONE


def _own_organisation(principal: Principal) -> dict | None:
    return {"term": {"organisation": principal.organisation_id}} if principal.is_org_staff else None


def assessments(principal: Principal) -> dict:
    return _any_of({"term": {"status": PUBLISHED}}, _own_organisation(principal))


def leaderboard_rows(principal: Principal) -> dict:
    # A leaderboard is visible exactly when its assessment is: selectors.leaderboard_scope checks
    # that in the same msearch, so the rows need no filter of their own.
    return MATCH_ALL


def attempts(principal: Principal) -> dict:
    return _any_of({"term": {"candidate.id": principal.user_id}}, _own_organisation(principal))


def posts(principal: Principal) -> dict:
    if principal.organisation_id is None:
        return MATCH_NONE
    return {"term": {"organisation": principal.organisation_id}}


def comments(principal: Principal) -> dict:
    # The post's rule on the comment's own copy of the post's organisation: a comment never shows
    # outside it, even if the post check were bypassed.
    return posts(principal)

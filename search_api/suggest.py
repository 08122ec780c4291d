"""Title suggestions for search-as-you-type (issue 17): `GET assessments/suggest`, `GET posts/suggest`.

One `Suggestion` per list, declared from that list's schema: its index, id field and visibility
are the list's, so a suggestion never shows a title the list would hide. Pure (parsing and the
search body); selectors.suggestions runs the search.

The query is `match_bool_prefix` with operator `and` on the title's `exact` subfield (the words
as written, lower-cased and accent-folded: shared/indexes.py), not on the stemmed title, whose
terms (`graph` for `graphs`) would not start with what the user typed: the prefix is analysed
the same way, then every word but the last must be a word of the title and the last a prefix of
one (unless a space or punctuation ends it), in any position. Its `max_expansions` applies to
fuzzy terms only, never to that final prefix query, so the cost is bounded here instead: at least
MIN_PREFIX_CHARACTERS letters or digits (one would expand to every word with that initial), q's
limits on length, at most MAX_LIMIT rows and no total count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from search_api.filtering import Integer, InvalidValue, ListSchema, ParamErrors, parse_q, single_values
from search_api.lists import ASSESSMENT_LIST, POST_LIST
from search_api.query_builder import EXACT_SUBFIELD, NOT_DELETED

MIN_PREFIX_CHARACTERS = 2  # letters or digits
MAX_LIMIT = 10
PARAMS = ("prefix", "limit")


@dataclass(frozen=True)
class Suggestion:
    schema: ListSchema  # the list whose rows are suggested: index, id field, visibility, row types
    field: str = "title"  # a text field of the list's index, with an exact subfield

    @property
    def search_field(self) -> str:
        return f"{self.field}.{EXACT_SUBFIELD}"

    @property
    def row(self) -> dict[str, dict]:
        """Returned field -> JSON schema, as the list declares it: the id and the suggested field."""
        return {name: self.schema.row[name] for name in (self.schema.id_field, self.field)}


ASSESSMENT_TITLES = Suggestion(ASSESSMENT_LIST)
POST_TITLES = Suggestion(POST_LIST)
ALL_SUGGESTIONS = (ASSESSMENT_TITLES, POST_TITLES)


@dataclass(frozen=True)
class SuggestQuery:
    prefix: str
    limit: int = MAX_LIMIT


def parse_prefix(raw: str) -> str:
    """Kept as typed, not trimmed: Elasticsearch completes a last word that a space or punctuation
    follows (`graph ` is the word graph, not graphql), as a user who typed that space means."""
    if sum(c.isalnum() for c in parse_q(raw)) < MIN_PREFIX_CHARACTERS:
        raise InvalidValue(f"Must contain at least {MIN_PREFIX_CHARACTERS} letters or digits.")
    return raw


def parse_params(params: Iterable[tuple[str, list[str]]]) -> SuggestQuery:
    """Validates both parameters at once, like the lists; raises ParamErrors naming each bad one."""
    values, errors = single_values(params, PARAMS, repeated="Given more than once; use one value.")
    parsed = {}
    for name, parse in (("prefix", parse_prefix), ("limit", Integer(1, MAX_LIMIT).parse)):
        if name in values:
            try:
                parsed[name] = parse(values[name])
            except InvalidValue as exc:
                errors[name] = [str(exc)]
    if "prefix" not in values and "prefix" not in errors:
        errors["prefix"] = ["Required."]
    if errors:
        raise ParamErrors(errors)
    return SuggestQuery(**parsed)


def build_search(spec: Suggestion, query: SuggestQuery, *, visibility: dict) -> dict:
    """One search: the list's tombstone and visibility filters, the prefix scored, best first."""
    match = {"match_bool_prefix": {spec.search_field: {"query": query.prefix, "operator": "and"}}}
    return {
        "query": {"bool": {"must": [match], "filter": [NOT_DELETED, visibility, *spec.schema.base_filters]}},
        # A prefix alone scores the same everywhere: ties by id keep the answer stable.
        "sort": [{"_score": {"order": "desc"}}, {spec.schema.id_field: {"order": "asc"}}],
        "size": query.limit,
        "_source": list(spec.row),
        "track_total_hits": False,
    }

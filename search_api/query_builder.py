"""Turns a list schema and parsed parameters into one Elasticsearch search body.

- Every non-scoring clause (tombstones, visibility, scope, filters) goes in filter context:
  cached by Elasticsearch and never scored. Only `q` is scored.
- User text reaches Elasticsearch only as `multi_match` queries (one per word) or, when it uses
  an operator, a `simple_query_string` restricted to safe operators (no user-controlled fuzzy,
  slop, near or prefix expansion), never `query_string` or a script.
- `q` matches stems (title `graphs` for `graph`: the fields' English analysis, shared/indexes.py)
  and the words as written (the `exact` subfields, boosted, so an exact word ranks first). Its
  typo-tolerant form (`typos=True`; selectors.py uses it only when the exact form finds too few
  rows) lets plain words differ by one edit from 5 letters, two from 8 (`AUTO:5,8`), never in the
  first letter nor in a word with a digit (codes, versions), in the first MAX_FUZZY_WORDS words,
  each expanding to at most MAX_EXPANSIONS terms per field, so the cost of any q within its 200
  characters is bounded. A query with operators is matched without typos.
- Facets count the rows' values. With `facet_mode=disjunctive`, the conditions on a requested
  facet's field move to `post_filter` (rows and count still obey them) and each facet counts in a
  `filter` aggregation holding the others, so it ignores only its own field's conditions.
- Synonyms (shared/synonyms.py, given by the caller) widen a whole plain word of q to phrases of
  its synonyms, in both forms; never an operator query or a word being completed.
- `_source` is limited to the row's fields; sorting always ends with the list's unique id, so
  `search_after` never skips or repeats rows that share sort values.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from search_api.filtering import DISJUNCTIVE, EXACT, IN, Condition, ListQuery, ListSchema
from shared.synonyms import normalise

COUNT_BOUND = 10_000  # counts are exact up to this many rows; beyond, a lower bound (flagged)
NOT_DELETED = {"term": {"deleted": False}}
FACET_VALUES = "values"  # a disjunctive facet's counts, under its filter aggregation
# + - | " ( ) and whitespace; everything else in q is matched as plain words.
SAFE_QUERY_FLAGS = "AND|OR|NOT|PHRASE|PRECEDENCE|WHITESPACE"
OPERATOR_CHARACTERS = frozenset('+|"()')
EXACT_SUBFIELD, EXACT_BOOST = "exact", 2.0  # a word as written counts twice its stem
FUZZINESS = "AUTO:5,8"
PREFIX_LENGTH = 1  # a typo in the first letter is not tolerated: that bounds the terms visited
MAX_EXPANSIONS = 10  # terms one fuzzy word may become, per field
MAX_FUZZY_WORDS = 5  # words of q that may carry typos; later ones must match as written or stemmed
MIN_TYPO_LENGTH = 5  # AUTO:5,8 allows no edit in a shorter word
MIN_COMPLETED_CHARACTERS = 3  # letters or digits of a last word that completes; shorter ones match whole
PREFIX_MAX_EXPANSIONS = 50  # words one completed prefix may become, per field
SYNONYM_BOOST = 0.8  # a synonym's match counts a little less than the word typed
MAX_SYNONYM_WORDS = 10  # words of q widened by their synonyms (each to at most 10 terms)
EMPTY_SYNONYMS: Mapping[str, tuple[str, ...]] = MappingProxyType({})
TIE_BREAKER = 0.3  # a word matching stemmed and exact adds part of the weaker field's score
HIGHLIGHT_FRAGMENT_SIZE = 150  # characters
HIGHLIGHT_FRAGMENTS = 3  # per field
HIGHLIGHT_MAX_ANALYZED = 100_000  # characters of a field re-analysed for highlighting, at most


def filter_clause(c: Condition) -> dict:
    to_es = c.filter.type.to_es
    if c.lookup == EXACT:
        return {"term": {c.filter.field: to_es(c.value)}}
    if c.lookup == IN:
        return {"terms": {c.filter.field: [to_es(v) for v in c.value]}}
    # One range per bound, never merged: {"gt": a, "gte": b} in one range keeps only one of them.
    return {"range": {c.filter.field: {c.lookup: to_es(c.value)}}}


def widens_with_typos(query: ListQuery) -> bool:
    """Whether q's typo-tolerant form could find more than its exact form."""
    if not query.q:
        return False
    return bool(typo_words(query.q, prefix=query.prefix and prefix_word(query.q) is not None))


def weighted_fields(schema: ListSchema) -> list[str]:
    """Each search field stemmed, as declared (`title^2`), and its exact subfield, boosted."""
    fields = []
    for declared in schema.search_fields:
        name, _, boost = declared.partition("^")
        fields += [declared, f"{name}.{EXACT_SUBFIELD}^{float(boost or 1) * EXACT_BOOST:g}"]
    return fields


def has_operator(q: str) -> bool:
    """Whether simple_query_string would read q other than as plain words (`-` negates only at
    the start of a word: `e-mail` is two plain words)."""
    return any(c in OPERATOR_CHARACTERS for c in q) or any(word.startswith("-") for word in q.split())


def typo_words(q: str, *, prefix: bool = False) -> list[str]:
    """The words of q that its typo-tolerant form matches with typos: empty when that form would
    find exactly what the exact form finds (operators, or only short words and words with digits).
    A last word being completed (prefix) is still being typed: never with typos."""
    if has_operator(q):
        return []
    return [word for word in _words(q, prefix=prefix)[:MAX_FUZZY_WORDS] if _may_have_typos(word)]


def _words(q: str, *, prefix: bool = False) -> list[str]:
    """q's whole words (without the last one when it is completed as a prefix), each once: a
    repeated word adds no match, only cost."""
    words = q.split()
    return list(dict.fromkeys(words[:-1] if prefix else words))


def prefix_word(q: str) -> str | None:
    """The last word of q, completed as a prefix when it has at least MIN_COMPLETED_CHARACTERS letters
    or digits (a shorter one would expand to most of the dictionary): None when it cannot be."""
    last = q.split()[-1]
    return last if not has_operator(q) and sum(c.isalnum() for c in last) >= MIN_COMPLETED_CHARACTERS else None


def _may_have_typos(word: str) -> bool:
    # AUTO:5,8 allows no edit below 5 characters: leaving fuzziness out there changes nothing. A
    # digit marks a code or a version (`zq5e4d97a1`, `v2`), where an edit is another thing.
    return len(word) >= MIN_TYPO_LENGTH and not any(c.isdigit() for c in word)


def text_query(
    schema: ListSchema,
    q: str,
    *,
    typos: bool = False,
    prefix: bool = False,
    synonyms: Mapping[str, tuple[str, ...]] = EMPTY_SYNONYMS,
) -> dict:
    """prefix: the last word may also be the start of a word as written (prefix_word); synonyms: a
    whole word (normalised) -> the terms it also finds (shared/synonyms.py)."""
    fields = weighted_fields(schema)
    if has_operator(q):
        return {
            "simple_query_string": {
                "query": q,
                "fields": fields,
                "default_operator": "and",
                "flags": SAFE_QUERY_FLAGS,
                "lenient": True,
            }
        }
    # Every word must match, in any field (like default_operator and), as written or stemmed; with
    # typos, typo_words also within their edits, in both forms (the stem of a misspelt word is no
    # stem: `asessmnet` is two edits from `assessment`, not from its stem `assess`).
    completed = prefix_word(q) if prefix else None
    fuzzy = set(typo_words(q, prefix=completed is not None)) if typos else set()
    must = [
        _with_synonyms(
            _word_query(word, fields, fuzzy=word in fuzzy),
            synonyms.get(normalise(word), ()) if position < MAX_SYNONYM_WORDS else (),
            fields,
        )
        for position, word in enumerate(_words(q, prefix=completed is not None))
    ]
    if completed is not None:
        must.append(_prefix_query(completed, schema, fields))
    return {"bool": {"must": must}}


def _with_synonyms(word_query: dict, terms: tuple[str, ...], fields: list[str]) -> dict:
    # The word as typed (typos included when widened), or any of its synonyms: each a phrase of its
    # words in the same fields, stems included, never with typos, scored a little below the word.
    if not terms:
        return word_query
    alternatives = [
        {
            "multi_match": {
                "query": term,
                "fields": fields,
                "type": "phrase",
                "boost": SYNONYM_BOOST,
                "lenient": True,
            }
        }
        for term in terms
    ]
    return {"bool": {"should": [word_query, *alternatives], "minimum_should_match": 1}}


def _prefix_query(word: str, schema: ListSchema, fields: list[str]) -> dict:
    # The whole word as usual (stems included: `running` still finds "runs"), or the start of a
    # word as written: phrase_prefix on the exact subfields, whose last term expands to at most
    # PREFIX_MAX_EXPANSIONS terms per field (match_bool_prefix would not bound it).
    exact_fields = [f for f in fields if f.split("^")[0].endswith(f".{EXACT_SUBFIELD}")]
    completion = {
        "multi_match": {
            "query": word,
            "fields": exact_fields,
            "type": "phrase_prefix",
            "max_expansions": PREFIX_MAX_EXPANSIONS,
            "lenient": True,
        }
    }
    return {"bool": {"should": [_word_query(word, fields, fuzzy=False), completion], "minimum_should_match": 1}}


def _word_query(word: str, fields: list[str], *, fuzzy: bool) -> dict:
    # A fuzzy word costs a Levenshtein automaton per field (milliseconds for two edits), hence
    # the cap on fuzzy words; fuzzy terms score below exact ones, so exact matches still lead.
    typos = {"fuzziness": FUZZINESS, "prefix_length": PREFIX_LENGTH, "max_expansions": MAX_EXPANSIONS} if fuzzy else {}
    return {
        "multi_match": {
            "query": word,
            "fields": fields,
            "type": "best_fields",
            "operator": "and",
            "tie_breaker": TIE_BREAKER,
            "lenient": True,
            **typos,
        }
    }


def highlight_clause(schema: ListSchema, *, highlight_query: dict | None = None) -> dict:
    """Fragments of each highlight field that q matched (highlight_query: what to mark, when not
    the scoring query). `encoder: html` escapes the field's own text, so the only markup left is
    our <em> marks."""
    return {
        **({"highlight_query": highlight_query} if highlight_query else {}),
        "encoder": "html",
        "pre_tags": ["<em>"],
        "post_tags": ["</em>"],
        "type": "unified",
        "require_field_match": False,  # q queries the exact subfields too: mark their words here
        "fragment_size": HIGHLIGHT_FRAGMENT_SIZE,
        "number_of_fragments": HIGHLIGHT_FRAGMENTS,
        "max_analyzed_offset": HIGHLIGHT_MAX_ANALYZED,
        "fields": {name: {} for name in schema.highlight_fields},
    }


def row_highlights(schema: ListSchema, hit: dict) -> dict[str, list[str]]:
    """A hit's fragments per highlight field that matched (fields without a match are left out)."""
    found = hit.get("highlight", {})
    return {name: found[name] for name in schema.highlight_fields if name in found}


def sort_clauses(schema: ListSchema, query: ListQuery) -> list[dict]:
    sort: list[dict] = []
    seen: set[str] = set()
    for ordering in query.ordering:
        for field, order in ordering.sort:
            if field in seen:  # e.g. rank,score: score already sorts; a repeat would change nothing
                continue
            seen.add(field)
            sort.append(
                {field: {"order": order}} if field == "_score" else {field: {"order": order, "missing": "_last"}}
            )
    sort.append({schema.id_field: {"order": "asc"}})
    return sort


def facet_conditions(query: ListQuery) -> tuple[Condition, ...]:
    """Conditions that disjunctive facets count without: those on the field of a requested facet.
    They filter the rows through post_filter; every other clause stays in the query, so
    aggregations always see it (isolation and visibility above all)."""
    if query.facet_mode != DISJUNCTIVE:
        return ()
    fields = {f.field for f in query.facets}
    return tuple(c for c in query.conditions if c.filter.field in fields)


def base_filters(
    schema: ListSchema, query: ListQuery, *, visibility: dict, scope_filters: tuple[dict, ...] = ()
) -> list[dict]:
    """The query's filter clauses but those of derived metrics (derived_metrics.py builds those)
    and the post-filtered ones of disjunctive facets."""
    post = facet_conditions(query)
    plain = (c for c in query.conditions if not c.filter.derived and c not in post)
    return [NOT_DELETED, visibility, *schema.base_filters, *scope_filters, *map(filter_clause, plain)]


def _facet_aggs(query: ListQuery, derived_aggs: dict, derived_clauses: dict[Condition, dict]) -> tuple[dict, dict]:
    """The facets' aggregations and the post_filter (empty unless disjunctive): each facet counts
    under every post-filtered condition but those on its own field."""
    aggs = {f.name: {"terms": {"field": f.field, "size": f.size}} for f in query.facets if not f.derived}
    aggs.update(derived_aggs)
    post = facet_conditions(query)
    if not post:
        return aggs, {}

    def clause(c: Condition) -> dict:
        return derived_clauses[c] if c.filter.derived else filter_clause(c)

    wrapped = {
        f.name: {
            "filter": {"bool": {"filter": [clause(c) for c in post if c.filter.field != f.field]}},
            "aggs": {FACET_VALUES: aggs[f.name]},
        }
        for f in query.facets
    }
    return wrapped, {"bool": {"filter": [clause(c) for c in post]}}


def build_search(
    schema: ListSchema,
    query: ListQuery,
    *,
    visibility: dict,
    scope_filters: tuple[dict, ...] = (),
    search_after: list | None = None,
    metric_filter: dict | None = None,
    metric_aggs: dict | None = None,
    metric_facet_clauses: dict[Condition, dict] | None = None,
    source: tuple[str, ...] = (),
    typos: bool = False,
    synonyms: Mapping[str, tuple[str, ...]] = EMPTY_SYNONYMS,
) -> dict:
    """metric_filter: the derived conditions in the query; metric_facet_clauses: one clause per
    derived condition that a disjunctive facet counts without (facet_conditions)."""
    filters = base_filters(schema, query, visibility=visibility, scope_filters=scope_filters)
    bool_query: dict = {"filter": [*filters, *((metric_filter,) if metric_filter else ())]}
    exact_text = text_query(schema, query.q, prefix=query.prefix, synonyms=synonyms) if query.q else None
    if query.q and widens_with_typos(query):
        # Scored by the typo-tolerant form either way (near words still rank, as they did before
        # the exact-first rule); without typos, the exact form decides which rows match.
        bool_query["must"] = [text_query(schema, query.q, typos=True, prefix=query.prefix, synonyms=synonyms)]
        if not typos:
            bool_query["filter"].append(exact_text)
    elif exact_text:
        bool_query["must"] = [exact_text]
    body: dict = {
        "query": {"bool": bool_query},
        "sort": sort_clauses(schema, query),
        "size": query.page_size + 1,  # one extra row tells whether a next page exists
        "_source": list(dict.fromkeys((*schema.row, *source))),
        "track_total_hits": COUNT_BOUND,
    }
    if search_after is not None:
        body["search_after"] = search_after
    if query.highlight:
        # Marks what made the row match: the exact form's words, or also their typos when widened.
        body["highlight"] = highlight_clause(schema, highlight_query=None if typos else exact_text)
    aggs, post_filter = _facet_aggs(query, metric_aggs or {}, metric_facet_clauses or {})
    if aggs:
        body["aggs"] = aggs
    if post_filter:
        body["post_filter"] = post_filter
    return body


def exists_query(*, visibility: dict, filters: tuple[dict, ...]) -> dict:
    """A cheap "is this row there and visible?" search (stops at the first match)."""
    return {
        "size": 0,
        "terminate_after": 1,
        "track_total_hits": True,
        "query": {"bool": {"filter": [NOT_DELETED, visibility, *filters]}},
    }

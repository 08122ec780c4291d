"""A brute-force model of what `q` matches, for the oracle tests of the typo, digit and prefix rules.

Terms come from the index's own analyzers (`_analyze` on the live index: the analysis is
configuration, not the code under test); which document matches which word is decided here, in
Python: every word of q must match in one field (all its terms there), exactly, within its edits
(optimal string alignment distance, AUTO:5,8, first letter fixed) when it may carry typos, or as a
prefix of a word as written when it is the last word of a prefix query. Also: seeding posts for
one example and checking a request against the model (rows over every page, count, facet).
"""

from __future__ import annotations

import functools
import random
import string
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, settings

from read_indexer.projection.documents import project_and_index
from shared.es_client import get_es_client
from tests.helpers import make_tenant
from tests.search_api.conftest import fresh_token, refresh_indexes, unique_word
from write_service.discussions.services import post_create

# Each example seeds its own corpus through the real pipeline: few examples, no deadline.
EXAMPLES = settings(
    max_examples=20,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def staff_with_token() -> dict:
    """A new organisation's staff user and a search token of its own (rate limits count per token)."""
    tenant = make_tenant(candidates=0)
    return {"staff": tenant.staff, "token": fresh_token(tenant.staff)}


STEMMED, EXACT = "english_text", "folded_text"
MAX_TYPO_WORDS = 5  # the first five distinct words of q may carry typos
MIN_COMPLETED = 3  # letters or digits a last word needs to complete as a prefix
MAX_SYNONYM_WORDS = 10  # the first ten distinct whole words of q are widened by their synonyms
POSTS_PATH = "/search/v1/posts"
OPERATORS = set('+|"()')


@functools.lru_cache(maxsize=20_000)
def terms(alias: str, analyzer: str, text: str) -> tuple[str, ...]:
    response = get_es_client().indices.analyze(index=alias, analyzer=analyzer, text=text)
    return tuple(t["token"] for t in response.body["tokens"])


def osa_distance(a: str, b: str) -> int:
    """Levenshtein with adjacent transpositions counted as one edit (Lucene's automata)."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]


def allowed_edits(term: str) -> int:
    return 0 if len(term) < 5 else 1 if len(term) < 8 else 2


def within_typos(query_term: str, term: str) -> bool:
    return query_term[:1] == term[:1] and osa_distance(query_term, term) <= allowed_edits(query_term)


def has_operators(q: str) -> bool:
    return any(c in OPERATORS for c in q) or any(w.startswith("-") for w in q.split())


def split(q: str, *, prefix: bool) -> tuple[list[str], str | None]:
    """q's whole words, each once, and the last word when it completes (3 letters or digits at least)."""
    words = q.split()
    last = words[-1]
    if prefix and not has_operators(q) and sum(c.isalnum() for c in last) >= MIN_COMPLETED:
        return list(dict.fromkeys(words[:-1])), last
    return list(dict.fromkeys(words)), None


def may_have_typos(q: str, *, prefix: bool = False) -> list[str]:
    """The rule as the issue states it, written again here: no typos with operators, none in a word
    with a digit nor in a word being completed, only in the first five distinct whole words."""
    if has_operators(q):
        return []
    words, _ = split(q, prefix=prefix)
    return [w for w in words[:MAX_TYPO_WORDS] if not any(c.isdigit() for c in w)]


@dataclass(frozen=True)
class Doc:
    id: int
    fields: dict[str, str]  # search field -> its text
    tags: tuple[str, ...] = ()


def word_matches(alias: str, doc: Doc, word: str, *, typos: bool) -> bool:
    for text in doc.fields.values():
        for analyzer in (STEMMED, EXACT):
            wanted, present = terms(alias, analyzer, word), terms(alias, analyzer, text)
            if wanted and all(t in present or (typos and any(within_typos(t, p) for p in present)) for t in wanted):
                return True
    return False


def completes(alias: str, doc: Doc, word: str) -> bool:
    """The word as usual, or its terms as written, the last one a prefix, as consecutive words."""
    if word_matches(alias, doc, word, typos=False):
        return True
    wanted = terms(alias, EXACT, word)
    n = len(wanted)
    for text in doc.fields.values():
        present = terms(alias, EXACT, text)
        if wanted and any(
            list(present[i : i + n - 1]) == list(wanted[:-1]) and present[i + n - 1].startswith(wanted[-1])
            for i in range(len(present) - n + 1)
        ):
            return True
    return False


def phrase_matches(alias: str, doc: Doc, term: str) -> bool:
    """The term's words consecutive, in order, in one field (stemmed or as written)."""
    for text in doc.fields.values():
        for analyzer in (STEMMED, EXACT):
            wanted, present = terms(alias, analyzer, term), terms(alias, analyzer, text)
            n = len(wanted)
            if wanted and any(present[i : i + n] == wanted for i in range(len(present) - n + 1)):
                return True
    return False


def matching(
    alias: str, docs: list[Doc], q: str, *, typos: bool, prefix: bool = False, synonyms: dict | None = None
) -> set[int]:
    """synonyms: a lower-cased whole word of q -> the terms it also finds (as phrases, no typos)."""
    words, completed = split(q, prefix=prefix)
    fuzzy = set(may_have_typos(q, prefix=prefix)) if typos else set()
    widened = set(words[:MAX_SYNONYM_WORDS]) if synonyms and not has_operators(q) else set()

    def whole(d: Doc, w: str) -> bool:
        return word_matches(alias, d, w, typos=w in fuzzy) or any(
            phrase_matches(alias, d, t) for t in (synonyms.get(w.lower(), ()) if w in widened else ())
        )

    return {
        d.id for d in docs if all(whole(d, w) for w in words) and (completed is None or completes(alias, d, completed))
    }


def exact_first(
    alias: str, docs: list[Doc], q: str, threshold: int, *, prefix: bool = False, synonyms: dict | None = None
) -> set[int]:
    exact = matching(alias, docs, q, typos=False, prefix=prefix, synonyms=synonyms)
    if len(exact) >= threshold:
        return exact
    return matching(alias, docs, q, typos=True, prefix=prefix, synonyms=synonyms)


def seed_posts(staff, posts: list[tuple[str, str, tuple[str, ...]]]) -> tuple[str, list[Doc]]:
    """Posts of one example (title, body, extra tags), searchable, under a tag of their own."""
    tag = unique_word()
    docs = []
    for title, body, tags in posts:
        post = post_create(actor=staff, title=title, body=body, tags=[tag, *tags])
        docs.append(Doc(post.pk, {"title": title, "body": body}, (tag, *tags)))
    project_and_index("posts", [d.id for d in docs])
    refresh_indexes()
    return tag, docs


def check_posts(search, token: str, tag: str, docs: list[Doc], q: str, expected: set[int], **params) -> None:
    """Every page of the posts with this tag and q: the expected rows, each once, the count, and
    the tag facet counted over them."""
    query = {"q": q, "tags": tag, "facets": "tags", "page_size": "3", **params}
    pages = list(search.walk(POSTS_PATH, token, query))
    ids = [row["id"] for page in pages for row in page["results"]]
    context = f"q={q!r} params={params} docs={[(d.id, d.fields) for d in docs]}"
    assert len(ids) == len(set(ids)) and set(ids) == expected, context
    assert {page["count"] for page in pages} == {len(expected)}, context
    by_id = {d.id: d for d in docs}
    counts = Counter(t for i in expected for t in by_id[i].tags)
    assert {b["value"]: b["count"] for b in pages[0]["facets"]["tags"]} == dict(counts), context


def random_word(rng: random.Random, length: int, *, digits: bool = False) -> str:
    """Random letters (a digit somewhere when asked): unrelated to any other test's words."""
    alphabet = string.ascii_lowercase + (string.digits if digits else "")
    word = [rng.choice(string.ascii_lowercase)] + [rng.choice(alphabet) for _ in range(length - 1)]
    if digits:
        word[rng.randrange(1, length)] = rng.choice(string.digits)
    return "".join(word)


def mutate(rng: random.Random, word: str, edits: int) -> str:
    """`edits` random edits after the first letter (substitution, insertion, deletion, swap)."""
    letters = list(word)
    for _ in range(edits):
        kind = rng.choice(("sub", "ins", "del", "swap"))
        i = rng.randrange(1, len(letters)) if len(letters) > 1 else 1
        if kind == "sub":
            letters[i] = rng.choice(string.ascii_lowercase.replace(letters[i], ""))
        elif kind == "ins":
            letters.insert(i, rng.choice(string.ascii_lowercase))
        elif kind == "del" and len(letters) > 2:
            del letters[i]
        elif i + 1 < len(letters):
            letters[i], letters[i + 1] = letters[i + 1], letters[i]
    return "".join(letters)

"""A brute-force model of what `q` matches, for the oracle tests of the typo, digit and prefix rules.

Terms come from the index's own analyzers (`_analyze` on the live index: the analysis is
configuration, not the code under test); which document matches which word is decided here, in
Python: every word of q must match in one field (all its terms there), exactly, within its edits
(optimal string alignment distance, AUTO:5,8, first letter fixed) when it may carry typos, or as a
prefix of a word as written when it is the last word of a prefix query.
"""

from __future__ import annotations

import functools
import random
import string
from dataclasses import dataclass

from shared.es_client import get_es_client

STEMMED, EXACT = "english_text", "folded_text"
MAX_TYPO_WORDS = 5  # the first five distinct words of q may carry typos
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


def may_have_typos(q: str) -> list[str]:
    """The rule as the issue states it, written again here: no typos with operators, none in a word
    with a digit, only in the first five distinct words."""
    if any(c in OPERATORS for c in q) or any(w.startswith("-") for w in q.split()):
        return []
    words = list(dict.fromkeys(q.split()))[:MAX_TYPO_WORDS]
    return [w for w in words if not any(c.isdigit() for c in w)]


@dataclass(frozen=True)
class Doc:
    id: int
    fields: dict[str, str]  # search field -> its text
    tags: tuple[str, ...] = ()


def word_matches(alias: str, doc: Doc, word: str, *, typos: bool, prefix: bool = False) -> bool:
    for text in doc.fields.values():
        for analyzer in (STEMMED, EXACT):
            wanted, present = terms(alias, analyzer, word), terms(alias, analyzer, text)
            if wanted and all(t in present or (typos and any(within_typos(t, p) for p in present)) for t in wanted):
                return True
        if prefix and prefix_matches(alias, text, word):
            return True
    return False


def prefix_matches(alias: str, text: str, word: str) -> bool:
    """The word's terms as written, the last one completed: consecutive words of the text."""
    wanted, present = terms(alias, EXACT, word), terms(alias, EXACT, text)
    if not wanted:
        return False
    n = len(wanted)
    return any(
        list(present[i : i + n - 1]) == list(wanted[:-1]) and present[i + n - 1].startswith(wanted[-1])
        for i in range(len(present) - n + 1)
    )


def matching(alias: str, docs: list[Doc], q: str, *, typos: bool, prefix_word: str | None = None) -> set[int]:
    words = list(dict.fromkeys(q.split()))
    fuzzy = set(may_have_typos(q)) if typos else set()
    return {
        d.id for d in docs if all(word_matches(alias, d, w, typos=w in fuzzy, prefix=w == prefix_word) for w in words)
    }


def exact_first(alias: str, docs: list[Doc], q: str, threshold: int, prefix_word: str | None = None) -> set[int]:
    exact = matching(alias, docs, q, typos=False, prefix_word=prefix_word)
    if len(exact) >= threshold:
        return exact
    return matching(alias, docs, q, typos=True, prefix_word=prefix_word)


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

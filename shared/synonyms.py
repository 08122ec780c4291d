"""Search synonyms: one set of rules per searchable index, stored as one Elasticsearch document per
index (in `<prefix>search_synonyms`), written by `manage.py search_synonyms` and applied by the
search API when it builds `q`'s query, not by an analyzer: a change needs no new index and no
reload, and a set is replaced by one document write, so a change is applied whole or not at all.

Rules (one per line in files; `#` starts a comment):
- `postgres, postgresql, pg`: equivalent terms; typing any one-word term of the group also finds
  every other term of it.
- `golang => go, go language`: one way; typing `golang` also finds `go` and the phrase
  `go language`, typing `go` finds only `go`.
A term is one to MAX_TERM_WORDS words of letters and digits (a phrase when it has several: its
words consecutive, in that order); a term typed in `q` (left of `=>`, or in a group) is one word,
since q is matched word by word. Comparison is case- and accent-insensitive, like the `exact`
subfields.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.indexes import DATE, IndexDefinition

SYNONYM_INDEXES = ("assessments", "posts", "comments")  # the indexes `q` searches
MAX_RULES = 500
MAX_TERMS_PER_RULE = 10
MAX_TERMS_PER_WORD = 10  # over every rule naming it: bounds the clauses one word of q adds
MAX_TERM_WORDS = 4
MAX_TERM_LENGTH = 50
ONE_WAY = "=>"

# Not a searchable index: no alias, no rebuild; one document per index name.
STORE = IndexDefinition(
    name="search_synonyms",
    properties={"index": {"type": "keyword"}, "rules": {"type": "keyword", "index": False}, "updated_at": DATE},
)


class InvalidRules(ValueError):
    def __init__(self, errors: list[str]):
        self.errors = errors
        super().__init__("; ".join(errors))


@dataclass(frozen=True)
class Rule:
    text: str  # as stored: normalised, canonical spacing
    sources: tuple[str, ...]  # one-word terms that, typed in q, also find the targets
    targets: tuple[str, ...]


def normalise(term: str) -> str:
    """Lower case, accents folded, single spaces: how the `exact` subfields compare words."""
    decomposed = unicodedata.normalize("NFKD", term)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(folded.split())


def _term(raw: str) -> str:
    term = normalise(raw)
    if not term:
        raise ValueError("an empty term (two commas in a row, or a comma at an end)")
    if len(term) > MAX_TERM_LENGTH:
        raise ValueError(f"term {term[:20]!r}… is longer than {MAX_TERM_LENGTH} characters")
    words = term.split(" ")
    if len(words) > MAX_TERM_WORDS:
        raise ValueError(f"term {term!r} has more than {MAX_TERM_WORDS} words")
    if not all(word.isalnum() for word in words):
        raise ValueError(f"term {term!r} may hold only letters, digits and spaces")
    return term


def _terms(side: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(_term(part) for part in side.split(",")))


def parse_rule(text: str) -> Rule:
    """One rule; ValueError with what is wrong."""
    if text.count(ONE_WAY) > 1:
        raise ValueError(f"more than one {ONE_WAY}")
    if ONE_WAY in text:
        left, right = (_terms(side) for side in text.split(ONE_WAY))
        multi = [t for t in left if " " in t]
        if multi:
            raise ValueError(f"{multi[0]!r}: a term left of {ONE_WAY} is one word (q is matched word by word)")
        terms, canonical = (*left, *right), f"{', '.join(left)} {ONE_WAY} {', '.join(right)}"
        sources, targets = left, right
    else:
        terms = _terms(text)
        if len(terms) < 2:
            raise ValueError("a group needs two different terms at least (or a => b)")
        sources = tuple(t for t in terms if " " not in t)
        if not sources:
            raise ValueError("a group needs a one-word term: q is matched word by word")
        canonical, targets = ", ".join(terms), terms
    if len(terms) > MAX_TERMS_PER_RULE:
        raise ValueError(f"more than {MAX_TERMS_PER_RULE} terms")
    return Rule(canonical, sources, targets)


def parse_rules(lines: Iterable[str]) -> list[Rule]:
    """Every rule of a file (comments and blank lines skipped), each once; InvalidRules naming every
    bad line, so nothing is written while one is wrong."""
    rules: dict[str, Rule] = {}
    errors = []
    for number, line in enumerate(lines, 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        try:
            rule = parse_rule(text)
        except ValueError as exc:
            errors.append(f"line {number} ({text[:60]!r}): {exc}")
            continue
        rules.setdefault(rule.text, rule)
    if len(rules) > MAX_RULES:
        errors.append(f"{len(rules)} rules: at most {MAX_RULES} per index")
    for word, terms in expansions(rules.values()).items():
        if len(terms) > MAX_TERMS_PER_WORD:
            errors.append(f"{word!r} would find {len(terms)} other terms: at most {MAX_TERMS_PER_WORD}")
    if errors:
        raise InvalidRules(errors)
    return list(rules.values())


def expansions(rules: Iterable[Rule]) -> dict[str, tuple[str, ...]]:
    """One-word term -> the other terms it also finds (merged over every rule naming it)."""
    found: dict[str, dict[str, None]] = {}
    for rule in rules:
        for source in rule.sources:
            found.setdefault(source, {}).update(dict.fromkeys(t for t in rule.targets if t != source))
    return {source: tuple(targets) for source, targets in found.items() if targets}


@dataclass(frozen=True)
class StoredSet:
    rules: tuple[str, ...]
    seq_no: int | None = None  # for a compare-and-set write; None: no document yet
    primary_term: int | None = None


def load(es, index_name: str) -> StoredSet:
    """The stored rules of one index (none when nothing was ever stored)."""
    response = es.options(ignore_status=404).get(index=STORE.alias, id=index_name)
    body = response.body
    if not body.get("found"):
        return StoredSet(())
    return StoredSet(tuple(body["_source"].get("rules", ())), body.get("_seq_no"), body.get("_primary_term"))


def store(es, index_name: str, rules: list[Rule], *, previous: StoredSet) -> None:
    """Replaces the set in one document write, only if nobody changed it since `previous` was read
    (ConflictError otherwise); searchable when this returns."""
    _ensure_store(es)
    document = {"index": index_name, "rules": [r.text for r in rules], "updated_at": datetime.now(UTC).isoformat()}
    guard: Mapping = (
        {"op_type": "create"}
        if previous.seq_no is None
        else {"if_seq_no": previous.seq_no, "if_primary_term": previous.primary_term}
    )
    es.index(index=STORE.alias, id=index_name, document=document, refresh="wait_for", **guard)


def _ensure_store(es) -> None:
    if es.indices.exists(index=STORE.alias):
        return
    es.options(ignore_status=400).indices.create(
        index=STORE.alias, mappings=STORE.mappings(), settings={"number_of_shards": 1}
    )

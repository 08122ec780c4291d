"""The declarative list schema and the query-parameter parser derived from it.

A `ListSchema` (declared once per list in lists.py) names the filters (field, value type,
lookups), the orderings, the full-text fields, the facets and the row shape. Everything else is
derived from it: `parse_params` here (parsing and validation), query_builder.py (the
Elasticsearch query) and openapi.py (the OpenAPI document). Parameters follow django-filter
conventions: `field=v`, `field__in=a,b`, `field__gte=`, `__lte`, `__gt`, `__lt`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import orjson

from shared.indexes import IndexDefinition

EXACT, IN = "exact", "in"
RANGE = ("gte", "lte", "gt", "lt")
LOOKUPS = (EXACT, IN, *RANGE)
CONJUNCTIVE, DISJUNCTIVE = "conjunctive", "disjunctive"
MAX_IN_VALUES = 100
MAX_ORDERING_KEYS = 3
MAX_Q_LENGTH = 200
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
INT64_MAX = 2**63 - 1


class InvalidValue(ValueError):
    """A malformed parameter value; the message is shown to the client as is."""


# --- value types: parse one raw string, describe itself in OpenAPI -----------------------------


class ValueType:
    openapi: dict = {}

    def parse(self, raw: str) -> Any:
        raise NotImplementedError

    def to_es(self, value: Any) -> Any:
        return value

    def from_bucket(self, bucket: dict) -> Any:
        """A facet bucket's key as the API shows it."""
        return bucket["key"]


_INTEGER_RE = re.compile(r"-?[0-9]{1,19}")
_NUMBER_RE = re.compile(r"-?(0|[1-9][0-9]{0,30})(\.[0-9]{1,30})?([eE][+-]?[0-9]{1,3})?")
_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


@dataclass(frozen=True)
class Integer(ValueType):
    minimum: int = 0
    maximum: int = INT64_MAX

    @property
    def openapi(self) -> dict:
        return {"type": "integer", "format": "int64", "minimum": self.minimum, "maximum": self.maximum}

    def parse(self, raw: str) -> int:
        # A strict pattern: int() would also take " 1", "1_000" and non-ASCII digits.
        if not _INTEGER_RE.fullmatch(raw):
            raise InvalidValue("Enter a whole number.")
        value = int(raw)
        if not self.minimum <= value <= self.maximum:
            raise InvalidValue(f"Must be between {self.minimum} and {self.maximum}.")
        return value

    def from_bucket(self, bucket: dict) -> int:
        return int(bucket["key"])


@dataclass(frozen=True)
class Number(ValueType):
    openapi = {"type": "number"}

    def parse(self, raw: str) -> float:
        if not _NUMBER_RE.fullmatch(raw):
            raise InvalidValue("Enter a number.")
        value = float(raw)
        if value in (float("inf"), float("-inf")):
            raise InvalidValue("Enter a finite number.")
        return value


@dataclass(frozen=True)
class Boolean(ValueType):
    openapi = {"type": "boolean"}

    def parse(self, raw: str) -> bool:
        if raw not in ("true", "false"):
            raise InvalidValue("Enter true or false.")
        return raw == "true"

    def from_bucket(self, bucket: dict) -> bool:
        return bucket.get("key_as_string", str(bucket["key"])) in ("true", "1")


@dataclass(frozen=True)
class Keyword(ValueType):
    max_length: int = 100

    @property
    def openapi(self) -> dict:
        return {"type": "string", "minLength": 1, "maxLength": self.max_length}

    def parse(self, raw: str) -> str:
        if not raw:
            raise InvalidValue("Must not be empty.")
        if len(raw) > self.max_length:
            raise InvalidValue(f"At most {self.max_length} characters.")
        return raw


@dataclass(frozen=True)
class Choice(ValueType):
    choices: tuple[str, ...] = ()

    @property
    def openapi(self) -> dict:
        return {"type": "string", "enum": list(self.choices)}

    def parse(self, raw: str) -> str:
        if raw not in self.choices:
            raise InvalidValue(f"Must be one of: {', '.join(self.choices)}.")
        return raw


@dataclass(frozen=True)
class DateTime(ValueType):
    """ISO 8601 date or date-time; naive means UTC. Millisecond precision, like the index."""

    openapi = {"type": "string", "format": "date-time"}

    def parse(self, raw: str) -> datetime:
        if not _DATETIME_RE.fullmatch(raw):
            raise InvalidValue("Enter an ISO 8601 date-time, e.g. 2025-01-31T12:00:00Z, or a date.")
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise InvalidValue("Enter a valid date-time.") from None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            raise InvalidValue("Date-time out of range.") from None
        # Elasticsearch keeps milliseconds; truncating here makes comparisons mean the same thing.
        return value.replace(microsecond=value.microsecond // 1000 * 1000)

    def to_es(self, value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --- schema declarations ----------------------------------------------------------------------


@dataclass(frozen=True)
class Filter:
    name: str
    field: str
    type: ValueType
    lookups: tuple[str, ...]
    description: str
    # Not a document field: computed when read (derived_metrics.py), filtered by thresholds.
    derived: bool = False

    def param_name(self, lookup: str) -> str:
        return self.name if lookup == EXACT else f"{self.name}__{lookup}"


@dataclass(frozen=True)
class Ordering:
    """One value of `ordering=`: a public key and the Elasticsearch sort it stands for."""

    key: str
    sort: tuple[tuple[str, str], ...]  # (field, "asc" | "desc") pairs
    description: str
    requires_q: bool = False

    @property
    def name(self) -> str:
        return self.key.lstrip("-")


def both_directions(name: str, sort: tuple[tuple[str, str], ...] | str, description: str) -> tuple[Ordering, Ordering]:
    """`name` sorts as declared (ascending for a plain field), `-name` the reverse."""
    pairs = ((sort, "asc"),) if isinstance(sort, str) else sort
    flipped = tuple((f, "desc" if order == "asc" else "asc") for f, order in pairs)
    return Ordering(name, pairs, description), Ordering(f"-{name}", flipped, f"{description} (reversed)")


RELEVANCE = Ordering("relevance", (("_score", "desc"),), "Best full-text match first; requires q.", requires_q=True)


@dataclass(frozen=True)
class Facet:
    name: str
    field: str
    type: ValueType
    size: int = 50  # buckets returned, largest count first
    derived: bool = False  # counted by derived_metrics.py, not a terms aggregation


@dataclass(frozen=True)
class ListSchema:
    name: str
    summary: str
    index: IndexDefinition
    id_field: str  # unique, immutable: the last sort key of every ordering (cursor tie-breaker)
    filters: tuple[Filter, ...]
    orderings: tuple[Ordering, ...]
    default_ordering: str
    row: dict[str, dict]  # returned field -> JSON schema; also the `_source` includes
    visibility: Callable[[Any], dict]  # Principal -> filter clause; never from parameters
    search_fields: tuple[str, ...] = ()
    # Text fields whose matched fragments `highlight=true` returns (query_builder.highlight_clause).
    highlight_fields: tuple[str, ...] = ()
    facets: tuple[Facet, ...] = ()
    base_filters: tuple[dict, ...] = ()  # always applied (e.g. only submitted attempts on a leaderboard)

    @cached_property
    def filter_params(self) -> dict[str, tuple[Filter, str]]:
        return {f.param_name(lookup): (f, lookup) for f in self.filters for lookup in f.lookups}

    @cached_property
    def reserved_params(self) -> tuple[str, ...]:
        return (
            *(("q",) if self.search_fields else ()),
            "ordering",
            "page_size",
            "cursor",
            *(("facets", "facet_mode") if self.facets else ()),
            *(("highlight",) if self.highlight_fields else ()),
            *(("prefix",) if self.search_fields else ()),
        )

    @cached_property
    def allowed_params(self) -> tuple[str, ...]:
        return (*self.reserved_params, *self.filter_params)

    @cached_property
    def orderings_by_key(self) -> dict[str, Ordering]:
        return {o.key: o for o in self.orderings}

    @cached_property
    def facets_by_name(self) -> dict[str, Facet]:
        return {f.name: f for f in self.facets}


# --- parsed parameters --------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    filter: Filter
    lookup: str
    value: Any  # a parsed value, or a tuple of them for `in`


@dataclass(frozen=True)
class ListQuery:
    conditions: tuple[Condition, ...]
    ordering: tuple[Ordering, ...]
    page_size: int = DEFAULT_PAGE_SIZE
    q: str | None = None
    cursor: str | None = None
    facets: tuple[Facet, ...] = field(default=())
    highlight: bool = False  # not in the fingerprint: it changes no row, sort or count
    facet_mode: str = CONJUNCTIVE  # nor this: only what the facets count
    prefix: bool = False  # q's last word completes as a prefix (query_builder.text_query)

    def fingerprint(self, list_name: str, scope: str = "") -> str:
        """What a cursor is bound to: the list, its scope, filters, q and ordering (not page size)."""
        canonical = [
            list_name,
            scope,
            # A completed last word changes the rows; False stays out, so older cursors stay valid.
            [self.q, True] if self.prefix else self.q,
            [o.key for o in self.ordering],
            sorted((c.filter.name, c.lookup, _canonical(c.filter.type, c.value)) for c in self.conditions),
        ]
        return hashlib.sha256(orjson.dumps(canonical)).hexdigest()[:32]


def _canonical(value_type: ValueType, value: Any) -> Any:
    if isinstance(value, tuple):
        return [_canonical(value_type, v) for v in value]
    return value_type.to_es(value)


class ParamErrors(Exception):
    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        super().__init__(str(errors))


def single_values(
    params: Iterable[tuple[str, list[str]]], allowed: tuple[str, ...], *, repeated: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The one non-empty value of each allowed parameter, and errors naming every other one
    (unknown ones with the allowed list, repeated ones with `repeated`, empty ones)."""
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    for name, raw_values in params:
        if name not in allowed:
            errors[name] = [f"Unknown parameter. Allowed: {', '.join(allowed)}."]
        elif len(raw_values) != 1:
            errors[name] = [repeated]
        elif raw_values[0] == "":
            errors[name] = ["Must not be empty."]
        else:
            values[name] = raw_values[0]
    return values, errors


def parse_params(schema: ListSchema, params: Iterable[tuple[str, list[str]]]) -> ListQuery:
    """Validates every parameter at once; raises ParamErrors naming each bad one."""
    values, errors = single_values(
        params, schema.allowed_params, repeated="Given more than once; use one value (or field__in=a,b for several)."
    )

    def attempt(name: str, parse: Callable[[str], Any]) -> Any:
        try:
            return parse(values[name])
        except InvalidValue as exc:
            errors[name] = [str(exc)]
            return None

    conditions = []
    for name, (filter_, lookup) in schema.filter_params.items():
        if name in values:
            parse = (lambda raw, t=filter_.type: _parse_list(raw, t.parse)) if lookup == IN else filter_.type.parse
            value = attempt(name, parse)
            if name not in errors:
                conditions.append(Condition(filter_, lookup, value))

    q = attempt("q", parse_q) if "q" in values else None
    ordering_keys = attempt("ordering", lambda raw: _parse_ordering(schema, raw, q)) if "ordering" in values else None
    page_size = attempt("page_size", Integer(1, MAX_PAGE_SIZE).parse) if "page_size" in values else DEFAULT_PAGE_SIZE
    facets = attempt("facets", lambda raw: _parse_facets(schema, raw)) if "facets" in values else ()
    highlight = attempt("highlight", lambda raw: _parse_highlight(raw, q)) if "highlight" in values else False
    facet_mode = (
        attempt("facet_mode", lambda raw: _parse_facet_mode(raw, "facets" in values))
        if "facet_mode" in values
        else CONJUNCTIVE
    )
    prefix = attempt("prefix", lambda raw: _parse_prefix(raw, values.get("q"))) if "prefix" in values else False
    cursor = values.get("cursor")
    if errors:
        raise ParamErrors(errors)
    default = RELEVANCE.key if q and RELEVANCE in schema.orderings else schema.default_ordering
    ordering = ordering_keys or (default,)
    return ListQuery(
        conditions=tuple(conditions),
        ordering=tuple(schema.orderings_by_key[k] for k in ordering),
        page_size=page_size,
        q=q,
        cursor=cursor,
        facets=facets,
        highlight=highlight,
        facet_mode=facet_mode,
        prefix=prefix,
    )


def _parse_list(raw: str, parse: Callable[[str], Any]) -> tuple:
    items = raw.split(",")
    if len(items) > MAX_IN_VALUES:
        raise InvalidValue(f"At most {MAX_IN_VALUES} comma-separated values.")
    parsed = []
    for position, item in enumerate(items, 1):
        try:
            value = parse(item)
        except InvalidValue as exc:
            raise InvalidValue(f"Value {position} ({item[:40]!r}): {exc}") from None
        if value not in parsed:
            parsed.append(value)
    return tuple(parsed)


def parse_q(raw: str) -> str:
    """Full text: not blank, at most MAX_Q_LENGTH characters (also the limits of suggest.py's prefix)."""
    text = raw.strip()
    if not text:
        raise InvalidValue("Must contain a word.")
    if len(raw) > MAX_Q_LENGTH:
        raise InvalidValue(f"At most {MAX_Q_LENGTH} characters.")
    return text


def _parse_ordering(schema: ListSchema, raw: str, q: str | None) -> tuple[str, ...]:
    keys = raw.split(",")
    allowed = ", ".join(schema.orderings_by_key)
    if len(keys) > MAX_ORDERING_KEYS:
        raise InvalidValue(f"At most {MAX_ORDERING_KEYS} keys. Allowed: {allowed}.")
    seen: set[str] = set()
    for key in keys:
        ordering = schema.orderings_by_key.get(key)
        if ordering is None:
            raise InvalidValue(f"Unknown ordering {key[:40]!r}. Allowed: {allowed}.")
        if ordering.name in seen:
            raise InvalidValue(f"{ordering.name!r} is given more than once.")
        if ordering.requires_q and not q:
            raise InvalidValue(f"{key!r} needs a full-text query (q=).")
        seen.add(ordering.name)
    return tuple(keys)


def _parse_highlight(raw: str, q: str | None) -> bool:
    highlight = Boolean().parse(raw)
    if highlight and not q:
        raise InvalidValue("Needs a full-text query (q=): highlights are the fragments q matched.")
    return highlight


def _parse_prefix(raw: str, raw_q: str | None) -> bool:
    prefix = Boolean().parse(raw)
    if prefix and not raw_q:
        raise InvalidValue("Needs a full-text query (q=): its last word is the prefix.")
    # A space after the last word means it is complete (`graph ` is the word graph), as in suggest.
    return prefix and not raw_q[-1].isspace()


def _parse_facet_mode(raw: str, has_facets: bool) -> str:
    mode = Choice((CONJUNCTIVE, DISJUNCTIVE)).parse(raw)
    if not has_facets:
        raise InvalidValue("Needs facets=: it says how the facets count.")
    return mode


def _parse_facets(schema: ListSchema, raw: str) -> tuple[Facet, ...]:
    facets: list[Facet] = []
    for name in raw.split(","):
        facet = schema.facets_by_name.get(name)
        if facet is None:
            raise InvalidValue(f"Unknown facet {name[:40]!r}. Allowed: {', '.join(schema.facets_by_name)}.")
        if facet not in facets:
            facets.append(facet)
    return tuple(facets)

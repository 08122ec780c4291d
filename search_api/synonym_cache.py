"""The synonyms of each index (shared/synonyms.py) as q's query needs them, kept per process for
SEARCH_SYNONYMS_TTL_SECONDS: a change made by `manage.py search_synonyms` reaches every search
within that period, at the cost of one read per index and period, not one per request."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import structlog

from shared import synonyms

log = structlog.get_logger(__name__)


class SynonymCache:
    def __init__(self, ttl_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.ttl_seconds, self.clock = ttl_seconds, clock
        self._entries: dict[str, tuple[float, Mapping[str, tuple[str, ...]]]] = {}
        self._lock = threading.Lock()

    def get(self, index_name: str, read: Callable[[], tuple[str, ...]]) -> Mapping[str, tuple[str, ...]]:
        """index_name's expansions; `read` (one Elasticsearch round trip) only when stale."""
        now = self.clock()
        entry = self._entries.get(index_name)
        if entry is not None and now - entry[0] < self.ttl_seconds:
            return entry[1]
        found = expansions(read(), index_name)
        with self._lock:
            self._entries[index_name] = (now, found)
        return found


def expansions(stored: tuple[str, ...], index_name: str) -> dict[str, tuple[str, ...]]:
    """Stored rules were validated when written; one edited behind the command's back is skipped
    (logged), never a failed search."""
    rules = []
    for text in stored:
        try:
            rules.append(synonyms.parse_rule(text))
        except ValueError as exc:
            log.warning("synonyms.invalid_rule", index=index_name, rule=text, error=str(exc))
    # Each word's terms capped as validation caps them, whatever was stored.
    return {word: terms[: synonyms.MAX_TERMS_PER_WORD] for word, terms in synonyms.expansions(rules).items()}

"""Does a document match its row? The database's projection of some ids against their documents.

The smallest comparison the pipeline and the operators share: the drift sweep re-checks the rows
changed in its window with it, and `verify` re-checks what its full scan found drifted (writes in
flight look like drift for a moment). A row without a document = missing; a different content hash
= stale; a version higher than the database's = `ahead`; a live document without a row = orphan.
May touch: PostgreSQL (read: the projection SQL), the index behind one alias (a realtime mget).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import orjson

from read_indexer.errors import OperatorError
from shared.es_client import get_es_client
from write_service.read_model.projections import HARD_DELETED_VERSION, PROJECTIONS


def document_hash(source: dict) -> str:
    """Content hash of a document, independent of key order (both sides are plain JSON values)."""
    return hashlib.blake2b(orjson.dumps(source, option=orjson.OPT_SORT_KEYS), digest_size=16).hexdigest()


@dataclass
class Drift:
    missing: list[int] = field(default_factory=list)
    stale: list[int] = field(default_factory=list)
    ahead: list[int] = field(default_factory=list)  # stale, with a newer version than the database's
    orphan: list[str] = field(default_factory=list)  # document ids (a non-numeric id is an orphan too)

    def add(self, other: Drift) -> None:
        self.missing += other.missing
        self.stale += other.stale
        self.ahead += other.ahead
        self.orphan += other.orphan

    @property
    def total(self) -> int:
        return len(self.missing) + len(self.stale) + len(self.ahead) + len(self.orphan)

    def row_ids(self) -> list[int]:
        return sorted({*self.missing, *self.stale, *self.ahead, *(int(i) for i in self.orphan if i.isdigit())})

    def counts(self) -> dict[str, int]:
        return {kind: len(ids) for kind, ids in self.as_dict().items()}

    def as_dict(self) -> dict:
        return {"missing": self.missing, "stale": self.stale, "ahead": self.ahead, "orphan": self.orphan}


def compare_ids(index_name: str, alias: str, ids: list[int]) -> Drift:
    """Drift among these ids, comparing the database's projection with the documents (realtime mget)."""
    drift = Drift()
    if not ids:
        return drift
    projected = {doc.id: doc for doc in PROJECTIONS[index_name].project(ids)}
    response = get_es_client().mget(index=alias, ids=[str(i) for i in ids], realtime=True)
    for item in response["docs"]:
        if "error" in item:
            raise OperatorError(f"Elasticsearch could not read document {item['_id']} of {alias}: {item['error']}.")
        doc_id, found = int(item["_id"]), item.get("found", False)
        row = projected[doc_id]
        if row.version == HARD_DELETED_VERSION:  # no row: only a tombstone may stand for it
            if found and not item["_source"].get("deleted"):
                drift.orphan.append(str(doc_id))
        elif not found:
            drift.missing.append(doc_id)
        elif item["_version"] > row.version:
            drift.ahead.append(doc_id)
        elif document_hash(item["_source"]) != document_hash(row.source):
            # Content only: a version sums rows the document shows only in part (an attempt's sum
            # includes its assessment's version, which every counter batch and cut-off change moves
            # without re-projecting the attempt), so a lower version with equal content is current,
            # and the next write of that row still wins.
            drift.stale.append(doc_id)
    return drift

"""Verification of an index against PostgreSQL, and repair of exactly the drifted documents.

One merge of two sorted streams, in pages, so memory stays flat at millions of rows and no
document source travels:
  - PostgreSQL: keyset pages of (row id, version, content hash), the hash computed by the same
    projection SQL that renders the documents (write_service/read_model/projections.py);
  - Elasticsearch: a point-in-time scan in row id order of (_version, content_hash) doc values;
both fetched in threads while the merge runs. A row without a document = missing; a different
hash = stale; a version higher than the database's = `ahead` (only a restore or a bug produces
it, and only a reindex can fix it); a document without a row = orphan, unless it is a tombstone
(a row deleted for good). A lower version with equal content is not drift: an attempt's version
includes its assessment's, which moves without re-projecting it.
Writes still in flight look like drift for a moment, so drifted ids are re-checked once after
`settle` seconds with a full comparison of their sources (projection/drift.py), and only what is still
wrong is reported.
May touch: PostgreSQL (read), the index behind one alias (read; repair: versioned writes through
documents.project_and_index, and deletes of orphans guarded by their seq_no).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from queue import Full, Queue
from threading import Event, Thread

import structlog
from django.db import DatabaseError, connections
from elasticsearch import helpers
from tqdm import tqdm

from read_indexer.errors import OperatorError
from read_indexer.lifecycle import replica_reads
from read_indexer.lifecycle.bulk_load import count_rows
from read_indexer.projection import documents
from read_indexer.projection.drift import Drift, compare_ids
from shared.es_client import get_es_client
from write_service.read_model.projections import PROJECTIONS

log = structlog.get_logger(__name__)
PIT_KEEP_ALIVE = "2m"


@dataclass
class IndexVerification:
    index_name: str
    alias: str
    physical_index: str
    rows: int = 0
    documents: int = 0
    drift: Drift = field(default_factory=Drift)
    repaired: dict[str, int] | None = None
    remaining: Drift | None = None  # after repair
    compare_seconds: float = 0.0  # the hash comparison of every row and document, before re-checks
    read_from: str = ""  # replica or primary, and why (replica_reads)

    @property
    def rows_per_second(self) -> float:
        return round(self.rows / self.compare_seconds, 1) if self.compare_seconds else 0.0

    def as_dict(self) -> dict:
        return {
            "index": self.index_name,
            "alias": self.alias,
            "physical_index": self.physical_index,
            "rows": self.rows,
            "documents": self.documents,
            "compare_seconds": self.compare_seconds,
            "rows_per_second": self.rows_per_second,
            "read_from": self.read_from,
            "drift": self.drift.as_dict(),
            "drift_counts": self.drift.counts(),
            "repaired": self.repaired,
            "remaining": self.remaining.as_dict() if self.remaining is not None else None,
        }


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@dataclass(frozen=True)
class _IndexedDocument:
    doc_id: str
    row_id: int | None  # None: the document has no row id field (no row can own it)
    version: int
    content_hash: str | None
    tombstone: bool

    @property
    def key(self) -> int | None:
        return self.row_id if self.row_id is not None and self.doc_id == str(self.row_id) else None


def _field(hit: dict, name: str):
    return (hit.get("fields", {}).get(name) or [None])[0]


def _index_hashes(definition, id_field: str, chunk_size: int) -> Iterator[list[_IndexedDocument]]:
    """Every document behind the alias, in row id order, page by page from one point in time:
    doc values only, no source is read."""
    es = get_es_client()
    pit_id = es.open_point_in_time(index=definition.alias, keep_alive=PIT_KEEP_ALIVE)["id"]
    try:
        search_after = None
        while True:
            response = es.search(
                pit={"id": pit_id, "keep_alive": PIT_KEEP_ALIVE},
                size=chunk_size,
                sort=[{id_field: {"order": "asc", "missing": "_last"}}, "_shard_doc"],
                source=False,
                version=True,
                docvalue_fields=[id_field, "content_hash", "deleted"],
                track_total_hits=False,
                search_after=search_after,
            )
            hits = response["hits"]["hits"]
            if not hits:
                return
            pit_id = response.get("pit_id", pit_id)
            search_after = hits[-1]["sort"]
            yield [
                _IndexedDocument(
                    hit["_id"],
                    _field(hit, id_field),
                    hit["_version"],
                    _field(hit, "content_hash"),
                    _field(hit, "deleted") is True,
                )
                for hit in hits
            ]
    finally:
        es.close_point_in_time(id=pit_id)


def _database_hashes(index_name: str, chunk_size: int, using: str) -> Iterator[list[tuple[int, int, str]]]:
    projection, after = PROJECTIONS[index_name], 0
    while rows := projection.hashes(after_key=after, limit=chunk_size, using=using):
        yield rows
        after = rows[-1][0]


def _prefetched(pages: Iterator[list], depth: int = 2) -> Iterator:
    """The pages' items, the next pages fetched in a thread meanwhile: PostgreSQL renders hashes
    while Elasticsearch scans doc values. Runs in its own thread, so it closes its own connections."""
    queue: Queue = Queue(maxsize=depth)
    done, stop = object(), Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                queue.put(item, timeout=0.5)
                return True
            except Full:
                continue
        return False

    def fill() -> None:
        try:
            for page in pages:
                if not put(page):
                    break
            else:
                put(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        finally:
            pages.close()  # a point in time is closed, not left to expire
            connections.close_all()

    Thread(target=fill, daemon=True).start()
    try:
        while (page := queue.get()) is not done:
            if isinstance(page, BaseException):
                raise page
            yield from page
    finally:
        stop.set()  # the consumer stopped early (a failure on the other side): let the thread end


def _compare_hashes(
    index_name: str, definition, chunk_size: int, using: str, rows_bar: tqdm, docs_bar: tqdm
) -> tuple[Drift, int, int]:
    """One merge of both sides in row id order: (drift, rows, documents)."""
    drift, rows, docs = Drift(), 0, 0
    database = _prefetched(_database_hashes(index_name, chunk_size, using))
    index = _prefetched(_index_hashes(definition, PROJECTIONS[index_name].id_field, chunk_size))
    row, doc = next(database, None), next(index, None)
    while row is not None or doc is not None:
        take_row = doc is None or (doc.key is not None and row is not None and row[0] <= doc.key)
        take_doc = row is None or doc.key is None or doc.key <= row[0]
        if take_row and take_doc:
            row_id, version, content_hash = row
            if doc.version > version:
                drift.ahead.append(row_id)
            elif doc.content_hash != content_hash:
                # Content only: a version sums rows the document shows only in part (an attempt's sum
                # includes its assessment's version, which every counter batch and cut-off change
                # moves without re-projecting the attempt), so a lower version with equal content is
                # current, and the next write of that row still wins.
                drift.stale.append(row_id)
        elif take_row:
            drift.missing.append(row[0])
        elif not doc.tombstone:  # a row deleted for good leaves its tombstone: not drift
            drift.orphan.append(doc.doc_id)
        if take_row:
            row, rows = next(database, None), rows + 1
            rows_bar.update(1)
        if take_doc:
            doc, docs = next(index, None), docs + 1
            docs_bar.update(1)
    return drift, rows, docs


def find_orphans(index_name: str, ids: list[str]) -> list[str]:
    numeric = [int(i) for i in ids if i.isdigit()]
    existing = PROJECTIONS[index_name].existing_ids(numeric)
    return [i for i in ids if not i.isdigit() or int(i) not in existing]


def _recheck(index_name: str, alias: str, drift: Drift, chunk_size: int) -> Drift:
    rechecked = Drift(orphan=[i for i in drift.orphan if not i.isdigit()])
    for ids in _chunks(drift.row_ids(), chunk_size):
        rechecked.add(compare_ids(index_name, alias, ids))
    return rechecked


def _compare(index_name: str, definition, chunk_size: int, using: str) -> tuple[Drift, int, int]:
    es, bar = get_es_client(), {"dynamic_ncols": True, "mininterval": 0.5, "unit_scale": True}
    with (
        tqdm(total=count_rows(index_name, using=using), desc=f"{definition.alias} rows", unit="rows", **bar) as rows,
        tqdm(
            total=es.count(index=definition.alias)["count"], desc=f"{definition.alias} documents", unit="docs", **bar
        ) as docs,
    ):
        return _compare_hashes(index_name, definition, chunk_size, using, rows, docs)


def verify(
    index_name: str, *, chunk_size: int = 5000, settle: float = 2.0, primary_only: bool = False
) -> IndexVerification:
    definition = PROJECTIONS[index_name].index
    es = get_es_client()
    if not es.indices.exists_alias(name=definition.alias):
        raise OperatorError(
            f"The alias {definition.alias} does not exist; create it with "
            f"`manage.py search_indexes ensure` or `manage.py reindex {index_name}`."
        )
    report = IndexVerification(index_name, definition.alias, next(iter(es.indices.get_alias(name=definition.alias))))
    source = replica_reads.caught_up_replica("verify", primary_only=primary_only)
    es.indices.refresh(index=definition.alias)  # the scan searches; make every acknowledged write visible
    started, failed = time.monotonic(), None
    try:
        report.drift, report.rows, report.documents = _compare(index_name, definition, chunk_size, source.using)
    except DatabaseError as exc:
        if not source.is_replica:
            raise
        failed = exc
    if failed is not None:  # outside the except: the failed attempt's threads and point in time are gone
        # Nothing of a half-read replica is kept: the comparison starts again on the primary.
        source = replica_reads.ReadSource(
            replica_reads.PRIMARY,
            "reading from the primary: the replica failed "
            f"mid-run ({type(failed).__name__}), so the comparison started over there",
        )
        log.warning("verify.replica_failed", alias=definition.alias, error=str(failed).strip()[:300])
        report.drift, report.rows, report.documents = _compare(index_name, definition, chunk_size, source.using)
    report.compare_seconds, report.read_from = round(time.monotonic() - started, 2), source.reason
    if report.drift.total:
        # On the primary, with full sources: only what is still wrong is reported (a replica read
        # or a write in flight may make a current document look drifted for a moment).
        time.sleep(settle)
        report.drift = _recheck(index_name, definition.alias, report.drift, chunk_size)
    log.info(
        "verify.finished",
        alias=definition.alias,
        rows=report.rows,
        documents=report.documents,
        compare_seconds=report.compare_seconds,
        rows_per_second=report.rows_per_second,
        **report.drift.counts(),
    )
    return report


def _delete_orphans(index_name: str, alias: str, orphan_ids: list[str]) -> int:
    """Deletes orphans whose row still does not exist, only if the document is unchanged since read."""
    es = get_es_client()
    confirmed = find_orphans(index_name, orphan_ids)
    if not confirmed:
        return 0
    found = [d for d in es.mget(index=alias, ids=confirmed, realtime=True)["docs"] if d.get("found")]
    actions = [
        {
            "_op_type": "delete",
            "_index": d["_index"],
            "_id": d["_id"],
            "if_seq_no": d["_seq_no"],
            "if_primary_term": d["_primary_term"],
        }
        for d in found
    ]
    deleted = 0
    for ok, item in helpers.streaming_bulk(es, actions, raise_on_error=False, raise_on_exception=True):
        status = item.get("delete", {}).get("status")
        if ok:
            deleted += 1
        elif status not in (404, 409):  # gone already, or rewritten since: not ours to delete
            raise OperatorError(f"Deleting orphan {item['delete'].get('_id')} failed: {item['delete'].get('error')}.")
    return deleted


def _clear_delete_tombstones_and_reindex(report: IndexVerification, ids: list[int]) -> None:
    """Re-adds documents that someone deleted from Elasticsearch directly.

    Such a delete leaves a tombstone one version above the document's, so the versioned re-index
    of the database's state is refused for `index.gc_deletes` (60 s). Our pipeline never deletes
    documents (soft-deleted rows are tombstone *documents*), so pruning Elasticsearch's delete
    tombstones (gc_deletes 0 for a moment, then a refresh) weakens nothing we rely on.
    """
    es, index = get_es_client(), report.physical_index
    explicit = es.indices.get_settings(index=index, name="index.gc_deletes")  # {} unless set explicitly
    previous = explicit.get(index, {}).get("settings", {})
    es.indices.put_settings(index=index, settings={"index": {"gc_deletes": "0s"}})
    try:
        for _attempt in range(8):  # pruning runs on refresh, at most once per clock tick (~200 ms)
            es.indices.refresh(index=index)
            documents.project_and_index(report.index_name, ids)
            ids = compare_ids(report.index_name, report.alias, ids).missing
            if not ids:
                return
            time.sleep(0.25)
    finally:
        restore = previous.get("index", {}).get("gc_deletes")
        es.indices.put_settings(index=index, settings={"index": {"gc_deletes": restore}})


def repair(report: IndexVerification, *, chunk_size: int = 1000) -> IndexVerification:
    """Re-projects exactly the missing and stale ids and deletes exactly the orphans, then re-checks them."""
    drift = report.drift
    for ids in _chunks(sorted({*drift.missing, *drift.stale}), chunk_size):
        documents.project_and_index(report.index_name, ids)  # every write target, versioned
    for ids in _chunks(drift.missing, chunk_size):
        refused = compare_ids(report.index_name, report.alias, ids).missing
        if refused:
            _clear_delete_tombstones_and_reindex(report, refused)
    deleted = sum(_delete_orphans(report.index_name, report.alias, ids) for ids in _chunks(drift.orphan, chunk_size))
    report.repaired = {"missing": len(drift.missing), "stale": len(drift.stale), "orphan": deleted}
    report.remaining = _recheck(report.index_name, report.alias, drift, chunk_size)
    log.info("verify.repaired", alias=report.alias, **report.repaired, remaining=report.remaining.total)
    return report


def render(report: IndexVerification, *, sample: int = 20) -> list[str]:
    """Human-readable lines: drift by kind with the first ids of each."""
    lines = [
        f"{report.alias} -> {report.physical_index}: {report.rows:,} rows, {report.documents:,} documents, "
        f"compared in {report.compare_seconds} s ({report.rows_per_second:,.0f} rows/s), {report.read_from}"
    ]
    for kind, ids in report.drift.as_dict().items():
        if ids:
            more = f" (+{len(ids) - sample:,} more)" if len(ids) > sample else ""
            lines.append(f"  {kind:<8} {len(ids):>8,}  ids: {', '.join(map(str, ids[:sample]))}{more}")
    if not report.drift.total:
        lines.append("  no drift")
    if report.repaired is not None:
        repaired = ", ".join(f"{kind} {count:,}" for kind, count in report.repaired.items())
        lines.append(f"  repaired: {repaired}; still drifted: {report.remaining.total:,}")
        if report.remaining.ahead:
            lines.append(
                "  documents ahead of the database cannot be repaired in place: "
                f"run `manage.py reindex {report.index_name}`"
            )
    return lines

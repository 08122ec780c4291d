"""Zero-downtime rebuild of one index, losing no write made while it runs.

Steps (each recorded in a checkpoint, so `--resume` continues a crashed run):
  1. create a new physical index from the shared definition with bulk-load settings
     (replicas 0, refresh off);
  2. register it as a rebuild (dual-write) target BEFORE reading any row: from then on every
     worker write goes to the alias and to the new index (index_lifecycle.write_targets);
  3. bulk-load every row from PostgreSQL (bulk_load: keyset pages, parallel versioned bulks), from
     the replica once it has replayed the primary's position taken after step 2 (replica_reads),
     else from the primary;
  4. restore replicas and refresh interval, refresh, wait until the index is searchable, and
     check that it shows at least every loaded document (else stop before the swap);
  5. swap the alias in one _aliases call (remove old, add new): readers never see a gap;
  6. stop dual writes, delete the old index unless --keep-old.
Why dual writes cannot lose or regress a document: a worker projects a row and only then reads
the write targets, so a worker that missed the new target read its row before step 2, and the
bulk load (after step 2, on a replica that has replayed everything committed before it) reads
that row again, at the same or a newer state. Between the load and
the live writes, versions (external_gte) let the newest state win whatever the order.
May touch: Elasticsearch indexes and aliases of one definition, the rebuild targets and
checkpoint in Redis, PostgreSQL (read only; the lock is a session advisory lock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from django.db import DatabaseError
from tqdm import tqdm

from read_indexer.errors import OperatorError, describe_failure
from read_indexer.lifecycle import index_lifecycle, rebuild_checkpoint, replica_reads
from read_indexer.lifecycle.bulk_load import bulk_load, count_rows
from read_indexer.lifecycle.rebuild_checkpoint import LOADED, LOADING, SWAPPED, Checkpoint
from read_indexer.lifecycle.rebuild_lock import ReindexLock, reindex_lock, reindex_running
from shared.es_client import get_es_client
from shared.indexes import IndexDefinition
from write_service.read_model.projections import PROJECTIONS

log = structlog.get_logger(__name__)
# Before deleting an index, let requests already routed to it land: a worker write that read the
# targets just before one was removed (it could auto-create a deleted index), or a search that
# resolved the alias just before the swap.
IN_FLIGHT_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class RebuildOptions:
    batch_size: int = 1000
    workers: int = 4
    keep_old: bool = False
    resume: bool = False
    primary_only: bool = False  # read the primary even when the replica is healthy


@dataclass(frozen=True)
class RebuildReport:
    alias: str
    index: str
    old_indexes: list[str]
    old_kept: bool
    documents: int
    load_seconds: float
    resumed_from_id: int | None

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.load_seconds if self.load_seconds > 0 else 0.0

    def summary(self) -> str:
        old = ", ".join(self.old_indexes) or "none"
        fate = "kept" if self.old_kept else "deleted"
        resumed = f" (resumed after id {self.resumed_from_id})" if self.resumed_from_id is not None else ""
        return (
            f"{self.alias}: loaded {self.documents:,} documents in {self.load_seconds:.1f} s "
            f"({self.docs_per_second:,.0f} docs/s){resumed}; alias -> {self.index}; old index {old} {fate}."
        )


def _alias_indexes(alias: str) -> list[str]:
    es = get_es_client()
    return sorted(es.indices.get_alias(name=alias)) if es.indices.exists_alias(name=alias) else []


def _discard(definition: IndexDefinition, checkpoint: Checkpoint) -> None:
    """Abandons an interrupted rebuild that is not being resumed: stop dual writes, drop its index."""
    index_lifecycle.remove_rebuild_target(definition, checkpoint.index)
    if checkpoint.index not in _alias_indexes(definition.alias):
        time.sleep(IN_FLIGHT_GRACE_SECONDS)
        get_es_client().indices.delete(index=checkpoint.index, ignore_unavailable=True)
    rebuild_checkpoint.clear(definition.alias)
    log.warning(
        "reindex.discarded_interrupted",
        alias=definition.alias,
        index=checkpoint.index,
        phase=checkpoint.phase,
        last_id=checkpoint.last_id,
    )


def _start(definition: IndexDefinition) -> Checkpoint:
    index = index_lifecycle.create_physical_index(definition, bulk_load=True)
    checkpoint = Checkpoint(alias=definition.alias, index=index)
    rebuild_checkpoint.save(checkpoint)  # before the target exists, so a crash can always clean it up
    index_lifecycle.add_rebuild_target(definition, index)
    log.info("reindex.started", alias=definition.alias, index=index)
    return checkpoint


def _load(
    index_name: str, checkpoint: Checkpoint, options: RebuildOptions, say: Callable[[str], None]
) -> tuple[int, float]:
    source = replica_reads.caught_up_replica(
        "reindex", primary_only=options.primary_only
    )  # after the dual-write target exists
    say(f"Loading {checkpoint.alias}: {source.reason}.")
    total = count_rows(index_name, using=source.using)
    remaining = count_rows(index_name, after_id=checkpoint.last_id, using=source.using)

    def on_progress(last_id: int, documents: int) -> None:
        checkpoint.last_id = last_id
        checkpoint.loaded += documents
        rebuild_checkpoint.save(checkpoint)

    with tqdm(
        total=total,
        initial=total - remaining,
        desc=checkpoint.alias,
        unit="docs",
        unit_scale=True,
        dynamic_ncols=True,
        mininterval=0.5,
        smoothing=0.05,
    ) as bar:
        try:
            result = bulk_load(
                index_name=index_name,
                target=checkpoint.index,
                after_id=checkpoint.last_id,
                batch_size=options.batch_size,
                workers=options.workers,
                on_progress=on_progress,
                progress_bar=bar,
                using=source.using,
            )
        except DatabaseError as exc:
            if not source.is_replica:
                raise
            # Say which server: the primary is fine, and a resume picks a source again.
            raise OperatorError(
                f"the replica failed mid-load ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})"
            ) from exc
    checkpoint.phase = LOADED
    rebuild_checkpoint.save(checkpoint)
    log.info(
        "reindex.loaded",
        alias=checkpoint.alias,
        index=checkpoint.index,
        documents=result.documents,
        seconds=round(result.seconds, 2),
        docs_per_second=round(result.docs_per_second),
    )
    return result.documents, result.seconds


def _make_searchable(definition: IndexDefinition, checkpoint: Checkpoint) -> None:
    es, index = get_es_client(), checkpoint.index
    live = definition.settings(bulk_load=False)
    es.indices.put_settings(
        index=index,
        settings={
            "index": {
                "number_of_replicas": live["number_of_replicas"],
                "refresh_interval": live["refresh_interval"],
            }
        },
    )
    es.indices.refresh(index=index)
    # Primaries active is enough to serve every query; replicas fill in behind the swap.
    health = es.cluster.health(index=index, wait_for_status="yellow", timeout="25s")  # < the client's 30 s
    if health.get("timed_out"):
        raise OperatorError(f"The new index {index} is not searchable yet (cluster health {health.get('status')}).")
    # Never swap readers onto less than the load wrote: every page is written (bulk_load waited for
    # them all) and refreshed above; the count proves it rather than trusting the asynchronous
    # refresh Elasticsearch also starts when refresh_interval leaves -1. Dual writes only add.
    searchable = es.count(index=index)["count"]
    if searchable < checkpoint.loaded:
        raise OperatorError(
            f"The new index {index} shows {searchable:,} of the {checkpoint.loaded:,} documents "
            "loaded; the alias was not swapped."
        )


def _swap(definition: IndexDefinition, checkpoint: Checkpoint, lock: ReindexLock) -> None:
    current = _alias_indexes(definition.alias)
    if current != [checkpoint.index]:
        # Recorded before the swap: a crash right after it must still know what to delete.
        checkpoint.old_indexes = [name for name in current if name != checkpoint.index]
        rebuild_checkpoint.save(checkpoint)
        lock.ensure_held()
        actions = [{"remove": {"index": name, "alias": definition.alias}} for name in checkpoint.old_indexes]
        actions.append({"add": {"index": checkpoint.index, "alias": definition.alias, "is_write_index": True}})
        get_es_client().indices.update_aliases(actions=actions)  # one call: atomic for readers
        log.info("reindex.alias_swapped", alias=definition.alias, index=checkpoint.index, old=checkpoint.old_indexes)
    checkpoint.phase = SWAPPED
    rebuild_checkpoint.save(checkpoint)


def _clean_up(definition: IndexDefinition, checkpoint: Checkpoint, keep_old: bool) -> None:
    index_lifecycle.remove_rebuild_target(definition, checkpoint.index)
    if not keep_old and checkpoint.old_indexes:
        time.sleep(IN_FLIGHT_GRACE_SECONDS)
        get_es_client().indices.delete(index=",".join(checkpoint.old_indexes), ignore_unavailable=True)
    rebuild_checkpoint.clear(definition.alias)


def rebuild(index_name: str, options: RebuildOptions, say: Callable[[str], None]) -> RebuildReport:
    definition = PROJECTIONS[index_name].index
    get_es_client().cluster.health()  # fail fast, with one sentence, if Elasticsearch is down
    with reindex_lock(definition.alias) as lock:
        checkpoint = rebuild_checkpoint.load(definition.alias)
        resumed_from = None
        if options.resume:
            if checkpoint is None:
                raise OperatorError(
                    f"There is no interrupted reindex of {definition.alias} to resume; "
                    f"run reindex {index_name} without --resume."
                )
            if not get_es_client().indices.exists(index=checkpoint.index):
                raise OperatorError(
                    f"The index {checkpoint.index} of the interrupted reindex is gone; "
                    f"run reindex {index_name} without --resume to start over."
                )
            index_lifecycle.add_rebuild_target(definition, checkpoint.index)  # idempotent
            resumed_from = checkpoint.last_id
            say(
                f"Resuming {definition.alias} into {checkpoint.index} at phase {checkpoint.phase}, "
                f"after id {checkpoint.last_id}."
            )
        else:
            if checkpoint is not None:
                say(
                    f"Discarding the interrupted reindex into {checkpoint.index} "
                    "(use --resume to continue one instead)."
                )
                _discard(definition, checkpoint)
            checkpoint = _start(definition)
        documents, seconds = 0, 0.0
        try:
            if checkpoint.phase == LOADING:
                documents, seconds = _load(index_name, checkpoint, options, say)
            if checkpoint.phase == LOADED:
                _make_searchable(definition, checkpoint)
                _swap(definition, checkpoint, lock)
            if checkpoint.phase == SWAPPED:
                _clean_up(definition, checkpoint, options.keep_old)
        except Exception as exc:
            # Whatever broke, the checkpoint is consistent: say so, and how to finish.
            reason = (describe_failure(exc) or f"{type(exc).__name__}: {exc}").split(";")[0].rstrip(".")
            raise OperatorError(
                f"The reindex of {definition.alias} stopped at phase {checkpoint.phase} after "
                f"id {checkpoint.last_id} ({reason}); fix that, then finish it with "
                f"`manage.py reindex {index_name} --resume`."
            ) from exc
    log.info(
        "reindex.finished",
        alias=definition.alias,
        index=checkpoint.index,
        old=checkpoint.old_indexes,
        kept_old=options.keep_old,
    )
    return RebuildReport(
        alias=definition.alias,
        index=checkpoint.index,
        old_indexes=checkpoint.old_indexes,
        old_kept=options.keep_old,
        documents=documents,
        load_seconds=seconds,
        resumed_from_id=resumed_from,
    )


def plan(index_name: str, options: RebuildOptions) -> list[str]:
    """What `reindex --dry-run` would do, read-only (no lock taken, nothing written)."""
    definition = PROJECTIONS[index_name].index
    es = get_es_client()
    current = _alias_indexes(definition.alias)
    docs = es.count(index=definition.alias)["count"] if current else 0
    checkpoint = rebuild_checkpoint.load(definition.alias)
    live = definition.settings(bulk_load=False)
    lines = [
        f"{definition.alias} -> {', '.join(current) or '(no alias yet)'} ({docs:,} documents); "
        f"{count_rows(index_name):,} rows in {PROJECTIONS[index_name].table}."
    ]
    if reindex_running(definition.alias):
        lines.append("A reindex of this alias is running now: a real run would stop with an error.")
    if options.resume:
        if checkpoint is None:
            lines.append("Nothing to resume: a real --resume run would stop with an error.")
            return lines
        lines.append(
            f"Would resume into {checkpoint.index} at phase {checkpoint.phase}, "
            f"after id {checkpoint.last_id} "
            f"({count_rows(index_name, after_id=checkpoint.last_id):,} rows left)."
        )
    else:
        if checkpoint is not None:
            lines.append(f"Would discard the interrupted reindex into {checkpoint.index} (phase {checkpoint.phase}).")
        lines.append(
            f"Would create {definition.alias}-<timestamp> (replicas 0, refresh off) and register it as a "
            "dual-write target, then load every row."
        )
    lines.append(
        f"Load in keyset pages of {options.batch_size} rows with {options.workers} parallel bulk workers; "
        f"then set replicas={live['number_of_replicas']}, refresh_interval={live['refresh_interval']}, refresh, "
        f"swap the alias atomically, stop dual writes, {'keep' if options.keep_old else 'delete'} "
        f"{', '.join(current) or 'no old index'}."
    )
    return lines

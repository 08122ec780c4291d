"""Parallel bulk load of one index from PostgreSQL, for rebuilds.

The main thread walks the table by keyset pagination (Projection.walk_pages: `WHERE id > last
ORDER BY id LIMIT n`; no OFFSET, no server-side cursor, so it is safe through pgBouncer's
transaction pooling); a thread pool projects each page (one SQL statement) and bulk-indexes it
with versions. Pages finish out of order, so progress is reported only over the contiguous prefix
of finished pages: the checkpoint it feeds can never skip a row.

Rows are read from `using`: the rebuild passes the replica once it has replayed the primary's WAL
position taken after the dual-write target was registered (read_indexer/lifecycle/replica_reads.py), so no
state a worker indexed into the alias only is older than what the load reads.
May touch: PostgreSQL (read), the target index (versioned writes).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from django.db import connections
from tqdm import tqdm

from read_indexer.projection.indexing import index_documents
from write_service.read_model.projections import PROJECTIONS

MAX_BULK_DOCUMENTS = 2000  # one bulk per page, up to this (--batch-size can be larger)


@dataclass(frozen=True)
class LoadResult:
    documents: int
    seconds: float
    last_id: int

    @property
    def docs_per_second(self) -> float:
        return self.documents / self.seconds if self.seconds > 0 else 0.0


def count_rows(index_name: str, *, after_id: int = 0, using: str = "default") -> int:
    return PROJECTIONS[index_name].count_rows(after_key=after_id, using=using)


def _load_page(index_name: str, target: str, first: int, last: int, using: str) -> int:
    try:
        documents = PROJECTIONS[index_name].project_range(first, last, using)
        # 409s (a newer version already dual-written) count as done.
        index_documents(target, documents, chunk_size=max(1, min(len(documents), MAX_BULK_DOCUMENTS)))
        return len(documents)
    finally:
        connections.close_all()  # this thread's connections only; pgBouncer pools for us


def bulk_load(
    *,
    index_name: str,
    target: str,
    after_id: int,
    batch_size: int,
    workers: int,
    on_progress: Callable[[int, int], None],
    progress_bar: tqdm,
    using: str = "default",
) -> LoadResult:
    """Loads every row with id > after_id into `target`; on_progress(last_id, docs) per finished prefix."""
    projection = PROJECTIONS[index_name]
    started, loaded, last_done = time.monotonic(), 0, after_id
    in_flight: deque[tuple[int, Future]] = deque()

    def finish_head() -> None:
        nonlocal loaded, last_done
        page_last_id, future = in_flight.popleft()
        documents = future.result()  # re-raises a failed page: the checkpoint stays before it
        loaded += documents
        last_done = page_last_id
        progress_bar.update(documents)
        on_progress(last_done, documents)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="bulk-load") as pool:
        try:
            for keys in projection.walk_pages(after_key=after_id, batch_size=batch_size, using=using):
                in_flight.append((keys[-1], pool.submit(_load_page, index_name, target, keys[0], keys[-1], using)))
                # Bounded read-ahead; report finished pages as soon as the head is done.
                while in_flight and (len(in_flight) >= workers * 2 or in_flight[0][1].done()):
                    finish_head()
            while in_flight:
                finish_head()
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return LoadResult(documents=loaded, seconds=time.monotonic() - started, last_id=last_done)

"""Versioned bulk indexing: an older state can never overwrite a newer one.

Every document goes in with version_type=external_gte and the projection's version (a sum of
monotonic row versions read in one snapshot); a 409 means a newer or equal state is already
indexed, which is success for us. Any other failure raises, so the task retries.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import orjson
import structlog
from elasticsearch import helpers

from shared.es_client import get_es_client
from write_service.read_model.projections import ProjectedDocument

log = structlog.get_logger(__name__)


# Per item only what is read below (the helper pairs items with actions, so every item stays): not
# each item's _shards, _seq_no, _primary_term, result and _version to encode, send and parse.
BULK_RESPONSE_FIELDS = "items.*.status,items.*.error,items.*._id"


class BulkIndexError(RuntimeError):
    pass


def bulk_lines(index: str, documents: Iterable[ProjectedDocument]) -> Iterator[tuple[bytes, bytes]]:
    """(action, source) lines of a bulk body, pre-serialised: the source is PostgreSQL's bytes."""
    for doc in documents:
        action = {
            "index": {"_index": index, "_id": str(doc.id), "version": doc.version, "version_type": "external_gte"}
        }
        yield orjson.dumps(action), doc.body


def _as_is(lines: tuple[bytes, bytes]) -> tuple[bytes, bytes]:
    return lines


def index_documents(
    index: str, documents: list[ProjectedDocument], *, refresh: bool = False, chunk_size: int = 500
) -> int:
    """Indexes into `index` (an alias or a physical index); returns how many were written."""
    if not documents:
        return 0
    written, errors = 0, []
    for ok, item in helpers.streaming_bulk(
        get_es_client(),
        bulk_lines(index, documents),
        chunk_size=chunk_size,
        expand_action_callback=_as_is,
        raise_on_error=False,
        raise_on_exception=True,
        refresh=refresh,
        max_retries=3,
        initial_backoff=0.5,
        filter_path=BULK_RESPONSE_FIELDS,
    ):
        result = item.get("index", {})
        if ok:
            written += 1
        elif result.get("status") == 409:
            continue  # a newer (or identical) version is already there
        else:
            errors.append(result)
    if errors:
        raise BulkIndexError(f"{len(errors)} documents failed, first: {errors[0]}")
    return written

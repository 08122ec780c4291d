"""Bring every index to its definition before it is used (`manage.py search_indexes ensure`,
bin/run, the tests and the bench): create a missing alias, update a live index in place when
Elasticsearch can, and rebuild it (lifecycle/rebuild.py) when it cannot.
May touch: Elasticsearch indexes and aliases; PostgreSQL (read) when a rebuild loads rows.
"""

from __future__ import annotations

import structlog
from elasticsearch import BadRequestError

from read_indexer.lifecycle import index_lifecycle, rebuild
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES, IndexDefinition
from write_service.read_model.projections import PROJECTIONS

log = structlog.get_logger(__name__)


def ensure_index(definition: IndexDefinition) -> str:
    """Creates the alias and its first physical index if missing, or brings a live index to the
    definition; returns the physical name.

    Dynamic settings and added fields follow the definition in place (the attempts'
    max_result_window, a new field). A definition Elasticsearch cannot apply in place (another
    analyzer, a changed field type, another index sort) gets a new physical index by the zero-downtime rebuild that
    `manage.py reindex` runs, so `bin/run` and the tests on an older machine need no manual step.
    A new index over a table that already has rows (an index added by an upgrade) is loaded the
    same way, behind the alias just created, writes landing meanwhile included.
    """
    current = index_lifecycle.alias_target(definition)
    if current is None:
        name = index_lifecycle.create_physical_index(definition)
        get_es_client().indices.update_aliases(
            actions=[{"add": {"index": name, "alias": definition.alias, "is_write_index": True}}]
        )
        log.info("index.created", alias=definition.alias, index=name)
        return _rebuild(definition) if _has_rows(definition) else name
    es = get_es_client()
    es.indices.put_settings(index=current, settings={"index": {"max_result_window": definition.max_result_window}})
    if _live_sort(current) != definition.sort:
        log.warning("index.sort_changed", alias=definition.alias, index=current, sort=definition.sort)
        return _rebuild(definition)
    if _live_revision(current) == definition.revision:
        return current
    mappings = definition.mappings()
    try:
        es.indices.put_mapping(index=current, properties=mappings["properties"], meta=mappings["_meta"])
        return current
    except BadRequestError as exc:
        log.warning("index.definition_changed", alias=definition.alias, index=current, reason=str(exc)[:300])
    return _rebuild(definition)


def _has_rows(definition: IndexDefinition) -> bool:
    return PROJECTIONS[definition.name].count_rows() > 0


def _rebuild(definition: IndexDefinition) -> str:
    report = rebuild.rebuild(
        definition.name,
        rebuild.RebuildOptions(),
        say=lambda line: log.info("index.rebuild_progress", alias=definition.alias, line=line),
    )
    return report.index


def _live_revision(index: str) -> str | None:
    mapping = get_es_client().indices.get_mapping(index=index)[index]["mappings"]
    return mapping.get("_meta", {}).get("revision")


def _live_sort(index: str) -> tuple[tuple[str, str], ...]:
    """The index's index.sort as (field, order) pairs; () when unsorted."""
    settings = get_es_client().indices.get_settings(index=index)[index]["settings"]["index"].get("sort", {})
    fields, orders = settings.get("field", []), settings.get("order", [])
    fields, orders = (
        ([fields] if isinstance(fields, str) else fields),
        ([orders] if isinstance(orders, str) else orders),
    )
    return tuple(zip(fields, orders or ["asc"] * len(fields), strict=True))


def ensure_all_indexes() -> dict[str, str]:
    return {name: ensure_index(definition) for name, definition in ALL_INDEXES.items()}

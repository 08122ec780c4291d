"""Index lifecycle: create physical indexes from the shared definitions, point aliases at them,
and know every index a write must reach (the alias, plus a rebuild's new index while it runs)."""
from __future__ import annotations

import structlog
from django_redis import get_redis_connection
from elasticsearch import BadRequestError

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES, IndexDefinition
from write_service.read_model.projections import PROJECTIONS

log = structlog.get_logger(__name__)
REBUILD_TARGETS_KEY = "search:rebuild_targets:{alias}"


def create_physical_index(definition: IndexDefinition, *, bulk_load: bool = False) -> str:
    name = definition.new_physical_name()
    get_es_client().indices.create(
        index=name, settings=definition.settings(bulk_load=bulk_load), mappings=definition.mappings()
    )
    return name


def alias_target(definition: IndexDefinition) -> str | None:
    es = get_es_client()
    if not es.indices.exists_alias(name=definition.alias):
        return None
    return next(iter(es.indices.get_alias(name=definition.alias)))


def ensure_index(definition: IndexDefinition) -> str:
    """Creates the alias and its first physical index if missing, or brings a live index to the
    definition; returns the physical name.

    Dynamic settings and added fields follow the definition in place (the attempts'
    max_result_window, a new field). A definition Elasticsearch cannot apply in place (another
    analyzer, a changed field type) gets a new physical index by the zero-downtime rebuild that
    `manage.py reindex` runs, so `bin/run` and the tests on an older machine need no manual step.
    A new index over a table that already has rows (an index added by an upgrade) is loaded the
    same way, behind the alias just created, writes landing meanwhile included.
    """
    current = alias_target(definition)
    if current is None:
        name = create_physical_index(definition)
        get_es_client().indices.update_aliases(actions=[{"add": {"index": name, "alias": definition.alias, "is_write_index": True}}])
        log.info("index.created", alias=definition.alias, index=name)
        return _rebuild(definition) if _has_rows(definition) else name
    es = get_es_client()
    es.indices.put_settings(index=current, settings={"index": {"max_result_window": definition.max_result_window}})
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
    from read_indexer.lifecycle import rebuild  # it builds on this module

    report = rebuild.rebuild(definition.name, rebuild.RebuildOptions(),
                             say=lambda line: log.info("index.rebuild_progress", alias=definition.alias, line=line))
    return report.index


def _live_revision(index: str) -> str | None:
    mapping = get_es_client().indices.get_mapping(index=index)[index]["mappings"]
    return mapping.get("_meta", {}).get("revision")


def ensure_all_indexes() -> dict[str, str]:
    return {name: ensure_index(definition) for name, definition in ALL_INDEXES.items()}


def write_targets(definition: IndexDefinition) -> list[str]:
    """The alias, plus the new physical index of a rebuild in progress (dual writes)."""
    extra = get_redis_connection("default").smembers(REBUILD_TARGETS_KEY.format(alias=definition.alias))
    return [definition.alias, *sorted(member.decode() for member in extra)]


def add_rebuild_target(definition: IndexDefinition, index: str) -> None:
    get_redis_connection("default").sadd(REBUILD_TARGETS_KEY.format(alias=definition.alias), index)


def remove_rebuild_target(definition: IndexDefinition, index: str) -> None:
    get_redis_connection("default").srem(REBUILD_TARGETS_KEY.format(alias=definition.alias), index)

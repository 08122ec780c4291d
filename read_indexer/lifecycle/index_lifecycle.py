"""Index lifecycle: create physical indexes from the shared definitions, find what an alias points
at, and know every index a write must reach (the alias, plus a rebuild's new index while it runs).
Bringing an index to its definition (which may take a rebuild) is lifecycle/ensure.py."""

from __future__ import annotations

from django_redis import get_redis_connection

from shared.es_client import get_es_client
from shared.indexes import IndexDefinition

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


def write_targets(definition: IndexDefinition) -> list[str]:
    """The alias, plus the new physical index of a rebuild in progress (dual writes)."""
    extra = get_redis_connection("default").smembers(REBUILD_TARGETS_KEY.format(alias=definition.alias))
    return [definition.alias, *sorted(member.decode() for member in extra)]


def add_rebuild_target(definition: IndexDefinition, index: str) -> None:
    get_redis_connection("default").sadd(REBUILD_TARGETS_KEY.format(alias=definition.alias), index)


def remove_rebuild_target(definition: IndexDefinition, index: str) -> None:
    get_redis_connection("default").srem(REBUILD_TARGETS_KEY.format(alias=definition.alias), index)

"""A scan of every index proves no private field is stored: documents hold only declared fields
(mappings are `dynamic: strict`), and no email or password material appears in any value."""

from __future__ import annotations

import re

from elasticsearch import helpers

from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.helpers import make_tenant, wait_until
from write_service.accounts.models import User
from write_service.discussions.services import post_create

PRIVATE_NAMES = {"email", "password", "answers", "raw_answers", "key_hash", "token", "first_name", "last_name"}
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def _field_names(value, prefix=""):
    if isinstance(value, dict):
        for key, inner in value.items():
            yield f"{prefix}{key}"
            yield from _field_names(inner, f"{prefix}{key}.")
    elif isinstance(value, list):
        for inner in value:
            yield from _field_names(inner, prefix)


def _declared(properties: dict, prefix="") -> set[str]:
    names = set()
    for key, spec in properties.items():
        names.add(f"{prefix}{key}")
        names |= _declared(spec.get("properties", {}), f"{prefix}{key}.")
    return names


def test_no_index_stores_private_fields(pipeline):
    tenant = make_tenant(candidates=1)
    User.objects.filter(pk=tenant.staff.pk).update(email="secret.person@example.com")
    post = post_create(actor=tenant.staff, title="scan me", body="nothing private here")
    es = get_es_client()
    wait_until(
        lambda: es.options(ignore_status=404).get(index=ALL_INDEXES["posts"].alias, id=str(post.pk)).body.get("found"),
        timeout=30,
        message="the post indexed",
    )
    scanned = 0
    for name, definition in ALL_INDEXES.items():
        mapping = next(iter(es.indices.get_mapping(index=definition.alias).body.values()))["mappings"]
        assert mapping["dynamic"] == "strict", name
        declared = _declared(definition.mappings()["properties"])
        for hit in helpers.scan(es, index=definition.alias, query={"query": {"match_all": {}}}):
            names = set(_field_names(hit["_source"]))
            assert names <= declared, (name, names - declared)
            assert not {n.split(".")[-1] for n in names} & PRIVATE_NAMES, (name, hit["_id"])
            assert not EMAIL.search(str(hit["_source"])), (name, hit["_id"])
            scanned += 1
    assert scanned > 0

"""Each document's shape is declared three times (mapping in shared/indexes.py, projection SQL in
write_service/read_model/projections.py, list schemas in search_api/lists.py): these tests prove
the three agree, field by field, for every index, on documents PostgreSQL really renders."""

from __future__ import annotations

from decimal import Decimal

import pytest

from search_api.lists import ALL_LISTS
from shared.indexes import ALL_INDEXES
from tests.helpers import make_tenant
from write_service.assessments.services import assessment_create, attempt_start, attempt_submit
from write_service.discussions.services import comment_create, post_create
from write_service.read_model.projections import PROJECTIONS

# JSON values each mapping type accepts (PostgreSQL renders float8 as a JSON number, dates as ISO text).
JSON_TYPES = {
    "long": (int,),
    "integer": (int,),
    "double": (int, float),
    "keyword": (str,),
    "text": (str,),
    "date": (str,),
    "boolean": (bool,),
}


def _mapped_fields(properties: dict, prefix: str = "") -> dict[str, dict]:
    """Every leaf field of a mapping by its dotted path (multi-field subfields included)."""
    fields = {}
    for name, spec in properties.items():
        path = f"{prefix}{name}"
        if "properties" in spec:
            fields.update(_mapped_fields(spec["properties"], f"{path}."))
            continue
        fields[path] = spec
        for sub, sub_spec in spec.get("fields", {}).items():
            fields[f"{path}.{sub}"] = sub_spec
    return fields


def _document_fields(source: dict, prefix: str = "") -> dict[str, object]:
    fields = {}
    for name, value in source.items():
        if isinstance(value, dict):
            fields.update(_document_fields(value, f"{prefix}{name}."))
        else:
            fields[f"{prefix}{name}"] = value
    return fields


@pytest.fixture(scope="module")
def one_row_of_each_index():
    tenant = make_tenant(candidates=1)
    assessment = assessment_create(
        actor=tenant.staff,
        title="Shapes of graphs",
        description="Every field set",
        tags=["graphs"],
        difficulty="medium",
        cut_off=Decimal(5),
        max_score=Decimal(10),
        duration_minutes=30,
        status="published",
    )
    attempt = attempt_start(actor=tenant.candidates[0], assessment_id=assessment.pk)
    attempt_submit(actor=tenant.candidates[0], attempt_id=attempt.pk, score=Decimal(7))
    post = post_create(
        actor=tenant.staff, title="A post", body="with a body", tags=["graphs"], assessment_id=assessment.pk
    )
    comment = comment_create(actor=tenant.candidates[0], post_id=post.pk, body="a comment on graphs")
    return {"assessments": assessment.pk, "attempts": attempt.pk, "posts": post.pk, "comments": comment.pk}


def test_every_index_has_a_projection_and_every_list_an_index():
    assert set(ALL_INDEXES) == set(PROJECTIONS)
    assert {schema.index.name for schema in ALL_LISTS} <= set(PROJECTIONS)


@pytest.mark.parametrize("index_name", sorted(PROJECTIONS))
def test_the_projection_fills_exactly_the_mapped_fields_with_their_types(index_name, one_row_of_each_index):
    projection = PROJECTIONS[index_name]
    document = projection.project([one_row_of_each_index[index_name]])[0].source
    mapped = {
        path: spec
        for path, spec in _mapped_fields(projection.index.mappings()["properties"]).items()
        if "." not in path or path.split(".", 1)[0] not in _subfield_parents(projection)
    }
    rendered = _document_fields(document)
    assert set(rendered) == set(mapped)
    wrong = {
        path: (value, mapped[path]["type"])
        for path, value in rendered.items()
        if not _holds(value, JSON_TYPES[mapped[path]["type"]])
    }
    assert wrong == {}
    assert all(value is not None for path, value in rendered.items() if path in ("deleted", projection.id_field))


def _holds(value, types: tuple) -> bool:
    """A field holds null, a value of its type, or an array of them (a keyword field's tags)."""
    values = value if isinstance(value, list) else [value]
    return all(v is None or (isinstance(v, types) and not (bool not in types and isinstance(v, bool))) for v in values)


def _subfield_parents(projection) -> set[str]:
    """Top-level fields with multi-field subfields (`title.sort`): the document holds only the parent."""
    return {name for name, spec in projection.index.properties.items() if "fields" in spec}


@pytest.mark.parametrize("index_name", sorted(PROJECTIONS))
def test_tombstones_hold_only_mapped_fields(index_name):
    projection = PROJECTIONS[index_name]
    mapped = _mapped_fields(projection.index.mappings()["properties"])
    # A hard-deleted id: the projection renders its tombstone from what the change left.
    tombstones = [d for d in projection.project([2**40]) if d.source.get("deleted")]
    for tombstone in tombstones:
        assert set(_document_fields(tombstone.source)) <= set(mapped)
        assert tombstone.source[projection.id_field] == 2**40


@pytest.mark.parametrize("schema", ALL_LISTS, ids=lambda s: s.name)
def test_every_list_reads_fields_its_index_maps(schema):
    mapped = _mapped_fields(schema.index.mappings()["properties"])
    top_level = set(schema.index.mappings()["properties"])
    derived = {f.field for f in schema.filters if f.derived} | {f.field for f in schema.facets if f.derived}
    assert set(schema.row) - top_level - derived == set(), "row fields the documents do not hold"
    assert {f.field for f in schema.filters if not f.derived} - set(mapped) == set()
    assert {f.field for f in schema.facets if not f.derived} - set(mapped) == set()
    sort_fields = {field for ordering in schema.orderings for field, _ in ordering.sort} - {"_score"}
    assert sort_fields - set(mapped) == set()
    assert {field.split("^")[0] for field in schema.search_fields} - set(mapped) == set()
    assert schema.id_field in mapped

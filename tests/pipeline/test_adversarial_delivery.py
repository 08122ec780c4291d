"""Nothing stale wins, deleted stays deleted: duplicated, reordered and delayed deliveries.

Every intermediate state of a post, an attempt and an assessment is captured as the projection
produced at that moment (as a slow worker would hold it), then all of them are indexed in a
random order with duplicates, interleaved with re-deliveries of the real events. At the end,
every document must equal the database's current projection.
"""

from __future__ import annotations

import random
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from read_indexer.projection.documents import write_documents
from read_indexer.projection.event_projection import project_events
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from tests.helpers import make_tenant, row_changes
from tests.pipeline.conftest import es_source
from write_service.assessments import services as assessments
from write_service.assessments.models import Assessment
from write_service.discussions import services as discussions
from write_service.outbox.models import OutboxEvent
from write_service.read_model.projections import PROJECTIONS

OPERATIONS = st.lists(
    st.sampled_from(["edit", "comment", "uncomment", "cut_off", "submit_other"]), min_size=1, max_size=6
)


def _snapshot(snapshots: list, index: str, doc_id: int) -> None:
    snapshots.extend((index, doc) for doc in PROJECTIONS[index].project([doc_id]))


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(operations=OPERATIONS, delete_at_end=st.booleans(), data=st.data())
def test_random_delivery_orders_converge_to_the_database(operations, delete_at_end, data):
    tenant = make_tenant(candidates=4)
    staff, first = tenant.staff, tenant.candidates[0]
    assessment = assessments.assessment_create(
        actor=staff, title="adv", cut_off=Decimal(50), max_score=Decimal(100), duration_minutes=10, status="published"
    )
    attempt = assessments.attempt_start(actor=first, assessment_id=assessment.pk)
    assessments.attempt_submit(actor=first, attempt_id=attempt.pk, score=Decimal(60))
    post = discussions.post_create(actor=staff, title="adv post", body="b", assessment_id=assessment.pk)
    snapshots: list = []
    others = iter(tenant.candidates[1:])
    comments = []
    first_event = row_changes(Assessment, assessment.pk).order_by("id").first().id

    def capture():
        _snapshot(snapshots, "posts", post.pk)
        _snapshot(snapshots, "attempts", attempt.pk)
        _snapshot(snapshots, "assessments", assessment.pk)

    from write_service.read_model.counters import apply_counters_batch

    capture()
    for step, operation in enumerate(operations):
        if operation == "edit":
            discussions.post_update(actor=staff, post_id=post.pk, changes={"title": f"edit {step}"})
        elif operation == "comment":
            comments.append(discussions.comment_create(actor=staff, post_id=post.pk, body="c"))
        elif operation == "uncomment" and comments:
            discussions.comment_delete(actor=staff, comment_id=comments.pop().pk)
        elif operation == "cut_off":
            assessments.assessment_update(
                actor=staff, assessment_id=assessment.pk, changes={"cut_off": Decimal(40 + step * 5)}
            )
        elif operation == "submit_other":
            other = next(others, None)
            if other is not None:
                other_attempt = assessments.attempt_start(actor=other, assessment_id=assessment.pk)
                assessments.attempt_submit(actor=other, attempt_id=other_attempt.pk, score=Decimal(70 + step))
        apply_counters_batch()  # counters move versions too, as the counters worker would
        capture()
    if delete_at_end:
        discussions.post_delete(actor=staff, post_id=post.pk)
        assessments.assessment_delete(actor=staff, assessment_id=assessment.pk)
        capture()

    # Deletes stay deleted even with tombstone GC at zero: we never rely on delete tombstones.
    for index in ("posts", "attempts", "assessments"):
        get_es_client().indices.put_settings(index=ALL_INDEXES[index].alias, settings={"index.gc_deletes": "0s"})

    deliveries = data.draw(st.permutations(snapshots + snapshots[: len(snapshots) // 2]))
    # The running counters worker adds events of its own at its own pace, so how many there are is
    # not part of the example: their order comes from a drawn seed, not from a drawn permutation.
    event_order = random.Random(data.draw(st.integers(min_value=0, max_value=2**32 - 1), label="event order seed"))
    event_ids = list(OutboxEvent.objects.filter(id__gte=first_event).order_by("id").values_list("id", flat=True))
    for i, (index, doc) in enumerate(deliveries):
        write_documents(index, [doc])
        if i % 3 == 0:  # real events re-delivered in between (they re-read current state)
            OutboxEvent.objects.filter(id__in=event_ids).update(indexed_at=None)
            project_events(event_order.sample(event_ids, len(event_ids)))

    for index, doc_id in (("posts", post.pk), ("attempts", attempt.pk), ("assessments", assessment.pk)):
        expected = PROJECTIONS[index].project([doc_id])[0]
        assert es_source(index, doc_id) == expected.source, (index, doc_id)
        if delete_at_end:
            assert expected.source["deleted"] is True

"""An index added by an upgrade (the comments index, over a table that already had rows) is loaded
by `search_indexes ensure`, not left empty behind its new alias: run here under a prefix of its own,
where no alias exists yet, then verified clean like any index."""

from __future__ import annotations

import os

from shared.es_client import get_es_client
from tests.helpers import make_tenant
from tests.operators.support import json_output, manage
from write_service.discussions.models import Comment
from write_service.discussions.services import comment_create, post_create


def test_ensure_loads_a_new_index_over_existing_rows():
    tenant = make_tenant(candidates=0)
    post = post_create(actor=tenant.staff, title="upgraded", body="b")
    for i in range(3):
        comment_create(actor=tenant.staff, post_id=post.pk, body=f"written before the index existed {i}")
    prefix = f"{os.environ.get('ES_INDEX_PREFIX', '')}upgrade_"
    es = get_es_client()
    try:
        result = manage("search_indexes", "ensure", ES_INDEX_PREFIX=prefix)
        assert result.returncode == 0, result.stderr[-2000:]
        es.indices.refresh(index=f"{prefix}comments")
        assert es.count(index=f"{prefix}comments")["count"] >= Comment.objects.count() > 0
        verified = manage("verify", "comments", "--json", ES_INDEX_PREFIX=prefix)
        assert verified.returncode == 0, verified.stderr[-2000:]
        assert json_output(verified)["indexes"][0]["drift_counts"] == {
            "missing": 0,
            "stale": 0,
            "ahead": 0,
            "orphan": 0,
        }
    finally:
        created = list(es.indices.get(index=f"{prefix}*").body)  # deletes take names, not wildcards
        if created:
            es.indices.delete(index=",".join(created))

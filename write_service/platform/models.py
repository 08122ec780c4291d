"""Cross-cutting write-side tables: idempotency records and version counters' shared base."""

from django.db import models


class VersionedModel(models.Model):
    """A row whose `version` rises on every change, including counter changes made by the pipeline.

    A search document's version is the sum of the versions of the rows it is derived from, read
    in one snapshot; Elasticsearch indexes with version_type=external_gte, so an older state can
    never overwrite a newer one.
    """

    version = models.BigIntegerField(default=1)

    class Meta:
        abstract = True


class IdempotencyRecord(models.Model):
    """The first response to a POST carrying an Idempotency-Key, replayed for retries for 24 h."""

    key = models.CharField(max_length=255)
    user_id = models.BigIntegerField()
    method_path = models.CharField(max_length=512)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user_id", "key"], name="idempotency_unique_user_key")]

"""Discussion posts and comments. comments_count and last_activity_at are pipeline-maintained."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models

from write_service.accounts.models import Organisation
from write_service.assessments.models import Assessment
from write_service.platform.models import VersionedModel


class Post(VersionedModel):
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts")
    assessment = models.ForeignKey(Assessment, on_delete=models.PROTECT, null=True, blank=True, related_name="posts")
    title = models.CharField(max_length=300)
    body = models.TextField()
    tags = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    comments_count = models.BigIntegerField(default=0)
    last_activity_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["organisation", "-created_at"], name="post_org_created"),
            models.Index(fields=["assessment", "-created_at"], name="post_assessment_created"),
            models.Index(fields=["-comments_count"], name="post_comments_count"),
            GinIndex(fields=["tags"], name="post_tags_gin"),
        ]


class Comment(VersionedModel):
    post = models.ForeignKey(Post, on_delete=models.PROTECT, related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="comments")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["post", "created_at"], name="comment_post_created")]

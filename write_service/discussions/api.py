"""Write API of discussions: posts and comments."""

from rest_framework import serializers, status
from rest_framework.response import Response

from write_service.discussions import services
from write_service.discussions.models import Comment, Post
from write_service.platform.idempotency import idempotent_post
from write_service.platform.serializers import StrictInputSerializer, TagListField
from write_service.platform.views import ApiView


class PostInput(StrictInputSerializer):
    title = serializers.CharField(max_length=300)
    body = serializers.CharField(max_length=50000)
    tags = TagListField(required=False)
    assessment = serializers.IntegerField(min_value=1, max_value=2**63 - 1, required=False, allow_null=True)


def _post_changes(validated: dict) -> dict:
    changes = dict(validated)
    if "assessment" in changes:
        changes["assessment_id"] = changes.pop("assessment")
    return changes


def post_output(p: Post) -> dict:
    return {
        "id": p.pk,
        "organisation": p.organisation_id,
        "author": p.author_id,
        "assessment": p.assessment_id,
        "title": p.title,
        "body": p.body,
        "tags": p.tags,
        "comments_count": p.comments_count,
        "created_at": p.created_at.isoformat(),
        "updated_at": p.updated_at.isoformat(),
    }


def comment_output(c: Comment) -> dict:
    return {
        "id": c.pk,
        "post": c.post_id,
        "author": c.author_id,
        "body": c.body,
        "created_at": c.created_at.isoformat(),
    }


class PostCreateView(ApiView):
    @idempotent_post
    def post(self, request):
        data = PostInput(data=request.data)
        data.is_valid(raise_exception=True)
        post = services.post_create(actor=request.user, **_post_changes(data.validated_data))
        return Response(post_output(post), status=status.HTTP_201_CREATED)


class PostDetailView(ApiView):
    def patch(self, request, post_id: int):
        data = PostInput(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        post = services.post_update(actor=request.user, post_id=post_id, changes=_post_changes(data.validated_data))
        return Response(post_output(post))

    def delete(self, request, post_id: int):
        services.post_delete(actor=request.user, post_id=post_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CommentInput(StrictInputSerializer):
    body = serializers.CharField(max_length=10000)


class CommentCreateView(ApiView):
    @idempotent_post
    def post(self, request, post_id: int):
        data = CommentInput(data=request.data)
        data.is_valid(raise_exception=True)
        comment = services.comment_create(actor=request.user, post_id=post_id, **data.validated_data)
        return Response(comment_output(comment), status=status.HTTP_201_CREATED)


class CommentDetailView(ApiView):
    def delete(self, request, comment_id: int):
        services.comment_delete(actor=request.user, comment_id=comment_id)
        return Response(status=status.HTTP_204_NO_CONTENT)

"""Routes of the read API (base /search/v1/), its OpenAPI document and health endpoints."""

from django.urls import path, register_converter

from search_api import health, metrics, views
from search_api.errors import BadRequest, NotFound
from search_api.responses import error_response, json_response
from shared.url_converters import BigIdConverter

register_converter(BigIdConverter, "id")

urlpatterns = [
    path("search/v1/assessments", views.assessment_list, name="assessments"),
    # Listed before <id:...>: the literal segment wins whatever that converter accepts.
    path("search/v1/assessments/suggest", views.assessment_suggest, name="assessment_suggest"),
    path("search/v1/assessments/<id:assessment_id>", views.assessment_detail, name="assessment"),
    path("search/v1/assessments/<id:assessment_id>/leaderboard", views.leaderboard, name="leaderboard"),
    path("search/v1/attempts", views.attempt_list, name="attempts"),
    path("search/v1/attempts/<id:attempt_id>", views.attempt_detail, name="attempt"),
    path("search/v1/posts", views.post_list, name="posts"),
    path("search/v1/posts/suggest", views.post_suggest, name="post_suggest"),
    path("search/v1/posts/<id:post_id>/comments", views.post_comments, name="post_comments"),
    path("search/v1/schema", views.schema, name="schema"),
    path("search/health/live", health.live, name="health_live"),
    path("search/health/ready", health.ready, name="health_ready"),
    path("search/metrics", metrics.metrics_view, name="metrics"),
]


def bad_request(request, exception=None):
    return error_response(BadRequest("Bad request."))


def not_found(request, exception=None):
    return error_response(NotFound())


def server_error(request):
    return json_response({"errors": {"detail": ["Internal server error."]}}, status=500)


handler400 = "search_api.urls.bad_request"
handler404 = "search_api.urls.not_found"
handler500 = "search_api.urls.server_error"

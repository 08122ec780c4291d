"""Routes of the write API (base /api/v1/), health endpoints and the OpenAPI document."""

from django.urls import path, register_converter
from drf_spectacular.views import SpectacularAPIView

from shared.url_converters import BigIdConverter
from write_service.accounts import api as accounts
from write_service.assessments import api as assessments
from write_service.discussions import api as discussions
from write_service.platform import health, metrics

register_converter(BigIdConverter, "id")

api = [
    path("auth/token", accounts.TokenView.as_view()),
    path("auth/token/revoke", accounts.TokenRevokeView.as_view()),
    path("auth/login", accounts.LoginView.as_view()),
    path("auth/logout", accounts.LogoutView.as_view()),
    path("users", accounts.UserCreateView.as_view()),
    path("assessments", assessments.AssessmentListCreateView.as_view()),
    path("assessments/<id:assessment_id>", assessments.AssessmentDetailView.as_view()),
    path("assessments/<id:assessment_id>/attempts", assessments.AttemptStartView.as_view()),
    path("attempts/<id:attempt_id>/submit", assessments.AttemptSubmitView.as_view()),
    path("posts", discussions.PostCreateView.as_view()),
    path("posts/<id:post_id>", discussions.PostDetailView.as_view()),
    path("posts/<id:post_id>/comments", discussions.CommentCreateView.as_view()),
    path("comments/<id:comment_id>", discussions.CommentDetailView.as_view()),
    path("schema", SpectacularAPIView.as_view(), name="schema"),
]

urlpatterns = [
    *[path(f"api/v1/{p.pattern}", p.callback, name=p.name) for p in api],
    path("health/live", health.live),
    path("health/ready", health.ready),
    path("metrics", metrics.metrics_view),
]

handler404 = "write_service.platform.health.not_found"
handler500 = "write_service.platform.health.server_error"

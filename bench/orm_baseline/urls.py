from django.urls import path

from bench.orm_baseline import views
from write_service.platform import health

urlpatterns = [
    path("bench/orm/assessments/<int:assessment_id>/leaderboard", views.LeaderboardView.as_view()),
    path("bench/orm/attempts", views.AttemptListView.as_view()),
    path("health/live", health.live),
]

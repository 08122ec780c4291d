from django.apps import AppConfig


class DiscussionsConfig(AppConfig):
    name = "write_service.discussions"
    label = "discussions"

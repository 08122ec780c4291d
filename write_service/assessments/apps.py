from django.apps import AppConfig


class AssessmentsConfig(AppConfig):
    name = "write_service.assessments"
    label = "assessments"

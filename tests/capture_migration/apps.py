from django.apps import AppConfig


class CaptureMigrationConfig(AppConfig):
    name = "tests.capture_migration"
    label = "capture_migration"

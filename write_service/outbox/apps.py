from django.apps import AppConfig


class OutboxConfig(AppConfig):
    name = "write_service.outbox"
    label = "outbox"

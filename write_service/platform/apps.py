from django.apps import AppConfig


class PlatformConfig(AppConfig):
    name = "write_service.platform"
    label = "platform"

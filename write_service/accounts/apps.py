from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "write_service.accounts"
    label = "accounts"

from django.apps import AppConfig


class ReadIndexerConfig(AppConfig):
    """Registered only so operators' management commands run from the root manage.py."""

    name = "read_indexer"
    label = "read_indexer"

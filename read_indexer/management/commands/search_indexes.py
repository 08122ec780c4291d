"""`manage.py search_indexes ensure|list`: create missing aliases/indexes, or list them."""

from django.core.management.base import BaseCommand, CommandError
from elasticsearch import ConnectionError as ESConnectionError

from read_indexer.lifecycle import ensure, index_lifecycle
from shared.indexes import ALL_INDEXES


class Command(BaseCommand):
    help = "Create the search indexes and aliases if missing (ensure), or list them (list)."

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["ensure", "list"])

    def handle(self, *args, action, **options):
        try:
            if action == "ensure":
                for name, physical in ensure.ensure_all_indexes().items():
                    self.stdout.write(f"{ALL_INDEXES[name].alias} -> {physical}")
            else:
                for definition in ALL_INDEXES.values():
                    self.stdout.write(
                        f"{definition.alias} -> {index_lifecycle.alias_target(definition) or '(missing)'}"
                    )
        except ESConnectionError:
            raise CommandError("Elasticsearch is unreachable; start it with bin/stack up.") from None

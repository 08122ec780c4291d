"""`manage.py listen_changes`: the change listener (read_indexer.capture.change_listener), one per deployment."""

from django.core.management.base import BaseCommand

from read_indexer.capture import change_listener


class Command(BaseCommand):
    help = "LISTEN for captured changes on the primary and forward them to the indexing and counters workers."

    def handle(self, *args, **options):
        change_listener.run()

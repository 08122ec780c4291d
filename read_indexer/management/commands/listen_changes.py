"""`manage.py listen_changes`: the change listener (read_indexer.capture.change_listener), one per
deployment, with the searchable horizon's publisher (read_indexer.capture.searchable_horizon) beside it."""

from django.core.management.base import BaseCommand

from read_indexer.capture import change_listener, searchable_horizon


class Command(BaseCommand):
    help = (
        "LISTEN for captured changes on the primary and forward them to the indexing and counters workers;"
        " publish the searchable horizon while a consistency token is waited on."
    )

    def handle(self, *args, **options):
        searchable_horizon.start()
        change_listener.run()

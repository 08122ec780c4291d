from django.apps import AppConfig


class ReadIndexerConfig(AppConfig):
    """Installed in the project's Django settings so operators' management commands run from the
    root manage.py, and so /metrics shows the pipeline's gauges (outbox backlog, queues, lag)."""

    name = "read_indexer"
    label = "read_indexer"

    def ready(self):
        from read_indexer.operations.pipeline_gauges import PipelineCollector
        from shared.request_metrics import add_scrape_time_collector

        add_scrape_time_collector(PipelineCollector())

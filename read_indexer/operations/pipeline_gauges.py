"""The pipeline's health as Prometheus gauges, computed at scrape time: outbox backlog, Celery queue
depths and commit-to-indexed lag, read by the same functions as `manage.py pipeline_status`.

read_indexer's AppConfig adds PipelineCollector to the scrape-time collectors
(shared.request_metrics), so write_service's /metrics serves it (one place, beside a database
connection it already has) without importing read_indexer.
May touch: per scrape, read_indexer.operations.pipeline_status's indexed outbox counts, the
broker's queue lengths and the lag samples in Redis.
"""

from __future__ import annotations

import structlog
from prometheus_client.core import GaugeMetricFamily

log = structlog.get_logger(__name__)


class PipelineCollector:
    """Outbox backlog, Celery queue depths and commit-to-indexed lag, computed at scrape time.

    Each source is read on its own: an unreachable Redis still leaves the outbox numbers, and
    `pipeline_metrics_source_up` says which source failed instead of failing the scrape.
    """

    def collect(self):
        # Imported at the first scrape, not when the AppConfig adds the collector: a write service
        # process that is never scraped loads none of the read side.
        from read_indexer.observability import lag
        from read_indexer.operations import pipeline_status

        up = GaugeMetricFamily(
            "pipeline_metrics_source_up", "1 when the source answered during this scrape", labels=["source"]
        )
        outbox = self._read("outbox", pipeline_status.outbox)
        up.add_metric(["outbox"], 0.0 if outbox is None else 1.0)
        if outbox is not None:
            backlog = GaugeMetricFamily(
                "outbox_backlog_events", "Committed events not yet processed, by stage", labels=["stage"]
            )
            backlog.add_metric(["indexing"], outbox["unindexed"])
            backlog.add_metric(["counters"], outbox["uncounted"])
            yield backlog
            oldest = GaugeMetricFamily(
                "outbox_oldest_unprocessed_seconds",
                "Age of the oldest unprocessed event (0 when none), by stage",
                labels=["stage"],
            )
            oldest.add_metric(["indexing"], outbox["oldest_unindexed_seconds"] or 0.0)
            oldest.add_metric(["counters"], outbox["oldest_uncounted_seconds"] or 0.0)
            yield oldest
            dead = GaugeMetricFamily("outbox_dead_letters", "Events parked as dead letters (need an operator)")
            dead.add_metric([], outbox["dead_letters"])
            yield dead

        queues = self._read("queues", pipeline_status.queues)
        up.add_metric(["queues"], 0.0 if queues is None else 1.0)
        if queues is not None:
            depth = GaugeMetricFamily("celery_queue_length", "Messages waiting in a broker queue", labels=["queue"])
            for queue, length in sorted(queues["depths"].items()):
                depth.add_metric([queue], length)
            yield depth
            unacked = GaugeMetricFamily("celery_unacked_messages", "Delivered to a worker, not yet acknowledged")
            unacked.add_metric([], queues["unacked"])
            yield unacked
            orphaned = GaugeMetricFamily(
                "celery_unacked_orphaned_messages", "Unacknowledged past the longest task hold: their worker died"
            )
            orphaned.add_metric([], queues["unacked_orphaned"])
            yield orphaned

        lag_now = self._read("lag", lag.percentiles)
        up.add_metric(["lag"], 0.0 if lag_now is None else 1.0)
        if lag_now is not None:
            samples = GaugeMetricFamily("pipeline_indexing_lag_samples", "Indexed events in the last 5 minutes")
            samples.add_metric([], lag_now["samples"])
            yield samples
            if lag_now["samples"]:
                quantiles = GaugeMetricFamily(
                    "pipeline_indexing_lag_seconds",
                    "Commit-to-indexed lag over the last 5 minutes",
                    labels=["quantile"],
                )
                quantiles.add_metric(["0.5"], lag_now["p50"])
                quantiles.add_metric(["0.99"], lag_now["p99"])
                quantiles.add_metric(["1"], lag_now["max"])
                yield quantiles
        yield up

    @staticmethod
    def _read(source: str, read):
        try:
            return read()
        except Exception as exc:  # a scrape reports a broken source; it never fails the endpoint
            log.warning("metrics.source_failed", source=source, error=str(exc)[:200])
            return None

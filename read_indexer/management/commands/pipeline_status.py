"""`manage.py pipeline_status [--json]`: the pipeline at a glance, for humans or scripts.

Thin: read_indexer.operations.pipeline_status collects and renders. Exit 0 = healthy, 1 = warnings,
2 = a service could not be reached (the other sections are still printed).
"""

import orjson

from read_indexer.errors import OperatorError
from read_indexer.operations import pipeline_status
from read_indexer.operations.operator_cli import OperatorCommand, ProblemFound


class Command(OperatorCommand):
    help = (
        "Outbox backlog, Celery queues, dead letters, indexing lag, aliases and indexes, Elasticsearch's "
        "health, nodes and shards, replica lag and PostgreSQL's failover state."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="machine-readable output")

    def operate(self, *, json, **_):
        status = pipeline_status.collect()
        if json:
            self.stdout.write(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode())
        else:
            for line in pipeline_status.render(status):
                self.stdout.write(line)
        if status["unreachable"]:
            raise OperatorError(" ".join(status["unreachable"]))
        if status["warnings"]:
            raise ProblemFound(f"{len(status['warnings'])} warning(s): {'; '.join(status['warnings'])}.")

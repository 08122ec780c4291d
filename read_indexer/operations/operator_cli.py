"""What every operator command shares: one-sentence errors and exit codes, never a traceback.

Exit codes (documented in the README's Operations section):
  0  success
  1  the command ran and found a problem the operator must act on (drift, unhealthy pipeline)
  2  the command could not do its job (unknown index, a service unreachable, a lock held, ...)
  130 interrupted (Ctrl-C); a reindex can then be finished with --resume
May touch: nothing but the exception it is given. Commands subclass OperatorCommand.
"""
from __future__ import annotations

import logging

import django.db.utils
import elastic_transport
import psycopg2
import redis.exceptions
import structlog
from django.core.management.base import BaseCommand, CommandError

from shared.config import ConfigError, load_config
from shared.indexes import ALL_INDEXES

log = structlog.get_logger(__name__)
EXIT_PROBLEM_FOUND = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


class OperatorError(Exception):
    """A failure the operator can act on; the message is one complete sentence."""


class ProblemFound(Exception):
    """The command worked and found something wrong (exit 1); the message summarises it."""


def index_names(requested: str) -> list[str]:
    """`all` or one index name -> names; anything else is an OperatorError naming the choices."""
    if requested == "all":
        return list(ALL_INDEXES)
    if requested not in ALL_INDEXES:
        raise OperatorError(f"Unknown index {requested!r}; choose one of: {', '.join([*ALL_INDEXES, 'all'])}.")
    return [requested]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def describe_failure(exc: BaseException) -> str | None:
    """One sentence for a failure of a service we depend on, or None if it is not one."""
    config = load_config()
    if isinstance(exc, (OperatorError, ConfigError)):
        return str(exc)
    if isinstance(exc, (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout)):
        return f"Elasticsearch is unreachable at {config.es_url}; start it (bin/stack up) and retry."
    if isinstance(exc, (django.db.utils.OperationalError, django.db.utils.InterfaceError,
                        psycopg2.OperationalError, psycopg2.InterfaceError)):
        return (f"PostgreSQL is unreachable or refused the connection ({_first_line(exc)}); "
                "check bin/stack status and retry.")
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return f"Redis is unreachable at {config.redis_url}; start it (bin/stack up) and retry."
    return None


class OperatorCommand(BaseCommand):
    """A management command whose failures are one sentence on stderr and a non-zero exit.

    Subclasses implement `operate(**options)` instead of `handle`.
    """

    requires_system_checks: list = []  # operator tools must start even if an unrelated check fails

    def operate(self, **options) -> None:
        raise NotImplementedError

    def handle(self, *args, **options):
        # The client's per-retry warnings (with exception objects) repeat what our one sentence
        # says; operators get the sentence, the logs keep everything from ERROR up.
        logging.getLogger("elastic_transport").setLevel(logging.ERROR)
        try:
            self.operate(**options)
        except ProblemFound as exc:
            raise CommandError(str(exc), returncode=EXIT_PROBLEM_FOUND) from exc
        except KeyboardInterrupt:
            raise CommandError("Interrupted; nothing was left half-done that a rerun (with --resume for reindex) "
                               "cannot finish.", returncode=EXIT_INTERRUPTED) from None
        except CommandError:
            raise
        except Exception as exc:
            sentence = describe_failure(exc)
            if sentence is None:
                # Unknown failure: still one sentence; --traceback shows the chained original.
                log.error("operator_command.failed", command=self.__module__.rsplit(".", 1)[-1],
                          error_type=type(exc).__name__, error=_first_line(exc))
                sentence = f"Unexpected {type(exc).__name__}: {_first_line(exc)}; rerun with --traceback for details."
            raise CommandError(sentence, returncode=EXIT_FAILED) from exc

"""What every operator command shares: one-sentence errors and exit codes, never a traceback.

Exit codes (documented in docs/OPERATIONS.md):
  0  success
  1  the command ran and found a problem the operator must act on (drift, unhealthy pipeline)
  2  the command could not do its job (unknown index, a service unreachable, a lock held, ...)
  130 interrupted (Ctrl-C); a reindex can then be finished with --resume
Commands subclass OperatorCommand; the sentences come from read_indexer.errors.
May touch: nothing but the exception it is given.
"""

from __future__ import annotations

import logging

import structlog
from django.core.management.base import BaseCommand, CommandError

from read_indexer.errors import OperatorError, describe_failure, first_line
from shared.indexes import ALL_INDEXES

log = structlog.get_logger(__name__)
EXIT_PROBLEM_FOUND = 1
EXIT_FAILED = 2
EXIT_INTERRUPTED = 130


class ProblemFound(Exception):
    """The command worked and found something wrong (exit 1); the message summarises it."""


def index_names(requested: str) -> list[str]:
    """`all` or one index name -> names; anything else is an OperatorError naming the choices."""
    if requested == "all":
        return list(ALL_INDEXES)
    if requested not in ALL_INDEXES:
        raise OperatorError(f"Unknown index {requested!r}; choose one of: {', '.join([*ALL_INDEXES, 'all'])}.")
    return [requested]


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
            raise CommandError(
                "Interrupted; nothing was left half-done that a rerun (with --resume for reindex) cannot finish.",
                returncode=EXIT_INTERRUPTED,
            ) from None
        except CommandError:
            raise
        except Exception as exc:
            sentence = describe_failure(exc)
            if sentence is None:
                # Unknown failure: still one sentence; --traceback shows the chained original.
                log.error(
                    "operator_command.failed",
                    command=self.__module__.rsplit(".", 1)[-1],
                    error_type=type(exc).__name__,
                    error=first_line(exc),
                )
                sentence = f"Unexpected {type(exc).__name__}: {first_line(exc)}; rerun with --traceback for details."
            raise CommandError(sentence, returncode=EXIT_FAILED) from exc

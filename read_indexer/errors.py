"""Failures the pipeline and the operator commands both report as one sentence.

OperatorError is raised wherever the operator can act on what went wrong (a lock held, a drifted
document Elasticsearch refuses to read, an interrupted rebuild); describe_failure turns an outage of
a service we depend on into the sentence that says which one and what to do.
May touch: nothing but the exception it is given (and the configuration, to name the address).
"""

from __future__ import annotations

import django.db.utils
import elastic_transport
import psycopg2
import redis.exceptions

from shared.config import ConfigError, load_config


class OperatorError(Exception):
    """A failure the operator can act on; the message is one complete sentence."""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0].rstrip(".") if text else type(exc).__name__


def describe_failure(exc: BaseException) -> str | None:
    """One sentence for a failure of a service we depend on, or None if it is not one."""
    config = load_config()
    if isinstance(exc, (OperatorError, ConfigError)):
        return str(exc)
    if isinstance(exc, (elastic_transport.ConnectionError, elastic_transport.ConnectionTimeout)):
        return f"Elasticsearch is unreachable at {config.es_url}; start it (bin/stack up) and retry."
    if isinstance(
        exc,
        (
            django.db.utils.OperationalError,
            django.db.utils.InterfaceError,
            psycopg2.OperationalError,
            psycopg2.InterfaceError,
        ),
    ):
        return (
            f"PostgreSQL is unreachable or refused the connection ({first_line(exc)}); "
            "check bin/stack status and retry."
        )
    if isinstance(exc, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return f"Redis is unreachable at {config.redis_url}; start it (bin/stack up) and retry."
    return None

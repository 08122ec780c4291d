"""Structured JSON logging for every process (structlog rendering the stdlib logging tree)."""

from __future__ import annotations

import json

import orjson
import structlog

_PRE_CHAIN = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
]


def _json_line(event: dict, default=None, **_) -> str:
    """orjson (the stdlib encoder was a third of a line's cost on the search hot path); json for
    what orjson refuses (an int beyond 64 bits)."""
    try:
        return orjson.dumps(event, default=default, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(event, default=default)


def logging_dict_config(level: str = "INFO") -> dict:
    """JSON lines on stderr, as a dictConfig (Django's LOGGING setting uses it directly)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {
            "json": {
                "()": structlog.stdlib.ProcessorFormatter,
                "processors": [
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    # exc_info -> an "exception" string with the traceback (JSON has no traceback type).
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(serializer=_json_line),
                ],
                "foreign_pre_chain": _PRE_CHAIN,
            }
        },
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json"}},
        "root": {"handlers": ["stderr"], "level": level},
        "loggers": {"django.db.backends": {"level": "WARNING"}, "elastic_transport": {"level": "WARNING"}},
    }


def configure_structlog() -> None:
    structlog.configure(
        processors=[*_PRE_CHAIN, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )

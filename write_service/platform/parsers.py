"""The JSON parser of every write endpoint: hostile JSON is a 400 naming the field, never a 500.

Python's json module raises RecursionError on deep nesting, turns 1e999999 into inf, accepts NaN
and Infinity, and returns strings with lone surrogates (unencodable as UTF-8: the database driver
and the renderer fail) or NUL characters (PostgreSQL text refuses them). All of it is caught here,
once, instead of in each serializer.
"""

from __future__ import annotations

import json
import math

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

MAX_DEPTH = 64  # arrays/objects inside each other; no payload of this API needs more than 3
INT64 = 2**63
_ROOT = "non_field_errors"


class _Rejected:
    """A number the hooks refused, kept in place so the walk can name its field."""

    def __init__(self, message: str):
        self.message = message


def _parse_int(text: str):
    # Length first: int() of a 100 KiB digit string is quadratic (and over 4300 digits a ValueError).
    if len(text.lstrip("-")) > 19 or not -INT64 <= (value := int(text)) < INT64:
        return _Rejected("Integer outside the 64-bit range.")
    return value


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else _Rejected("Number out of range.")


def _parse_constant(text: str):
    return _Rejected(f"{text} is not a valid JSON number.")


def _string_problem(value: str) -> str | None:
    if "\x00" in value:
        return "NUL characters are not allowed."
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "Invalid Unicode: lone surrogate."
    return None


def _walk(data) -> dict[str, list[str]]:
    """Iterative (no recursion of our own): depth limit, then rejected numbers and bad strings."""
    errors: dict[str, list[str]] = {}
    stack = [(data, 1, _ROOT, "")]
    while stack:
        value, depth, field, where = stack.pop()
        problem = None
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in items:
                if isinstance(key, str) and (key_problem := _string_problem(key)):
                    errors.setdefault(field, []).append(
                        f"{where} key: {key_problem}" if where else f"Key: {key_problem}"
                    )
                elif depth == 1 and isinstance(value, dict):
                    stack.append((child, depth + 1, key, ""))  # a top-level key is the field
                else:
                    stack.append((child, depth + 1, field, f"{where}[{key!r}]"))
        elif isinstance(value, _Rejected):
            problem = value.message
        elif isinstance(value, str):
            problem = _string_problem(value)
        if problem:
            errors.setdefault(field, []).append(f"{where}: {problem}" if where else problem)
    return errors


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_DEPTH} levels.") from None
        except UnicodeDecodeError:
            raise ParseError(f"Request body is not valid {encoding}.") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        errors = _walk(data)
        if errors:
            raise ValidationError(errors)
        return data

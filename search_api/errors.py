"""Every error the read API returns, in the contract's shape: {"errors": {"field": ["message"]}}.

Code raises one of these; the middleware turns it into a response. Anything else that escapes
a view is logged and answered with a generic JSON 500, never a traceback.
"""

from __future__ import annotations


class ApiError(Exception):
    status = 400

    def __init__(self, errors: dict[str, list[str]] | str, *, headers: dict[str, str] | None = None):
        self.errors = errors if isinstance(errors, dict) else {"detail": [errors]}
        self.headers = headers or {}
        super().__init__(str(self.errors))


class BadRequest(ApiError):
    status = 400


class Unauthorized(ApiError):
    status = 401

    def __init__(self, message: str):
        super().__init__(message, headers={"WWW-Authenticate": "Token"})


class NotFound(ApiError):
    """Also for rows the caller may not see, so their existence never leaks."""

    status = 404

    def __init__(self, message: str = "Not found."):
        super().__init__(message)


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, allowed: tuple[str, ...]):
        super().__init__(f"Method not allowed; use {', '.join(allowed)}.", headers={"Allow": ", ".join(allowed)})


class RateLimited(ApiError):
    status = 429

    def __init__(self, retry_after: int, headers: dict[str, str]):
        super().__init__(
            "Too many requests for this token; retry later.", headers={**headers, "Retry-After": str(retry_after)}
        )


class SearchUnavailable(ApiError):
    status = 503

    def __init__(self, message: str = "Search is temporarily unavailable; retry shortly."):
        super().__init__(message, headers={"Retry-After": "1"})

"""One statement, its first row: the raw reads that need no model (WAL positions, counts)."""

from __future__ import annotations

from django.db import connections


def one_row(sql: str, params: list | None = None, *, using: str = "default") -> tuple | None:
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params or [])
        return cursor.fetchone()

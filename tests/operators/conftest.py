"""Fixtures of the operator-command tests, over the real stack and real workers."""

from __future__ import annotations

import pytest

from tests.operators.support import seed_posts


@pytest.fixture(scope="session")
def seeded_posts(django_db_setup, django_db_blocker) -> tuple[int, int]:
    """(organisation id, post count) of a stable organisation with enough posts to make a rebuild take seconds."""
    with django_db_blocker.unblock():
        return seed_posts()

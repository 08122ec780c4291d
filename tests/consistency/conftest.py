"""Read-your-writes tests run the real pipeline and search API (fixtures of tests/search_api)."""

from tests.search_api.conftest import search, search_server  # noqa: F401 (fixtures)

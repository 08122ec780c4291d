"""The API reference page: /docs/ through the real NGINX, loaded in headless Chromium
(stack/chromium.sh), lists every operation of both OpenAPI documents, as those documents say
through the same NGINX, and the browser fetches nothing from any other host."""

from __future__ import annotations

import json
import time
from urllib.parse import urlsplit

import pytest
import requests

from tests.e2e.headless import Browser
from tests.e2e.test_through_nginx import nginx, search_through_nginx  # noqa: F401 (fixtures)

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Each Swagger UI instance lives in its own element of stack/docs_ui/page/index.html.
SECTIONS = {"write-api": "/api/v1/schema?format=json", "search-api": "/search/v1/schema"}
# Every operation block Swagger UI rendered in one section: [method, path] pairs.
LISTED = (
    "JSON.stringify(Object.fromEntries("
    + json.dumps(list(SECTIONS))
    + """.map(id => [id,
  [...document.querySelectorAll('#' + id + ' .opblock')].map(block => [
    block.querySelector('.opblock-summary-method')?.textContent.trim().toLowerCase(),
    block.querySelector('.opblock-summary-path')?.dataset.path])])))"""
)


def operations(document: dict) -> set[tuple[str, str]]:
    return {(method, path) for path, item in document["paths"].items() for method in item if method in HTTP_METHODS}


@pytest.fixture(scope="module")
def browser():
    chromium = Browser()
    yield chromium
    chromium.close()


def test_docs_page_lists_every_operation_of_both_documents(nginx, search_through_nginx, browser):  # noqa: F811
    expected = {}
    for section, url in SECTIONS.items():
        response = requests.get(f"{nginx}{url}", timeout=30)
        assert response.status_code == 200, response.text[:500]
        expected[section] = operations(response.json())
        assert expected[section], f"{url} lists no operation"

    assert requests.get(f"{nginx}/docs", allow_redirects=False, timeout=10).headers["Location"].endswith("/docs/")
    browser.page("Network.enable")
    browser.page("Page.navigate", url=f"{nginx}/docs/")
    deadline, listed = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        listed = {section: {tuple(op) for op in ops} for section, ops in json.loads(browser.evaluate(LISTED)).items()}
        if listed == expected:
            break
        time.sleep(0.3)
    for section in SECTIONS:
        assert listed.get(section) == expected[section], (
            f"{section}: missing {sorted(expected[section] - listed.get(section, set()))}, "
            f"extra {sorted(listed.get(section, set()) - expected[section])}"
        )

    # The page's own title, and only our NGINX served it: the UI's code and styles included.
    assert "API reference" in browser.evaluate("document.title")
    origins = {urlsplit(u).netloc for u in browser.requested_urls() if urlsplit(u).scheme in ("http", "https")}
    assert origins == {urlsplit(nginx).netloc}, origins
    assert any(u.endswith("/docs/vendor/swagger-ui-bundle.js") for u in browser.requested_urls())

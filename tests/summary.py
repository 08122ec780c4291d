"""What the suites sent and what came back, printed at the end of the run.

Every request through the test clients (write API: tests.helpers.ApiClient; search API:
tests.search_api.conftest.SearchClient and the schemathesis cases) is tallied by API and status
class: 4xx are inputs refused with a clear error (bad parameters, forged cursors, injection
attempts, missing credentials, oversized bodies...), 5xx must stay at zero.
"""

from __future__ import annotations

from collections import Counter

RESPONSES: Counter[tuple[str, str]] = Counter()
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")


def record(api: str, status: int) -> None:
    RESPONSES[(api, f"{status // 100}xx")] += 1


def table_lines() -> list[str]:
    apis = sorted({api for api, _ in RESPONSES})
    lines = [f"{'API':<28} {'requests':>9} " + " ".join(f"{c:>6}" for c in STATUS_CLASSES)]
    for api in apis:
        counts = [RESPONSES[(api, c)] for c in STATUS_CLASSES]
        lines.append(f"{api:<28} {sum(counts):>9} " + " ".join(f"{n:>6}" for n in counts))
    return lines

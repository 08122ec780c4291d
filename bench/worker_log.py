"""What the Celery workers did in a time window, from their own JSON logs (celery.app.trace lines
"Task <name>[<id>] succeeded in <s>s: <result>"): tasks, busy seconds, documents or events.

Busy seconds over (window x worker processes) is the workers' utilisation: near 1 means the
pipeline, not Elasticsearch refresh or polling, sets the lag.
"""

from __future__ import annotations

import ast
import json
import re
from datetime import datetime
from pathlib import Path

from bench import namespace

SUCCEEDED = re.compile(r"Task (?P<name>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[\d.e-]+)s: (?P<result>.*)$")


def task_stats(start: float, end: float, logs=("worker-indexing", "worker-fanout", "worker-counters")) -> dict:
    stats: dict[str, dict] = {}
    for log in logs:
        path = Path(namespace.LOG_DIR) / f"{log}.log"
        if not path.exists():
            continue
        with open(path, errors="replace") as f:
            for line in f:
                if "succeeded in" not in line:
                    continue
                try:
                    record = json.loads(line)
                    at = datetime.fromisoformat(record["timestamp"].replace("Z", "+00:00")).timestamp()
                except (ValueError, KeyError):
                    continue
                if not (start <= at <= end):
                    continue
                m = SUCCEEDED.search(record.get("event", ""))
                if not m:
                    continue
                name = m.group("name").rsplit(".", 1)[-1]
                entry = stats.setdefault(name, {"tasks": 0, "busy_seconds": 0.0, "items": 0, "max_seconds": 0.0})
                seconds = float(m.group("seconds"))
                entry["tasks"] += 1
                entry["busy_seconds"] += seconds
                entry["max_seconds"] = max(entry["max_seconds"], seconds)
                try:
                    result = ast.literal_eval(m.group("result"))
                    if isinstance(result, dict):
                        entry["items"] += int(sum(v for v in result.values() if isinstance(v, int)))
                except (ValueError, SyntaxError):
                    pass
    for entry in stats.values():
        entry["busy_seconds"] = round(entry["busy_seconds"], 2)
        entry["max_seconds"] = round(entry["max_seconds"], 3)
        entry["mean_ms"] = round(entry["busy_seconds"] * 1000 / entry["tasks"], 1) if entry["tasks"] else None
    return stats

"""The durable state of one rebuild, so a crashed reindex can be finished with `--resume`.

Stored in Redis (the no-eviction, AOF-persisted cache database, beside the dual-write targets that
index_lifecycle keeps there). `last_id` only ever advances over a contiguous prefix of finished
batches, so resuming after it never skips a row; re-loading a batch is harmless because every
write is versioned (external_gte).
May touch: the Redis key below.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

import orjson
from django_redis import get_redis_connection

CHECKPOINT_KEY = "search:rebuild_checkpoint:{alias}"

# Phases, in order. Every step after `loading` is idempotent, so resume simply redoes the phase.
LOADING = "loading"  # bulk load in progress; last_id is the resume point
LOADED = "loaded"  # every row loaded; settings restore, refresh and alias swap remain
SWAPPED = "swapped"  # the alias points at the new index; cleanup (targets, old index) remains


@dataclass
class Checkpoint:
    alias: str
    index: str
    phase: str = LOADING
    last_id: int = 0
    loaded: int = 0
    started_at: float = dataclasses.field(default_factory=time.time)
    old_indexes: list[str] = dataclasses.field(default_factory=list)  # recorded just before the swap


def load(alias: str) -> Checkpoint | None:
    raw = get_redis_connection("default").get(CHECKPOINT_KEY.format(alias=alias))
    return Checkpoint(**orjson.loads(raw)) if raw else None


def save(checkpoint: Checkpoint) -> None:
    get_redis_connection("default").set(
        CHECKPOINT_KEY.format(alias=checkpoint.alias), orjson.dumps(dataclasses.asdict(checkpoint))
    )


def clear(alias: str) -> None:
    get_redis_connection("default").delete(CHECKPOINT_KEY.format(alias=alias))

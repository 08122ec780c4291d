"""How many messages wait in the broker's queues (kombu's Redis transport), for the relays and
for pipeline_status. May touch: the broker's Redis database, read-only."""

from __future__ import annotations

import redis

from shared.config import load_config

KOMBU_PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport keeps one list per priority step
KOMBU_PRIORITY_STEPS = (0, 3, 6, 9)


def broker() -> redis.Redis:
    return redis.Redis.from_url(load_config().broker_url, socket_connect_timeout=2, socket_timeout=2)


def list_keys(queue: str) -> list[str]:
    return [f"{queue}{KOMBU_PRIORITY_SEPARATOR}{step}" if step else queue for step in KOMBU_PRIORITY_STEPS]


def depth(queue: str) -> int:
    with broker().pipeline(transaction=False) as pipe:
        for key in list_keys(queue):
            pipe.llen(key)
        return sum(pipe.execute())

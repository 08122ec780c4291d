"""One snapshot of the whole pipeline for operators: is every committed write reaching the index?

Sections: outbox backlog (and its oldest event's age), Celery queue depths, dead letters,
commit-to-indexed lag, the last drift sweep, aliases and their physical indexes (with rebuilds in
progress), cluster health, Elasticsearch's nodes and shard allocation, PostgreSQL replication and
its failover state (operations/cluster_status.py). Each section is collected on its own, so one
unreachable service still leaves the others readable; `warnings` lists what an operator should
look at.
`idle()` and `wait_until_idle()` are the one definition of an idle pipeline (the tests and the
bench wait on it).
May touch: read-only queries to PostgreSQL (primary and replica), Redis (cache and broker
databases) and Elasticsearch; idle() may ask the live workers what they hold (Celery inspect).
"""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
from django.db import connections

from read_indexer.capture import drift_sweep
from read_indexer.celery_config import RETRY_BACKOFF_MAX, TASK_TIME_LIMIT
from read_indexer.errors import describe_failure
from read_indexer.lifecycle import index_lifecycle, rebuild_checkpoint
from read_indexer.lifecycle.rebuild_lock import reindex_running
from read_indexer.observability import broker_queues, lag
from read_indexer.operations import cluster_status
from read_indexer.raw_sql import one_row
from read_indexer.task_names import ALL_QUEUES, QUEUE_MAINTENANCE
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES
from write_service.read_model import outbox as change_log

BACKLOG_WARN_SECONDS = 30  # the relay republishes after 3 s; older than this means stuck
REPLICA_WARN_SECONDS = 30
LONGEST_TASK_HOLD_SECONDS = RETRY_BACKOFF_MAX + TASK_TIME_LIMIT  # a live worker acks or fails by then


def outbox() -> dict:
    backlog = change_log.backlog()
    return {
        "unindexed": backlog["unindexed"],
        "oldest_unindexed_seconds": _round(backlog["unindexed_age"]),
        "uncounted": backlog["uncounted"],
        "oldest_uncounted_seconds": _round(backlog["uncounted_age"]),
        "dead_letters": backlog["dead_letters"],
    }


def queues() -> dict:
    """Queue depths, and the messages delivered to workers but not yet acknowledged (late acks).

    `unacked_by_queue` counts the messages a live worker may still hold; `unacked_orphaned` those
    delivered longer ago than any task can be held (retry countdown + hard time limit): their worker
    died, and Redis gives them back only at the visibility timeout (the outbox relay has long since
    republished their events, so they are harmless, but an operator should know why they are there).
    """
    with broker_queues.broker().pipeline(transaction=False) as pipe:
        for queue in ALL_QUEUES:
            for key in broker_queues.list_keys(queue):
                pipe.llen(key)
        pipe.hgetall("unacked")
        pipe.zrange("unacked_index", 0, -1, withscores=True)
        *lengths, unacked, delivered = pipe.execute()
    steps = len(broker_queues.KOMBU_PRIORITY_STEPS)
    depths = {queue: sum(lengths[i * steps : (i + 1) * steps]) for i, queue in enumerate(ALL_QUEUES)}
    delivered_at = dict(delivered)
    now = time.time()
    held = {queue: 0 for queue in ALL_QUEUES}
    orphaned = 0
    for tag, raw in unacked.items():
        if now - delivered_at.get(tag, now) > LONGEST_TASK_HOLD_SECONDS:
            orphaned += 1
        else:
            queue = orjson.loads(raw)[-1]  # kombu stores [message, exchange, routing key]
            held[queue] = held.get(queue, 0) + 1
    return {"depths": depths, "unacked": len(unacked), "unacked_by_queue": held, "unacked_orphaned": orphaned}


IDLE_CHECKS_IN_A_ROW = 3  # a finishing task can queue the next one: one empty look is not idle
IDLE_CHECK_INTERVAL = 0.3


def idle() -> bool:
    """No committed change is on its way to the index or the counters: no unindexed or uncounted
    event (a deletion fan-out in progress keeps its event unindexed), no task queued and none held
    by a live worker. The maintenance queue does not count: beat keeps feeding it, and a sweep is
    no backlog."""
    box = outbox()
    if box["unindexed"] or box["uncounted"]:
        return False
    found = queues()
    if any(depth for queue, depth in found["depths"].items() if queue != QUEUE_MAINTENANCE):
        return False
    if not found["unacked"]:
        return True  # nothing delivered at all: no need to ask the workers
    return not any(held for queue, held in held_by_live_workers().items() if queue != QUEUE_MAINTENANCE)


def held_by_live_workers() -> dict[str, int]:
    """Unacked messages per queue that a live worker holds (running, reserved or waiting for an ETA).

    queues() counts a message as held until LONGEST_TASK_HOLD_SECONDS have passed since its
    delivery, since it cannot tell which workers are alive. Asking them can: a message of a
    killed worker is in no live worker's lists, so it does not keep the pipeline busy until Redis
    redelivers it.
    """
    from read_indexer.celery_app import app as celery_app

    live: set[str] = set()
    # A connection of its own each time: a pooled one dies with a Redis restart.
    with celery_app.connection_for_write() as connection:
        inspector = celery_app.control.inspect(timeout=1.0, connection=connection)
        for method in (inspector.active, inspector.reserved, inspector.scheduled):
            for tasks in (method() or {}).values():
                live.update(t.get("id") or t.get("request", {}).get("id") for t in tasks)
    held: dict[str, int] = {}
    for raw in broker_queues.broker().hgetall("unacked").values():
        message, _exchange, queue = orjson.loads(raw)
        if message.get("headers", {}).get("id") in live:
            held[queue] = held.get(queue, 0) + 1
    return held


def wait_until_idle(timeout: float = 90) -> float:
    """Seconds until the pipeline was idle (IDLE_CHECKS_IN_A_ROW checks in a row confirm it);
    TimeoutError with the whole status if it is not within `timeout`."""
    started = time.monotonic()
    idle_since, streak = started, 0
    while time.monotonic() - started < timeout:
        if idle():
            idle_since = time.monotonic() if streak == 0 else idle_since
            streak += 1
            if streak >= IDLE_CHECKS_IN_A_ROW:
                return round(idle_since - started, 2)
        else:
            streak = 0
        time.sleep(IDLE_CHECK_INTERVAL)
    raise TimeoutError(f"pipeline not idle after {timeout}s: {collect()}")


def indexing_lag() -> dict:
    return lag.percentiles()


def drift() -> dict:
    return {"last": drift_sweep.last_summary()}


def indexes() -> dict:
    es = get_es_client()
    result = {}
    for name, definition in ALL_INDEXES.items():
        alias = definition.alias
        physical = sorted(es.indices.get_alias(name=alias)) if es.indices.exists_alias(name=alias) else []
        entry = {"alias": alias, "indexes": [_index_counts(es, index) for index in physical]}
        targets = index_lifecycle.write_targets(definition)[1:]  # [0] is the alias itself
        checkpoint = rebuild_checkpoint.load(alias)
        if targets or checkpoint:
            entry["rebuild"] = {
                "targets": [_index_counts(es, index) for index in targets],
                "running": reindex_running(alias),
                "phase": checkpoint.phase if checkpoint else None,
                "last_id": checkpoint.last_id if checkpoint else None,
                "loaded": checkpoint.loaded if checkpoint else None,  # a loading index is not refreshed yet
            }
        result[name] = entry
    return result


def _index_counts(es, index: str) -> dict:
    if not es.indices.exists(index=index):
        return {"index": index, "exists": False}
    total = es.count(index=index)["count"]
    live = es.count(index=index, query={"term": {"deleted": False}})["count"]
    return {"index": index, "documents": total, "live": live, "tombstones": total - live}


def cluster() -> dict:
    health = get_es_client().cluster.health()
    keys = (
        "status",
        "number_of_nodes",
        "active_primary_shards",
        "active_shards",
        "relocating_shards",
        "initializing_shards",
        "unassigned_shards",
    )
    return {key: health.get(key) for key in keys}


def replication() -> dict:
    in_recovery, replay_age, caught_up, pending_bytes = one_row(
        "SELECT pg_is_in_recovery(), EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp())::float8,"
        " pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(),"
        " pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::bigint",
        using="replica",
    )
    # now() - last replayed commit also grows while the primary is idle: with nothing left to
    # replay the replica is current, whatever that age says.
    replica = {
        "in_recovery": in_recovery,
        "caught_up": bool(caught_up),
        "pending_replay_bytes": pending_bytes,
        "last_replay_age_seconds": _round(replay_age),
        "lag_seconds": 0.0 if caught_up else _round(replay_age),
    }
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT application_name, state, sync_state, EXTRACT(EPOCH FROM replay_lag)::float8,"
            " pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint FROM pg_stat_replication"
        )
        standbys = [
            {
                "application_name": row[0],
                "state": row[1],
                "sync_state": row[2],
                "replay_lag_seconds": _round(row[3]),
                "replay_lag_bytes": row[4],
            }
            for row in cursor.fetchall()
        ]
    note = None
    if standbys and all(s["state"] is None for s in standbys):
        note = "pg_stat_replication details need the pg_monitor role (GRANT pg_monitor TO the app user)"
    return {"replica": replica, "primary_standbys": standbys, "note": note}


def _round(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


SECTIONS: dict[str, Callable[[], dict]] = {
    "outbox": outbox,
    "queues": queues,
    "lag": indexing_lag,
    "drift_sweep": drift,
    "indexes": indexes,
    "cluster": cluster,
    "elasticsearch_nodes": cluster_status.elasticsearch_nodes,
    "replication": replication,
    "postgres_failover": cluster_status.postgres_failover,
}


def collect() -> dict:
    """Every section; a failing one becomes {"error": sentence} and lands in `unreachable`."""
    status: dict = {"unreachable": [], "warnings": []}
    for name, section in SECTIONS.items():
        try:
            status[name] = section()
        except Exception as exc:  # one service down must not hide the others
            sentence = describe_failure(exc) or f"{type(exc).__name__}: {exc}"
            status[name] = {"error": sentence}
            if sentence not in status["unreachable"]:
                status["unreachable"].append(sentence)
    status["warnings"] = _warnings(status)
    return status


def _warnings(status: dict) -> list[str]:
    found = []
    box = status.get("outbox", {})
    for kind in ("unindexed", "uncounted"):
        age = box.get(f"oldest_{kind}_seconds")
        if age is not None and age > BACKLOG_WARN_SECONDS:
            found.append(f"the oldest {kind} event is {age:.0f} s old")
    if box.get("dead_letters"):
        found.append(f"{box['dead_letters']} dead letters (manage.py dead_letters list)")
    unrepaired = _drift_total((status.get("drift_sweep", {}).get("last") or {}).get("unrepaired", {}))
    if unrepaired:
        found.append(
            f"the last drift sweep left {unrepaired} drifted documents (its log names them: "
            "verify --repair, or reindex for documents ahead)"
        )
    if status.get("cluster", {}).get("status") == "red":
        found.append("the Elasticsearch cluster is red")
    for entry in status.get("indexes", {}).values():
        if isinstance(entry, dict) and entry.get("rebuild") and not entry["rebuild"]["running"]:
            found.append(f"an interrupted reindex of {entry['alias']} is still dual-writing (reindex --resume)")
        if isinstance(entry, dict) and "alias" in entry and not entry.get("indexes"):
            found.append(f"the alias {entry['alias']} does not exist")
    replica = status.get("replication", {}).get("replica", {})
    if replica.get("lag_seconds") is not None and replica["lag_seconds"] > REPLICA_WARN_SECONDS:
        found.append(f"the replica is {replica['lag_seconds']:.0f} s behind")
    return found + cluster_status.warnings(status)


def render(status: dict) -> list[str]:
    """The human table."""
    lines: list[str] = []

    def section(title: str, key: str, body: Callable[[dict], list[str]]) -> None:
        lines.append(title)
        data = status.get(key, {})
        lines.extend(f"  {line}" for line in ([f"UNREACHABLE: {data['error']}"] if "error" in data else body(data)))

    def age(seconds) -> str:
        return "-" if seconds is None else f"{seconds:.1f} s"

    section(
        "Outbox",
        "outbox",
        lambda d: [
            f"{'unindexed events':<22}{d['unindexed']:>10,}   oldest {age(d['oldest_unindexed_seconds'])}",
            f"{'uncounted events':<22}{d['uncounted']:>10,}   oldest {age(d['oldest_uncounted_seconds'])}",
            f"{'dead letters':<22}{d['dead_letters']:>10,}",
        ],
    )
    section(
        "Celery queues (broker)",
        "queues",
        lambda d: [
            *(f"{queue:<22}{depth:>10,}" for queue, depth in d["depths"].items()),
            f"{'unacked (in workers)':<22}{d['unacked'] - d['unacked_orphaned']:>10,}",
            f"{'unacked (orphaned)':<22}{d['unacked_orphaned']:>10,}   worker died; redelivered at the visibility "
            "timeout",
        ],
    )
    section(
        "Commit-to-indexed lag (last 5 min)",
        "lag",
        lambda d: [
            "no samples (idle)"
            if not d["samples"]
            else f"p50 {d['p50']:.3f} s   p99 {d['p99']:.3f} s   max {d['max']:.3f} s   ({d['samples']:,} samples)"
        ],
    )

    def drift_lines(d: dict) -> list[str]:
        last = d["last"]
        if last is None:
            return ["no pass recorded"]
        out = [
            f"{time.time() - last['finished_at']:.0f} s ago: {sum(last['checked'].values()):,} documents checked "
            f"({last['changes']:,} changes{', window truncated' if last['truncated'] else ''}), "
            f"repaired {_drift_total(last['repaired']):,}, unrepaired {_drift_total(last['unrepaired']):,}"
        ]
        for outcome in ("repaired", "unrepaired"):
            for index, kinds in last[outcome].items():
                out.append(f"{outcome} in {index}: " + ", ".join(f"{kind} {count:,}" for kind, count in kinds.items()))
        return out

    section("Drift sweep (last pass)", "drift_sweep", drift_lines)

    def index_lines(d: dict) -> list[str]:
        out = []
        for entry in d.values():
            physical = entry["indexes"] or [{"index": "(missing)", "exists": False}]
            for index in physical:
                out.append(f"{entry['alias']:<22} -> {_counts(index)}")
            rebuild = entry.get("rebuild")
            if rebuild:
                state = "running" if rebuild["running"] else "INTERRUPTED (reindex --resume)"
                header = (
                    f"{'':<22}    rebuild {state}, phase {rebuild['phase']}, {rebuild['loaded'] or 0:,} rows "
                    f"loaded (up to id {rebuild['last_id']})"
                )
                if not rebuild["targets"]:
                    out.append(f"{header}: no dual-write target")
                for target in rebuild["targets"]:
                    out.append(f"{header}: {_counts(target)}")
        return out

    section("Indexes (alias -> physical index)", "indexes", index_lines)
    section(
        "Elasticsearch cluster",
        "cluster",
        lambda d: [
            f"status {d['status']}, {d['number_of_nodes']} node(s), {d['active_shards']} active shards, "
            f"{d['unassigned_shards']} unassigned, {d['initializing_shards']} initializing, "
            f"{d['relocating_shards']} relocating"
        ],
    )

    def replication_lines(d: dict) -> list[str]:
        replica = d["replica"]
        replay = "caught up" if replica["caught_up"] else f"{replica['pending_replay_bytes'] or 0:,} bytes to replay"
        out = [
            f"replica: lag {age(replica['lag_seconds'])} ({replay}; "
            f"last replayed commit {age(replica['last_replay_age_seconds'])} ago)"
        ]
        for standby in d["primary_standbys"]:
            out.append(
                f"primary sees {standby['application_name']}: state {standby['state'] or '?'} "
                f"({standby['sync_state'] or '?'}), "
                f"replay lag {age(standby['replay_lag_seconds'])}, {standby['replay_lag_bytes'] or 0:,} bytes"
            )
        if not d["primary_standbys"]:
            out.append("primary sees no standby")
        if d["note"]:
            out.append(f"note: {d['note']}")
        return out

    section("Elasticsearch nodes", "elasticsearch_nodes", cluster_status.render_elasticsearch)
    section("PostgreSQL replication", "replication", replication_lines)
    section("PostgreSQL failover (Patroni, etcd)", "postgres_failover", cluster_status.render_failover)
    lines.append("Warnings")
    lines.extend(f"  {w}" for w in status["warnings"] or ["none"])
    return lines


def _drift_total(by_index: dict) -> int:
    return sum(count for kinds in by_index.values() for count in kinds.values())


def _counts(index: dict) -> str:
    if not index.get("exists", True):
        return f"{index['index']} (does not exist)"
    return f"{index['index']}  {index['documents']:,} docs ({index['live']:,} live, {index['tombstones']:,} tombstones)"

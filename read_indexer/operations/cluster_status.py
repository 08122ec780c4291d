"""The clustered engines as pipeline_status shows them: Elasticsearch's nodes, master and shard
allocation, and PostgreSQL's failover state (Patroni's leader, synchronous standby and each
standby's lag, the etcd members).

Patroni and etcd are asked over their HTTP APIs (PATRONI_URLS, ETCD_URLS); without them the
database is not managed by Patroni (the single-node stack) and the section says so.
May touch: Elasticsearch (_cat APIs), Patroni's REST API, etcd's v3 gateway: all read-only.
"""

from __future__ import annotations

import json
import urllib.request

from shared.config import load_config
from shared.es_client import get_es_client
from shared.indexes import ALL_INDEXES

HTTP_TIMEOUT_SECONDS = 2


def elasticsearch_nodes() -> dict:
    es = get_es_client()
    nodes = es.cat.nodes(format="json", h="name,ip,node.role,master,heap.percent,cpu,load_1m")
    prefixes = tuple(definition.alias for definition in ALL_INDEXES.values())
    shards = [
        shard
        for shard in es.cat.shards(format="json", h="index,shard,prirep,state,node,unassigned.reason")
        if shard["index"].startswith(prefixes)
    ]
    per_node: dict[str, dict[str, int]] = {}
    for shard in shards:
        if shard.get("node"):
            counts = per_node.setdefault(shard["node"], {"primaries": 0, "replicas": 0})
            counts["primaries" if shard["prirep"] == "p" else "replicas"] += 1
    return {
        "master": next((node["name"] for node in nodes if node["master"] == "*"), None),
        "nodes": [
            {
                "name": node["name"],
                "ip": node["ip"],
                "roles": node["node.role"],
                "heap_percent": _number(node.get("heap.percent")),
                "cpu_percent": _number(node.get("cpu")),
                "shards": per_node.get(node["name"], {"primaries": 0, "replicas": 0}),
            }
            for node in sorted(nodes, key=lambda node: node["name"])
        ],
        "unassigned": [
            {
                "index": s["index"],
                "shard": s["shard"],
                "primary": s["prirep"] == "p",
                "reason": s.get("unassigned.reason"),
            }
            for s in shards
            if s["state"] == "UNASSIGNED"
        ],
    }


def postgres_failover() -> dict:
    config = load_config()
    if not config.patroni_urls:
        return {"managed": False}
    members, asked = None, []
    for url in config.patroni_urls:
        try:
            members = _get_json(f"{url.rstrip('/')}/cluster")["members"]
            break
        except OSError as exc:
            asked.append(f"{url}: {exc}")
    if members is None:
        raise ConnectionError(f"no Patroni member answered ({'; '.join(asked)})")
    return {
        "managed": True,
        "leader": next((m["name"] for m in members if m["role"] == "leader"), None),
        "sync_standby": next((m["name"] for m in members if m["role"] == "sync_standby"), None),
        "members": [
            {
                "name": m["name"],
                "host": m.get("host"),
                "role": m["role"],
                "state": m.get("state"),
                "timeline": m.get("timeline"),
                "lag_bytes": m.get("lag") if isinstance(m.get("lag"), int) else None,
            }
            for m in members
        ],
        "etcd": _etcd_members(config.etcd_urls),
    }


def _etcd_members(urls: list[str]) -> dict:
    reachable = []
    members: list[dict] = []
    for url in urls:
        try:
            answer = _post_json(f"{url.rstrip('/')}/v3/cluster/member/list", {})
        except OSError:
            continue
        reachable.append(url)
        members = members or [
            {"name": m.get("name"), "client_urls": m.get("clientURLs", [])} for m in answer.get("members", [])
        ]
    return {"members": members, "answering": len(reachable), "configured": len(urls)}


def _get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT_SECONDS) as response:
        return json.loads(response.read())


def _post_json(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as response:
        return json.loads(response.read())


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def render_elasticsearch(d: dict) -> list[str]:
    lines = [f"master {d['master'] or 'NONE'}"]
    for node in d["nodes"]:
        lines.append(
            f"{node['name']:<10} {node['ip']:<15} roles {node['roles']:<6} heap {node['heap_percent']}% "
            f"cpu {node['cpu_percent']}%  {node['shards']['primaries']} primaries, "
            f"{node['shards']['replicas']} replicas"
        )
    for shard in d["unassigned"]:
        kind = "primary" if shard["primary"] else "replica"
        lines.append(f"UNASSIGNED {shard['index']} shard {shard['shard']} ({kind}): {shard['reason']}")
    return lines


def render_failover(d: dict) -> list[str]:
    if not d["managed"]:
        return ["not managed by Patroni (single primary + streaming replica)"]
    lines = [f"leader {d['leader'] or 'NONE'}, synchronous standby {d['sync_standby'] or 'NONE'}"]
    for m in d["members"]:
        lag = "" if m["role"] == "leader" else f", lag {m['lag_bytes'] if m['lag_bytes'] is not None else '?'} bytes"
        lines.append(
            f"{m['name']:<6} {m['host'] or '?':<15} {m['role']:<13} {m['state'] or '?'}, timeline {m['timeline']}{lag}"
        )
    etcd = d["etcd"]
    names = ", ".join(m["name"] or "?" for m in etcd["members"]) or "none listed"
    lines.append(f"etcd: {etcd['answering']} of {etcd['configured']} members answering; members {names}")
    return lines


def warnings(status: dict) -> list[str]:
    found = []
    nodes = status.get("elasticsearch_nodes", {})
    if "master" in nodes and nodes["master"] is None:
        found.append("the Elasticsearch cluster has no elected master")
    if nodes.get("unassigned"):
        found.append(f"{len(nodes['unassigned'])} unassigned shard(s) of our indexes")
    failover = status.get("postgres_failover", {})
    if failover.get("managed"):
        if not failover.get("leader"):
            found.append("PostgreSQL has no leader (writes are refused until one is elected)")
        elif not failover.get("sync_standby"):
            found.append("no synchronous standby: commits exist on the primary alone until one catches up")
        etcd = failover.get("etcd", {})
        if etcd.get("answering", 0) * 2 <= etcd.get("configured", 0):
            found.append("a majority of etcd members is not answering: no failover is possible")
    return found

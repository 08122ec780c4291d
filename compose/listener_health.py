"""Container health check of the change listener: its LISTEN session is open on the primary.

Exit 0 when both hold, 1 otherwise:
- this container has an established TCP connection to PG_PRIMARY_HOST:PG_PORT (read from
  /proc/net/tcp*, before this probe opens its own): the listener of *this* container is connected,
  even when another listener's session would satisfy the check below (two listeners, or any
  listener behind HAProxy, where the primary sees the proxy's address, not ours);
- the primary shows a session named `change_listener` (read_indexer/capture/change_listener.py
  names its connection so).
Runs as `python /app/compose/listener_health.py`.
"""

import os
import socket
import sys

import psycopg2

ESTABLISHED = "01"


def _addresses(host: str, port: int) -> set[tuple[str, int]]:
    return {(info[4][0], port) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)}


def _decode(hex_address: str) -> tuple[str, int]:
    """`0100007F:1F90` (IPv4) or 32 hex digits (IPv6), in host byte order per 32-bit word."""
    hex_ip, hex_port = hex_address.split(":")
    raw = bytes.fromhex(hex_ip)
    packed = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = socket.inet_ntop(socket.AF_INET if len(packed) == 4 else socket.AF_INET6, packed)
    if ip.startswith("::ffff:") and "." in ip:
        ip = ip[len("::ffff:") :]
    return ip, int(hex_port, 16)


def established_peers(tables=("/proc/net/tcp", "/proc/net/tcp6")) -> set[tuple[str, int]]:
    peers = set()
    for table in tables:
        try:
            with open(table) as lines:
                next(lines)  # header
                for line in lines:
                    fields = line.split()
                    if fields[3] == ESTABLISHED:
                        peers.add(_decode(fields[2]))
        except FileNotFoundError:
            continue
    return peers


def main() -> int:
    host, port = os.environ["PG_PRIMARY_HOST"], int(os.environ.get("PG_PORT", "5432"))
    try:
        if not established_peers() & _addresses(host, port):
            print(f"unhealthy: no connection from this container to {host}:{port}", file=sys.stderr)
            return 1
        with psycopg2.connect(
            host=host,
            port=port,
            dbname=os.environ["PG_DB"],
            user=os.environ["PG_USER"],
            password=os.environ["PG_PASSWORD"],
            connect_timeout=5,
            application_name="listener_health",
        ) as connection:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'change_listener' "
                    "AND datname = current_database()"
                )
                return 0 if cursor.fetchone()[0] else 1
    except (psycopg2.Error, OSError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

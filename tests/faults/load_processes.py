"""Load generators that run as separate processes during fault tests.

  python -m tests.faults.load_processes writer --base URL --token T --seconds S --rate R --out F [--retry]
  python -m tests.faults.load_processes reader --base URL --token T --seconds S --rate R --out F

The writer keeps a ledger of every acknowledged write (posts, and comments per post) with the times
each was sent and acknowledged, and every refusal with its time, status and Retry-After; with --retry it
sends a refused write again with the same Idempotency-Key until it is acknowledged, as a client
that honours 503 + Retry-After does. The reader records every response with its time, so errors
can be split into inside / outside a fault window.
Both write their JSON file on exit (SIGTERM included).
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time

import requests


class Stop(Exception):
    pass


def _on_term(*_):
    raise Stop()


def writer(base: str, token: str, seconds: float, rate: float, out: str, retry: bool = False) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {token}", "Content-Type": "application/json"})
    ledger = {
        "posts": [],
        "comments": {},
        "errors": [],
        "acknowledged": 0,
        "acknowledged_at": [],
        "sent_at": [],
        "keys": [],
    }
    deadline, step = time.time() + seconds, 0

    def send(url: str, body: dict, key: str):
        while True:
            started = time.time()
            try:
                response = session.post(url, json=body, headers={"Idempotency-Key": key}, timeout=10)
                if response.status_code in (200, 201):
                    ledger["sent_at"].append(started)  # when the acknowledged attempt was sent
                    return response
                ledger["errors"].append(
                    [started, response.status_code, response.text[:200], response.headers.get("Retry-After")]
                )
                refused_cleanly = response.status_code == 503
            except requests.RequestException as exc:
                ledger["errors"].append([started, 0, type(exc).__name__, None])
                refused_cleanly = True
            if not (retry and refused_cleanly) or time.time() > deadline + 60:
                return None
            time.sleep(0.5)

    try:
        while time.time() < deadline:
            step += 1
            started = time.time()
            key = f"w-{started}-{step}"
            if step % 4 == 1 or not ledger["posts"]:
                r = send(f"{base}/api/v1/posts", {"title": f"fault load {step}", "body": "ledger"}, key)
                if r is not None:
                    ledger["posts"].append(r.json()["id"])
                    ledger["comments"][str(r.json()["id"])] = 0
            else:
                post_id = ledger["posts"][step % len(ledger["posts"])]
                r = send(f"{base}/api/v1/posts/{post_id}/comments", {"body": f"c {key}"}, key)
                if r is not None:
                    ledger["comments"][str(post_id)] += 1
            if r is not None:
                ledger["acknowledged"] += 1
                ledger["acknowledged_at"].append(time.time())
                ledger["keys"].append(key)
            time.sleep(max(0.0, 1 / rate - (time.time() - started)))
    except Stop:
        pass
    finally:
        with open(out, "w") as fh:
            json.dump(ledger, fh)


def reader(base: str, token: str, seconds: float, rate: float, out: str) -> None:
    session = requests.Session()
    session.headers.update({"Authorization": f"Token {token}"})
    record = {"responses": []}
    deadline = time.time() + seconds
    paths = [
        "/search/v1/posts?page_size=10",
        "/search/v1/assessments?page_size=10&ordering=-created_at",
        "/search/v1/posts?q=load&page_size=5",
    ]
    i = 0
    try:
        while time.time() < deadline:
            started = time.time()
            i += 1
            try:
                status = session.get(f"{base}{paths[i % len(paths)]}", timeout=10).status_code
            except requests.RequestException:
                status = 0
            record["responses"].append([started, status, round(time.time() - started, 4)])
            time.sleep(max(0.0, 1 / rate - (time.time() - started)))
    except Stop:
        pass
    finally:
        with open(out, "w") as fh:
            json.dump(record, fh)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["writer", "reader"])
    parser.add_argument("--base", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--rate", type=float, default=20)
    parser.add_argument("--out", required=True)
    parser.add_argument("--retry", action="store_true", help="writer: resend a refused write with its Idempotency-Key")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _on_term)
    if args.role == "writer":
        writer(args.base, args.token, args.seconds, args.rate, args.out, retry=args.retry)
    else:
        reader(args.base, args.token, args.seconds, args.rate, args.out)


if __name__ == "__main__":
    sys.exit(main())

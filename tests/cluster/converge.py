"""The convergence check of the cluster tier, run on an app host with its settings
(topology.in_app_host): every acknowledged write of a ledger is in PostgreSQL and in the index
with exact counters, every document equals the database's projection (content hashes, all four
indexes, read from the primary), no event is dead or stuck. Prints one JSON line.

  python -m tests.cluster.converge LEDGER.json [--timeout 60]
"""

from __future__ import annotations

import argparse
import json

import django


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("ledger")
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    django.setup()
    from read_indexer.operations import verification
    from tests.load import Ledger, index_matches_database, wait_for_convergence
    from write_service.read_model import outbox
    from write_service.read_model.projections import PROJECTIONS

    written = json.loads(open(args.ledger).read())
    ledger = Ledger(posts=written["posts"], comments={int(k): v for k, v in written["comments"].items()})
    try:
        converged = wait_for_convergence(ledger, timeout=args.timeout)
    except AssertionError as exc:
        print(
            json.dumps({"converged_seconds": None, "problems": index_matches_database(ledger)[:5], "error": str(exc)})
        )
        return
    drift = {}
    for name in PROJECTIONS:
        report = verification.verify(name, settle=2.0, primary_only=True)
        drift[name] = report.drift.total
    print(
        json.dumps(
            {"converged_seconds": round(converged, 1), "problems": [], "drift": drift, "backlog": outbox.backlog()}
        )
    )


if __name__ == "__main__":
    main()

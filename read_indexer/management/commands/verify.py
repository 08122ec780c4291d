"""`manage.py verify <index|all> [--repair]`: compare every document with the database's projection.

Thin: options in, read_indexer.operations.verification out. Exit 0 = no drift (or all of it repaired),
1 = drift remains, 2 = could not verify. See docs/OPERATIONS.md.
"""

import orjson

from read_indexer.operations import verification
from read_indexer.operations.operator_cli import OperatorCommand, ProblemFound, index_names


class Command(OperatorCommand):
    help = "Compare every document of an index (or all) with PostgreSQL; print drift by kind; --repair heals it."

    def add_arguments(self, parser):
        parser.add_argument("index", help="assessments, attempts, posts, comments or all")
        parser.add_argument("--repair", action="store_true", help="re-project exactly the drifted ids, delete orphans")
        parser.add_argument("--chunk-size", type=int, default=5000, help="rows / documents compared per round trip")
        parser.add_argument(
            "--settle",
            type=float,
            default=2.0,
            help="seconds to wait before re-checking drift (writes in flight are not drift)",
        )
        parser.add_argument("--json", action="store_true", help="machine-readable output")
        parser.add_argument("--primary", action="store_true", help="read the rows from the primary, not the replica")

    def operate(self, *, index, repair, chunk_size, settle, json, primary, **_):
        reports = []
        for name in index_names(index):
            report = verification.verify(name, chunk_size=max(1, chunk_size), settle=settle, primary_only=primary)
            if repair and report.drift.total:
                verification.repair(report, chunk_size=max(1, chunk_size))
            reports.append(report)
            if not json:
                for line in verification.render(report):
                    self.stdout.write(line)
        if json:
            self.stdout.write(orjson.dumps({"indexes": [r.as_dict() for r in reports]}).decode())
        left = {r.alias: (r.remaining if r.remaining is not None else r.drift).total for r in reports}
        if any(left.values()):
            where = ", ".join(f"{alias} ({count:,})" for alias, count in left.items() if count)
            hint = "run reindex for documents ahead of the database" if repair else "rerun with --repair to heal it"
            raise ProblemFound(f"Drift found in {where}; {hint}.")

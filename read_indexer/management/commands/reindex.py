"""`manage.py reindex <index|all>`: zero-downtime rebuild that loses no concurrent write.

Thin: options in, read_indexer.lifecycle.rebuild out. See docs/OPERATIONS.md.
"""

from read_indexer.errors import OperatorError
from read_indexer.lifecycle import rebuild
from read_indexer.operations.operator_cli import OperatorCommand, index_names


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(value)
    return number


class Command(OperatorCommand):
    help = (
        "Rebuild an index (or all) into a new physical index while writes continue (dual writes), "
        "then swap its alias atomically."
    )

    def add_arguments(self, parser):
        parser.add_argument("index", help="assessments, attempts, posts, comments or all")
        parser.add_argument("--batch-size", type=_positive, default=1000, help="rows per keyset page and bulk request")
        parser.add_argument("--workers", type=_positive, default=4, help="parallel bulk requests")
        parser.add_argument("--keep-old", action="store_true", help="keep the previous physical index")
        parser.add_argument("--resume", action="store_true", help="finish an interrupted reindex from its checkpoint")
        parser.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
        parser.add_argument("--primary", action="store_true", help="read the rows from the primary, not the replica")

    def operate(self, *, index, batch_size, workers, keep_old, resume, dry_run, primary, **_):
        if batch_size > 10_000:
            raise OperatorError("--batch-size must be at most 10000 (one bulk request per page).")
        options = rebuild.RebuildOptions(
            batch_size=batch_size, workers=workers, keep_old=keep_old, resume=resume, primary_only=primary
        )
        for name in index_names(index):
            if dry_run:
                for line in rebuild.plan(name, options):
                    self.stdout.write(line)
                continue
            report = rebuild.rebuild(name, options, say=self.stdout.write)
            self.stdout.write(report.summary())

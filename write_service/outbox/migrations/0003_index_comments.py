"""Comments become documents of their own (the `comments` index): their capture now records a
change of any column (the body shows in the document, not only the post and deletion the counters
need) and gives the indexing handler work. Counting is unchanged; `capture_version` already bumps
their version. Frozen SQL, like 0002_capture_triggers.py, whose `outbox_capture()` arguments it uses.
"""
from django.db import migrations

TABLE = "discussions_comment"
KEYS = "{post_id,deleted_at}"  # what the counters handler reads (unchanged)
_TRANSITION = {"INSERT": "REFERENCING NEW TABLE AS new_rows", "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "DELETE": "REFERENCING OLD TABLE AS old_rows"}


def _capture(shown: str, indexed: str) -> str:
    statements = []
    for op, transition in _TRANSITION.items():
        statements += [
            f"DROP TRIGGER capture_{op.lower()} ON {TABLE};",
            f"CREATE TRIGGER capture_{op.lower()} AFTER {op} ON {TABLE} {transition} FOR EACH STATEMENT "
            f"EXECUTE FUNCTION outbox_capture('{shown}', '{KEYS}', '{{}}', 'counted', '{indexed}');",
        ]
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [("outbox", "0002_capture_triggers")]

    operations = [migrations.RunSQL(_capture("{*}", "indexed"), _capture("{post_id,deleted_at}", "unindexed"))]

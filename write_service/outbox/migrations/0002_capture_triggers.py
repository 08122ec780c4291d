"""Change capture at the database: every change of a row a document derives from, whatever wrote it.

For each captured table:
- `capture_version` (BEFORE UPDATE, per row) bumps `version`, so every writer (a queryset update,
  psql, a migration) moves the row's version, the ordering key of the documents built from it.
- `capture_insert` / `capture_update` / `capture_delete` (AFTER, per statement, with transition
  tables) insert one outbox row per changed row in the same transaction, in one INSERT ... SELECT
  per statement, and NOTIFY the listener (read_indexer/capture/change_listener.py) with the new outbox ids
  (or `*` when they do not fit a notification).

Arguments of `outbox_capture()`, per table (see CAPTURED below):
  0 shown: columns some document shows; an UPDATE that changes none of them records nothing
           ('*' = every column but version).
  1 keys: old/new values the handlers need (counter targets, liveness).
  2 fanout: columns whose change reaches every child document ('row.fanout' instead of 'row.changed').
  3 counted: whether the counters handler has work ('counted'; otherwise it is marked done at once).
  4 indexed: whether the indexing handler has work ('indexed'; otherwise it is marked done at once).
The SQL is frozen here, like every migration; docs/ARCHITECTURE.md ("Change capture") explains it.
"""
from django.db import migrations

CAPTURE_FUNCTION = r"""
CREATE FUNCTION outbox_pick(row_json jsonb, columns text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN columns = '{*}' THEN row_json - 'version'
              ELSE COALESCE((SELECT jsonb_object_agg(c, row_json -> c) FROM unnest(columns) AS c), '{}') END
$$;

CREATE FUNCTION outbox_bump_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.version := OLD.version + 1;
  RETURN NEW;
END $$;

CREATE FUNCTION outbox_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  shown text[] := TG_ARGV[0]::text[];
  keys text[] := TG_ARGV[1]::text[];
  fanout text[] := TG_ARGV[2]::text[];
  counted boolean := TG_ARGV[3] = 'counted';
  indexed boolean := TG_ARGV[4] = 'indexed';
  recorded int;
  to_index text;
BEGIN
  IF TG_OP = 'INSERT' THEN
    WITH changes AS (
      INSERT INTO outbox_outboxevent (event_type, payload, occurred_at, counters_applied_at, indexed_at, relay_attempts, last_error)
      SELECT 'row.changed', jsonb_build_object('table', TG_TABLE_NAME, 'id', n.id, 'op', 'insert',
                                               'old', NULL, 'new', outbox_pick(to_jsonb(n), keys)),
             now(), CASE WHEN counted THEN NULL ELSE now() END, CASE WHEN indexed THEN NULL ELSE now() END, 0, ''
      FROM new_rows n
      RETURNING id)
    SELECT count(*), string_agg(id::text, ',' ORDER BY id) INTO recorded, to_index FROM changes;
  ELSIF TG_OP = 'UPDATE' THEN
    WITH changes AS (
      INSERT INTO outbox_outboxevent (event_type, payload, occurred_at, counters_applied_at, indexed_at, relay_attempts, last_error)
      SELECT CASE WHEN outbox_pick(to_jsonb(o), fanout) IS DISTINCT FROM outbox_pick(to_jsonb(n), fanout)
                  THEN 'row.fanout' ELSE 'row.changed' END,
             jsonb_build_object('table', TG_TABLE_NAME, 'id', n.id, 'op', 'update',
                                'old', outbox_pick(to_jsonb(o), keys), 'new', outbox_pick(to_jsonb(n), keys)),
             now(), CASE WHEN counted THEN NULL ELSE now() END, CASE WHEN indexed THEN NULL ELSE now() END, 0, ''
      FROM old_rows o JOIN new_rows n ON n.id = o.id
      WHERE outbox_pick(to_jsonb(o), shown) IS DISTINCT FROM outbox_pick(to_jsonb(n), shown)
      RETURNING id)
    SELECT count(*), string_agg(id::text, ',' ORDER BY id) INTO recorded, to_index FROM changes;
  ELSE
    WITH changes AS (
      INSERT INTO outbox_outboxevent (event_type, payload, occurred_at, counters_applied_at, indexed_at, relay_attempts, last_error)
      SELECT 'row.changed', jsonb_build_object('table', TG_TABLE_NAME, 'id', o.id, 'op', 'delete',
                                               'old', outbox_pick(to_jsonb(o), keys), 'new', NULL),
             now(), CASE WHEN counted THEN NULL ELSE now() END, CASE WHEN indexed THEN NULL ELSE now() END, 0, ''
      FROM old_rows o
      RETURNING id)
    SELECT count(*), string_agg(id::text, ',' ORDER BY id) INTO recorded, to_index FROM changes;
  END IF;
  IF recorded > 0 THEN
    -- Delivered at commit only (a rolled-back write notifies nothing). 'c' = counters have work;
    -- the ids to index, or '*' when they would not fit a notification (8000 bytes).
    PERFORM pg_notify('outbox_capture',
      CASE WHEN counted THEN 'c' ELSE '-' END || ':' ||
      CASE WHEN NOT indexed THEN '' WHEN length(to_index) > 7000 THEN '*' ELSE to_index END);
  END IF;
  RETURN NULL;
END $$;
"""

# table -> (shown, keys, fanout, counted, indexed, operations captured)
CAPTURED = {
    # A user shows in documents by name only; renaming reaches every attempt and post of theirs.
    "accounts_user": ("{username,display_name}", "{}", "{username,display_name}", "uncounted", "indexed", ("UPDATE",)),
    # Attempt documents show the assessment's organisation and deletion: changing either fans out.
    "assessments_assessment": ("{*}", "{}", "{organisation_id,deleted_at}", "uncounted", "indexed", ("INSERT", "UPDATE", "DELETE")),
    "assessments_attempt": ("{*}", "{assessment_id,status}", "{}", "counted", "indexed", ("INSERT", "UPDATE", "DELETE")),
    "discussions_post": ("{*}", "{}", "{}", "uncounted", "indexed", ("INSERT", "UPDATE", "DELETE")),
    # A comment moves its post's counters, which the counters batch writes to the post row, whose
    # own capture re-projects the post. (Indexed as a document of its own since 0003_index_comments.)
    "discussions_comment": ("{post_id,deleted_at}", "{post_id,deleted_at}", "{}", "counted", "unindexed", ("INSERT", "UPDATE", "DELETE")),
}

_TRANSITION = {"INSERT": "REFERENCING NEW TABLE AS new_rows", "UPDATE": "REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
               "DELETE": "REFERENCING OLD TABLE AS old_rows"}


def _triggers_sql() -> str:
    statements = []
    for table, (shown, keys, fanout, counted, indexed, operations) in CAPTURED.items():
        statements.append(f"CREATE TRIGGER capture_version BEFORE UPDATE ON {table} FOR EACH ROW EXECUTE FUNCTION outbox_bump_version();")
        for op in operations:
            statements.append(
                f"CREATE TRIGGER capture_{op.lower()} AFTER {op} ON {table} {_TRANSITION[op]} FOR EACH STATEMENT "
                f"EXECUTE FUNCTION outbox_capture('{shown}', '{keys}', '{fanout}', '{counted}', '{indexed}');")
    return "\n".join(statements)


def _drop_sql() -> str:
    statements = []
    for table, (*_args, operations) in CAPTURED.items():
        statements += [f"DROP TRIGGER IF EXISTS capture_{name} ON {table};" for name in ("version", *(op.lower() for op in operations))]
    statements.append("DROP FUNCTION IF EXISTS outbox_capture(); DROP FUNCTION IF EXISTS outbox_bump_version(); "
                      "DROP FUNCTION IF EXISTS outbox_pick(jsonb, text[]);")
    return "\n".join(statements)


class Migration(migrations.Migration):
    dependencies = [
        ("outbox", "0001_initial"),
        ("accounts", "0001_initial"),
        ("assessments", "0001_initial"),
        ("discussions", "0001_initial"),
    ]

    operations = [migrations.RunSQL(CAPTURE_FUNCTION + _triggers_sql(), _drop_sql())]

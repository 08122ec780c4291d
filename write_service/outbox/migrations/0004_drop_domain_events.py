"""The outbox holds captured row changes only: the domain events service functions used to record
beside them (`assessment.cut_off_changed`, `attempt.submitted`) had no reader, and the indexing
handler now rejects any other event type as a contract bug, so the stored ones go too.
Frozen SQL: table names as they are at this migration.
"""
from django.db import migrations

DOMAIN_EVENT_TYPES = "('assessment.cut_off_changed', 'attempt.submitted')"


class Migration(migrations.Migration):
    dependencies = [("outbox", "0003_index_comments")]

    operations = [
        migrations.RunSQL(
            f"DELETE FROM outbox_deadletter WHERE event_id IN "
            f"(SELECT id FROM outbox_outboxevent WHERE event_type IN {DOMAIN_EVENT_TYPES});"
            f"DELETE FROM outbox_outboxevent WHERE event_type IN {DOMAIN_EVENT_TYPES};",
            migrations.RunSQL.noop,
        ),
    ]

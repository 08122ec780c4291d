"""A data migration like an operator would write: a queryset update through the historical model.

The rows and the title are read from settings.CAPTURE_MIGRATION_RETITLE when the migration runs
({"ids": [...], "title": "..."}), so each run of the test changes its own rows. Reversing it
changes nothing: it is only unapplied so that the next run can apply it again.
"""
from django.conf import settings
from django.db import migrations


def retitle(apps, schema_editor):
    spec = getattr(settings, "CAPTURE_MIGRATION_RETITLE", None)
    if not spec:
        return
    Post = apps.get_model("discussions", "Post")
    Post.objects.using(schema_editor.connection.alias).filter(pk__in=spec["ids"]).update(title=spec["title"])


class Migration(migrations.Migration):
    dependencies = [("discussions", "0001_initial"), ("outbox", "0002_capture_triggers")]

    operations = [migrations.RunPython(retitle, migrations.RunPython.noop)]

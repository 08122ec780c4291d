"""A test-only Django app whose one migration is a data migration over posts (tests/pipeline/test_capture.py).

Never in INSTALLED_APPS: the test adds it with override_settings, runs `migrate capture_migration`,
and migrates it back to zero. The rows it changes and their new title come from the setting
CAPTURE_MIGRATION_RETITLE, read when the migration runs; without it the migration changes nothing.
"""

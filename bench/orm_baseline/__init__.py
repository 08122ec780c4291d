"""The baseline of comparison (1): the same lists served by Django ORM views on PostgreSQL."""

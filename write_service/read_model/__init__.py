"""The read model's only door to the write side's tables.

read_indexer (workers, the change listener, operator commands) reads and marks write-side rows
only through this package, with table names taken from the models: rename a model and these
modules follow it (tests/test_read_model_seam.py checks that nothing else names a table).
- projections: the SQL that renders each index's documents from its rows (live path, reindex, verify).
- counters: the denormalised counters' deltas from captured changes, and their reconciliation.
- outbox: the captured changes: claim, mark indexed, relay, fan-out locks, dead letters, backlog.
"""

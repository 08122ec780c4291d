"""The change listener's reading of the capture triggers' notifications (no server needed).

Format, written by `outbox_capture()` in the trigger migration: `c:` when counters have work or
`-:` when not, then the outbox ids to index, comma-separated, or `*` when they did not fit."""

from __future__ import annotations

import pytest

from read_indexer.capture.change_listener import Batch, parse

pytestmark = pytest.mark.fast


def test_ids_and_the_counters_flag():
    assert parse("c:4,5,6") == ([4, 5, 6], True, False)
    assert parse("-:7") == ([7], False, False)


def test_a_counted_change_with_no_document_has_no_ids():
    assert parse("c:") == ([], True, False)  # a comment: counters only


def test_too_many_ids_for_a_notification_means_scan():
    assert parse("-:*") == ([], False, True)


def test_a_window_of_notifications_is_one_batch():
    batch = Batch()
    for payload in ("-:1,2", "c:", "-:2,3", "-:*"):
        batch.add(*parse(payload))
    assert (sorted(batch.ids), batch.counted, batch.scan) == ([1, 2, 3], True, True)

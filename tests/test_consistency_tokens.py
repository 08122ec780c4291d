"""Consistency tokens, the Prefer header and the horizon's closure rule: pure logic, no server."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from read_indexer.capture.searchable_horizon import Closure, ProcessingRecord
from shared.consistency import Horizon, InvalidToken, Token, decode_token, encode_token, wait_preference

pytestmark = pytest.mark.fast
SECRET = "s" * 50
BIG = 2**63 - 1


@given(st.integers(0, BIG), st.integers(0, BIG), st.integers(0, BIG))
def test_a_token_reads_back_as_it_was_issued(organisation, txid_bound, event_bound):
    token = Token(organisation, txid_bound, event_bound)
    text = encode_token(token, SECRET)
    assert len(text) <= 64 and text.isascii()
    assert decode_token(text, SECRET, organisation_id=organisation) == token


def test_any_changed_character_is_refused():
    text = encode_token(Token(7, 123456, 987654), SECRET)
    for position in range(len(text)):
        for replacement in "A_-z9":
            changed = text[:position] + replacement + text[position + 1 :]
            if changed == text:
                continue
            with pytest.raises(InvalidToken):
                decode_token(changed, SECRET, organisation_id=7)


def test_another_organisation_or_secret_is_refused_like_a_forgery():
    text = encode_token(Token(7, 1, 2), SECRET)
    with pytest.raises(InvalidToken) as other_organisation:
        decode_token(text, SECRET, organisation_id=8)
    with pytest.raises(InvalidToken) as other_secret:
        decode_token(text, "t" * 50, organisation_id=7)
    assert str(other_organisation.value) == str(other_secret.value)


@pytest.mark.parametrize("text", ["", "x", "!" * 50, "é" * 50, "A" * 200])
def test_malformed_text_is_refused(text):
    with pytest.raises(InvalidToken):
        decode_token(text, SECRET, organisation_id=0)


def test_the_horizon_reflects_a_token_only_past_both_bounds():
    horizon = Horizon(xmin=100, watermark=50)
    assert horizon.reflects(Token(1, 100, 49))
    assert not horizon.reflects(Token(1, 101, 49))  # the write might not be visible to its snapshot
    assert not horizon.reflects(Token(1, 100, 50))  # change 50 is not done
    assert Horizon.decode(horizon.encode()) == horizon
    assert Horizon.decode(None) is None


@pytest.mark.parametrize(
    ("prefer", "seconds"),
    [
        (None, None),
        ("", None),
        ("return=minimal", None),
        ("wait-for=indexed", 5.0),
        ("WAIT-FOR = indexed", 5.0),
        ('wait-for="indexed"', 5.0),
        ("wait-for=indexed; max=2", 2.0),
        ("wait-for=indexed;max=0.5", 0.5),
        ("wait-for=indexed; max=60", 10.0),  # never past the deployment's maximum
        ("wait-for=indexed; max=abc", 5.0),  # a parameter it cannot read is ignored (RFC 7240)
        ("respond-async, wait-for=indexed; max=3", 3.0),
        ("wait-for=searchable", None),
    ],
)
def test_the_prefer_header(prefer, seconds):
    preference = wait_preference(prefer, default_seconds=5.0, max_seconds=10.0)
    assert (preference.seconds if preference else None) == seconds


# The closure rule against a brute-force world. A counted change gets its follow-up (the counters
# batch's update of its post or assessment, a new change) when it is claimed, and is done only once
# both indexed and claimed; records and tokens are taken at every step.


@st.composite
def histories(draw):
    events: dict[int, dict] = {}
    records, tokens = [], []  # (step, record), (step, newest change id then)
    for step in range(draw(st.integers(3, 25))):
        for _ in range(draw(st.integers(0, 2))):  # new writes
            events[len(events) + 1] = {"counted": draw(st.booleans()), "claimed": False, "done": None, "cause": None}
        for event_id, event in list(events.items()):
            if event["done"] is not None:
                continue
            if event["counted"] and not event["claimed"] and draw(st.booleans()):
                event["claimed"] = True
                events[len(events) + 1] = {"counted": False, "claimed": False, "done": None, "cause": event_id}
            if (event["claimed"] or not event["counted"]) and draw(st.booleans()):
                event["done"] = step
        unfinished = [i for i, e in events.items() if e["done"] is None]
        records.append((step, ProcessingRecord.from_row(step, min(unfinished, default=None), len(events))))
        tokens.append((step, len(events)))
    return events, records, tokens


@settings(max_examples=400)
@given(histories())
def test_a_published_horizon_never_reflects_a_write_before_it_and_its_follow_ups_are_done(history):
    events, records, tokens = history
    closure = Closure()
    for step, record in records:
        if (horizon := closure.add(record)) is None:
            continue
        for issued_at, event_bound in tokens:
            if not horizon.reflects(Token(0, issued_at, event_bound)):
                continue
            for event_id in range(1, event_bound + 1):
                assert events[event_id]["done"] is not None and events[event_id]["done"] <= step, (event_id, horizon)
                for follow_up, follower in events.items():
                    if follower["cause"] == event_id:
                        assert follower["done"] is not None and follower["done"] <= step, (follow_up, horizon)


def test_the_closure_publishes_once_follow_ups_are_done():
    closure = Closure()
    assert closure.add(ProcessingRecord.from_row(10, 5, 8)) is None  # 5..8 unfinished
    assert closure.add(ProcessingRecord.from_row(11, 8, 9)) is None  # 8 still unfinished
    assert closure.add(ProcessingRecord.from_row(12, 9, 9)) == Horizon(10, 5)  # all of record 10's done
    assert closure.add(ProcessingRecord.from_row(13, None, 9)) == Horizon(13, 10)  # nothing unfinished

"""Read your own writes across the split: consistency tokens and the searchable horizon.

A successful write answers `Consistency-Token`; a read that carries it waits until the search
indexes reflect that write (docs/CONSISTENCY.md). Both sides meet in two facts about PostgreSQL:

- The token, taken right after the write's transaction committed, holds `txid_bound` (the
  snapshot's xmax then: every transaction below it, the write's own included, has ended) and
  `event_bound` (the newest outbox id then: every change the write recorded is at or below it).
- The horizon, published in Redis by the pipeline (read_indexer/capture/searchable_horizon.py),
  holds `xmin` (every transaction below it had ended when it was taken) and `watermark` (every
  change visible then with a smaller id had been indexed, counted, fanned out, and the changes that
  this caused as well, and a refresh of every index had made all of it searchable).

So a token is reflected once `txid_bound <= xmin` (the write was visible to the horizon's
snapshot) and `event_bound < watermark` (all of its changes were done). The read side runs no
SQL: it compares two pairs of integers and, if needed, listens for the next horizon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import struct
import time
from dataclasses import dataclass

TOKEN_HEADER = "Consistency-Token"
TOKEN_PARAM = "consistency_token"
STATUS_HEADER = "Consistency-Status"
REFLECTED, PENDING = "reflected", "pending"

HORIZON_KEY = "consistency:horizon"
DEMAND_KEY = "consistency:demand"  # set while someone waits: the publisher works only then
DEMAND_TTL_MS = 2000

_VERSION = 1
_LAYOUT = struct.Struct(">BQQQ")  # version, organisation id, txid bound, event bound
_TAG_BYTES = 12
_ENCODED_LENGTH = len(base64.urlsafe_b64encode(bytes(_LAYOUT.size + _TAG_BYTES)).rstrip(b"="))


class InvalidToken(ValueError):
    """Not a token this deployment issued for this organisation; the message is safe to show."""


@dataclass(frozen=True)
class Token:
    organisation_id: int
    txid_bound: int
    event_bound: int


@dataclass(frozen=True)
class Horizon:
    xmin: int
    watermark: int

    def reflects(self, token: Token) -> bool:
        return token.txid_bound <= self.xmin and token.event_bound < self.watermark

    def encode(self) -> str:
        return f"{self.xmin} {self.watermark}"

    @classmethod
    def decode(cls, value: bytes | str | None) -> Horizon | None:
        if value is None:
            return None
        xmin, watermark = (value.decode() if isinstance(value, bytes) else value).split()
        return cls(int(xmin), int(watermark))


def _key(secret: str) -> bytes:
    return hashlib.sha256(b"consistency-token:" + secret.encode()).digest()


def _tag(secret: str, body: bytes) -> bytes:
    return hmac.new(_key(secret), body, hashlib.sha256).digest()[:_TAG_BYTES]


def encode_token(token: Token, secret: str) -> str:
    body = _LAYOUT.pack(_VERSION, token.organisation_id, token.txid_bound, token.event_bound)
    return base64.urlsafe_b64encode(body + _tag(secret, body)).rstrip(b"=").decode()


def decode_token(text: str, secret: str, *, organisation_id: int) -> Token:
    """The token, if this deployment signed it for `organisation_id`; otherwise InvalidToken.

    A token of another organisation gets the same answer as a forged one: it reveals nothing.
    """
    if len(text) != _ENCODED_LENGTH or not re.fullmatch(r"[A-Za-z0-9_-]+", text):
        raise InvalidToken("Not a consistency token: use the Consistency-Token header of a write response as it is.")
    raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode() != text:  # unused low bits of the last character
        raise InvalidToken("Not a consistency token: use the Consistency-Token header of a write response as it is.")
    body, tag = raw[: _LAYOUT.size], raw[_LAYOUT.size :]
    version, organisation, txid_bound, event_bound = _LAYOUT.unpack(body)
    if not hmac.compare_digest(tag, _tag(secret, body)) or version != _VERSION or organisation != organisation_id:
        raise InvalidToken("This consistency token was not issued to your organisation by this service.")
    return Token(organisation, txid_bound, event_bound)


def organisation_key(organisation_id: int | None) -> int:
    return organisation_id or 0  # users of no organisation share one namespace of tokens


@dataclass(frozen=True)
class WaitPreference:
    seconds: float


_PREFER_WAIT = re.compile(r"^\s*wait-for\s*=\s*\"?indexed\"?\s*$", re.IGNORECASE)
_PREFER_MAX = re.compile(r"^\s*max\s*=\s*\"?([0-9]+(?:\.[0-9]+)?)\"?\s*$", re.IGNORECASE)


def wait_preference(prefer: str | None, *, default_seconds: float, max_seconds: float) -> WaitPreference | None:
    """`Prefer: wait-for=indexed[; max=S]` (RFC 7240): the bound to wait, or None if not asked.

    Preferences the server does not know are ignored, as RFC 7240 says; `max` only shortens the bound.
    """
    if not prefer:
        return None
    for preference in prefer.split(","):
        name, *parameters = preference.split(";")
        if not _PREFER_WAIT.match(name):
            continue
        seconds = default_seconds
        for parameter in parameters:
            if match := _PREFER_MAX.match(parameter):
                seconds = float(match.group(1))
        return WaitPreference(min(seconds, max_seconds))
    return None


def horizon_channel(namespace: str) -> str:
    """Pub/sub channels are global to a Redis server: one per data namespace."""
    return f"consistency:horizon:{namespace}"


def wait_until_reflected(redis, token: Token, *, seconds: float, namespace: str) -> bool:
    """True once the published horizon reflects `token`, False at the bound. Never raises on a
    missing horizon: no publisher yet is the same as not reflected yet."""
    if (horizon := Horizon.decode(redis.get(HORIZON_KEY))) and horizon.reflects(token):
        return True
    deadline = time.monotonic() + seconds
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    try:
        pubsub.subscribe(horizon_channel(namespace))
        demanded_until = 0.0
        while True:
            now = time.monotonic()
            if now >= demanded_until:
                redis.set(DEMAND_KEY, 1, px=DEMAND_TTL_MS)
                demanded_until = now + DEMAND_TTL_MS / 2000
            # Read the key after subscribing: a horizon published in between is not missed.
            if (horizon := Horizon.decode(redis.get(HORIZON_KEY))) and horizon.reflects(token):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            message = pubsub.get_message(timeout=min(remaining, DEMAND_TTL_MS / 2000))
            if message and (horizon := Horizon.decode(message["data"])) and horizon.reflects(token):
                return True
    finally:
        pubsub.close()

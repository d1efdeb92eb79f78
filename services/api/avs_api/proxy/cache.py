"""Cached upstream answers in Redis: the key, and the stored form (a JSON head line, then the body)."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class CachedAnswer:
    status: int
    content_type: str
    body: bytes
    stored_at: float

    def age_s(self) -> int:
        return max(0, int(time.time() - self.stored_at))


def cache_key(prefix: str, provider: str, method: str, url: str, body: bytes | None) -> str:
    """``<prefix>cache:<provider>:<sha256 of method, URL and the body's sha256>``."""
    body_hash = hashlib.sha256(body or b"").hexdigest()
    digest = hashlib.sha256(f"{method}\n{url}\n{body_hash}".encode()).hexdigest()
    return f"{prefix}cache:{provider}:{digest}"


def encode(answer: CachedAnswer) -> bytes:
    head = {"status": answer.status, "content_type": answer.content_type, "stored_at": answer.stored_at}
    return json.dumps(head).encode() + b"\n" + answer.body


def decode(raw: bytes) -> CachedAnswer | None:
    """The stored answer, or None for anything unreadable (treated as a miss)."""
    head, sep, body = raw.partition(b"\n")
    if not sep:
        return None
    try:
        meta = json.loads(head)
        return CachedAnswer(int(meta["status"]), str(meta["content_type"]), body, float(meta["stored_at"]))
    except (ValueError, KeyError, TypeError):
        return None

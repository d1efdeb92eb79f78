"""Browser sessions of the review page, and CSRF tokens for its forms.

A reviewer signs in once with an API key (the reviewer or operator role); the page
then uses a session cookie instead of the key:

- the cookie holds ``{name, role, session id, expiry}`` signed with HMAC-SHA256 under
  the session secret (``AVS_REVIEW_SESSION_SECRET``; a random one per process when
  unset, which logs everyone out on restart and does not work behind several API
  processes). It is ``HttpOnly`` (scripts cannot read it), ``SameSite=Strict`` (other
  sites' pages do not send it) and ``Secure`` when the request came over HTTPS or
  ``AVS_REVIEW_COOKIE_SECURE`` says so; it never holds the API key;
- every form carries a CSRF token, an HMAC of the session id, checked in constant time
  (a synchronizer token that needs no server state); the sign-in form, which has no
  session yet, pairs a random cookie with an HMAC of it (double submit, signed).

JSON endpoints never accept the cookie: they take the API key in a header, which a
browser never attaches on its own, so they need no CSRF token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from avs_api.auth import Principal, Role

SESSION_COOKIE = "avs_review_session"
LOGIN_COOKIE = "avs_review_login"
COOKIE_PATH = "/review"


@dataclass(frozen=True)
class Session:
    name: str
    role: Role
    session_id: str
    expires_at: int

    @property
    def principal(self) -> Principal:
        return Principal(self.name, self.role)


class SessionCodec:
    """Issues and checks session cookies and CSRF tokens under one secret."""

    def __init__(self, secret: bytes, *, ttl_s: int) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(self, principal: Principal, *, now: float | None = None) -> tuple[str, Session]:
        """A new session for ``principal``: the cookie value and what it says."""
        session = Session(
            principal.name,
            principal.role,
            secrets.token_urlsafe(18),
            int((now if now is not None else time.time()) + self.ttl_s),
        )
        body = json.dumps(
            {"n": session.name, "r": session.role, "s": session.session_id, "e": session.expires_at},
            separators=(",", ":"),
        ).encode()
        encoded = _b64(body)
        return f"{encoded}.{self._sign('session', encoded)}", session

    def read(self, cookie: str | None, *, now: float | None = None) -> Session | None:
        """The session of a cookie value; None when absent, tampered with or expired."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 1024:
            return None
        encoded, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign("session", encoded)):
            return None
        try:
            doc = json.loads(_unb64(encoded))
            session = Session(str(doc["n"]), doc["r"], str(doc["s"]), int(doc["e"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if session.role not in ("reviewer", "operator"):
            return None
        if session.expires_at <= (now if now is not None else time.time()):
            return None
        return session

    def csrf_token(self, session: Session) -> str:
        """The CSRF token of every form of ``session``."""
        return self._sign("csrf", session.session_id)

    def csrf_ok(self, session: Session, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(str(presented), self.csrf_token(session))

    def login_token(self, nonce: str) -> str:
        """The sign-in form's token for the random ``nonce`` of its cookie."""
        return self._sign("login", nonce)

    def login_ok(self, nonce: str | None, presented: str | None) -> bool:
        if not nonce or not presented or len(nonce) > 128:
            return False
        return hmac.compare_digest(str(presented), self.login_token(nonce))

    def _sign(self, purpose: str, value: str) -> str:
        mac = hmac.new(self._secret, f"{purpose}\x1f{value}".encode(), hashlib.sha256).digest()
        return _b64(mac)


def new_nonce() -> str:
    return secrets.token_urlsafe(18)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))

"""Access control: API keys with roles, checked as a FastAPI dependency.

Public read endpoints need no credentials. Review and operator endpoints declare
``Depends(require_role("reviewer"))`` / ``Depends(require_role("operator"))`` (or the
``Reviewer`` / ``Operator`` aliases). A client presents its key as ``X-API-Key: <key>``
or ``Authorization: Bearer <key>``; ``X-API-Key`` wins when both are sent.

Roles are ordered: ``operator`` includes ``reviewer`` (operators run the system and may
also review; a reviewer key never reaches operator endpoints).

Keys are configured as hashed records, never in plaintext: in ``AVS_API_KEYS``
(``[{"name": "alice", "role": "reviewer", "sha256": "<hex>"}]``) and/or in an AWS
Secrets Manager secret holding the same JSON (``AVS_API_KEYS_SECRET_ID``), read once on
first use and cached for the life of the process (rotate by adding the new record,
restarting, then removing the old one; two records may share a name). A presented key
is hashed and compared with ``hmac.compare_digest`` against every record, with no early
exit, so the time taken does not depend on which record (if any) matched.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

import structlog
from botocore.exceptions import BotoCoreError, ClientError
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator

from avs_api.errors import ApiError
from avs_shared.errors import ConfigurationError, Retryable

if TYPE_CHECKING:
    from fastapi import FastAPI

    from avs_api.settings import ApiSettings

log = structlog.get_logger(__name__)

Role = Literal["reviewer", "operator"]
_RANK: dict[str, int] = {"reviewer": 1, "operator": 2}
_MAX_KEY_CHARS = 256  # longer credentials are rejected before hashing
_SECRET_RETRY_S = 5.0  # after a failed Secrets Manager read, fail fast this long
_CHALLENGE = 'Bearer realm="anime-vector-service"'


class ApiKeyRecord(BaseModel):
    """One configured key: who holds it, its role and the sha256 of the key (hex)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")
    role: Role
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", description="hex sha256 of the key, never the key")

    @field_validator("sha256", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value


_RECORDS = TypeAdapter(list[ApiKeyRecord])


@dataclass(frozen=True)
class Principal:
    """The holder of a valid key."""

    name: str
    role: Role

    def has(self, role: Role) -> bool:
        return _RANK[self.role] >= _RANK[role]


@dataclass(frozen=True)
class GeneratedKey:
    """A fresh key: hand ``plaintext`` to its holder once; configure ``record``."""

    plaintext: str
    record: ApiKeyRecord


def hash_key(plain: str) -> str:
    """The hex sha256 a record stores for ``plain``."""
    return hashlib.sha256(plain.encode()).hexdigest()


def generate_api_key(name: str, role: Role) -> GeneratedKey:
    """A new random key (256 bits) and the record to configure for it."""
    plaintext = "avs_" + secrets.token_urlsafe(32)
    return GeneratedKey(plaintext, ApiKeyRecord(name=name, role=role, sha256=hash_key(plaintext)))


def parse_records(raw: str | bytes, *, source: str) -> list[ApiKeyRecord]:
    """Records from JSON (the secret's value); ConfigurationError naming ``source`` if invalid."""
    try:
        return _RECORDS.validate_json(raw)
    except ValidationError as exc:
        # The message names fields, never values: a value might be a misplaced plaintext key.
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ConfigurationError(f"invalid API key records in {source}: {problems}") from None


SecretReader = Callable[[str], Awaitable[str]]


class KeyStore:
    """The configured key records: from settings, plus a Secrets Manager secret read once, lazily."""

    def __init__(
        self,
        records: Sequence[ApiKeyRecord],
        *,
        secret_id: str | None = None,
        read_secret: SecretReader | None = None,
    ) -> None:
        self._static = list(records)
        self._secret_id = secret_id
        self._read_secret = read_secret
        self._entries: list[tuple[bytes, ApiKeyRecord]] | None = None
        self._lock = asyncio.Lock()
        self._failed_at = -_SECRET_RETRY_S
        self._failure: Exception | None = None
        if secret_id is None:
            self._entries = _entries(self._static)

    async def identify(self, presented: str) -> Principal | None:
        """The principal of ``presented``, or None if it matches no record (constant time)."""
        entries = await self._loaded()
        if not presented or len(presented) > _MAX_KEY_CHARS:
            return None
        digest = hashlib.sha256(presented.encode()).digest()
        found: ApiKeyRecord | None = None
        for expected, record in entries:
            # No break: every record is compared, whichever matches.
            if hmac.compare_digest(digest, expected):
                found = record
        return Principal(found.name, found.role) if found is not None else None

    async def _loaded(self) -> list[tuple[bytes, ApiKeyRecord]]:
        if self._entries is not None:
            return self._entries
        async with self._lock:
            if self._entries is None:
                if self._failure is not None and time.monotonic() - self._failed_at < _SECRET_RETRY_S:
                    raise self._failure
                try:
                    secret = await self._fetch()
                except Exception as exc:
                    self._failure, self._failed_at = exc, time.monotonic()
                    raise
                self._entries = _entries([*self._static, *secret])
                log.info("auth.keys_loaded", records=len(self._entries), secret_id=self._secret_id)
            return self._entries

    async def _fetch(self) -> list[ApiKeyRecord]:
        assert self._secret_id is not None
        if self._read_secret is None:
            raise ConfigurationError("api_keys_secret_id is set but no secret reader was given")
        value = await self._read_secret(self._secret_id)
        return parse_records(value, source=f"secret {self._secret_id}")


def _entries(records: Sequence[ApiKeyRecord]) -> list[tuple[bytes, ApiKeyRecord]]:
    seen: dict[str, ApiKeyRecord] = {}
    for record in records:
        other = seen.setdefault(record.sha256, record)
        if other.role != record.role:
            raise ConfigurationError(f"one key hash has two roles ({other.name!r}, {record.name!r})")
    return [(bytes.fromhex(r.sha256), r) for r in records]


def key_store(app: FastAPI, settings: ApiSettings) -> KeyStore:
    """The app's key store, built on first use (no I/O: the secret is read on the first check)."""
    store: KeyStore | None = getattr(app.state, "api_key_store", None)
    if store is None:

        async def read_secret(secret_id: str) -> str:
            return await _read_secret(app, secret_id)

        store = KeyStore(settings.api_keys, secret_id=settings.api_keys_secret_id, read_secret=read_secret)
        app.state.api_key_store = store
    return store


async def _read_secret(app: FastAPI, secret_id: str) -> str:
    try:
        client = await app.state.resources.aws.client("secretsmanager")
        response: dict[str, Any] = await client.get_secret_value(SecretId=secret_id)
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in {"ResourceNotFoundException", "AccessDeniedException", "InvalidRequestException"}:
            raise ConfigurationError(f"cannot read API keys secret {secret_id!r}: {code}") from exc
        raise Retryable(f"Secrets Manager failed reading the API keys: {code}", retry_after_s=5) from exc
    except (BotoCoreError, OSError) as exc:
        raise Retryable(f"Secrets Manager unreachable: {type(exc).__name__}", retry_after_s=5) from exc
    value = response.get("SecretString")
    if not isinstance(value, str):
        raise ConfigurationError(f"API keys secret {secret_id!r} has no SecretString (JSON records)")
    return value


def presented_key(headers: Any) -> str | None:
    """The credential of a request (``X-API-Key`` first, then ``Authorization: Bearer``)."""
    key = headers.get("x-api-key")
    if key:
        return str(key).strip()
    scheme, _, token = str(headers.get("authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


# Declared for the OpenAPI document; the dependency reads the headers itself.
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="an API key")
_bearer = HTTPBearer(auto_error=False, description="an API key as a bearer token")


def require_role(role: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting requests with a key of ``role`` or above: 401 without, 403 below."""
    if role not in _RANK:
        raise ValueError(f"unknown role {role!r}")

    async def dependency(
        request: Request,
        _key: Annotated[str | None, Security(_api_key_header)],
        _token: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)],
    ) -> Principal:
        presented = presented_key(request.headers)
        if presented is None:
            raise _unauthenticated("this endpoint needs an API key: send X-API-Key or Authorization: Bearer")
        store = key_store(request.app, request.app.state.resources.settings)
        principal = await store.identify(presented)
        if principal is None:
            raise _unauthenticated("the API key is not valid")
        if not principal.has(role):
            raise ApiError(
                403,
                "forbidden",
                f"this endpoint needs the {role} role; the key {principal.name!r} has {principal.role}",
            )
        request.state.principal = principal
        return principal

    return dependency


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": _CHALLENGE})


Reviewer = Annotated[Principal, Depends(require_role("reviewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]

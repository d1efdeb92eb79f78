"""API keys and roles: a protected router that exists only in these tests, on the real app.

Keys come from settings (hashed records) or from a Secrets Manager secret in the moto server.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from pydantic import ValidationError

from avs_api import auth
from avs_api.app import create_app
from avs_api.auth import ApiKeyRecord, KeyStore, Operator, Reviewer, generate_api_key, hash_key
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.embedded.processes import MotoServer, RedisServer
from avs_shared.errors import ConfigurationError
from avs_shared.settings import load_settings

ALICE = generate_api_key("alice", "reviewer")
OLGA = generate_api_key("olga", "operator")

protected = APIRouter(prefix="/test-protected")


@protected.get("/review")
async def review(principal: Reviewer) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role}


@protected.get("/operate")
async def operate(principal: Operator) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role}


@protected.get("/public")
async def public() -> dict[str, str]:
    return {"status": "open"}


def app_with_protected_routes(settings: ApiSettings) -> FastAPI:
    app = create_app(settings)
    app.include_router(protected)
    return app


def auth_settings(redis_url: str, tmp_path: Path, **extra: Any) -> ApiSettings:
    prefix = f"t-{uuid.uuid4().hex[:8]}:"
    values: dict[str, Any] = {
        "service_name": "avs-api-test",
        "redis_url": redis_url,
        "data_dir": tmp_path,
        "rate_limit_key_prefix": f"{prefix}rl:",
        "api_keys": [ALICE.record.model_dump(), OLGA.record.model_dump()],
    }
    values.update(extra)
    return ApiSettings(**values)


@pytest.fixture
def client(redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(app_with_protected_routes(auth_settings(redis_server.url, tmp_path))) as test_client:
        yield test_client


def test_no_credentials_is_401_json_with_a_challenge(client: TestClient) -> None:
    response = client.get("/test-protected/review")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-API-Key": "avs_not-a-key"},
        {"Authorization": "Bearer avs_not-a-key"},
        {"X-API-Key": ALICE.record.sha256},  # the hash is not the key
        {"Authorization": f"Basic {ALICE.plaintext}"},  # not a scheme we accept
        {"X-API-Key": "x" * 10_000},
    ],
)
def test_an_unknown_key_is_401(client: TestClient, headers: dict[str, str]) -> None:
    response = client.get("/test-protected/review", headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"
    assert "www-authenticate" in response.headers


def test_a_key_with_a_lower_role_is_403_json(client: TestClient) -> None:
    response = client.get("/test-protected/operate", headers={"X-API-Key": ALICE.plaintext})
    assert response.status_code == 403
    error = response.json()["error"]
    assert error["code"] == "forbidden"
    assert "operator" in error["message"] and "alice" in error["message"]


@pytest.mark.parametrize("form", ["header", "bearer"])
def test_the_right_role_is_admitted_by_either_header_form(client: TestClient, form: str) -> None:
    headers = (
        {"X-API-Key": ALICE.plaintext} if form == "header" else {"Authorization": f"Bearer {ALICE.plaintext}"}
    )
    response = client.get("/test-protected/review", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "alice", "role": "reviewer"}


def test_an_operator_may_also_review(client: TestClient) -> None:
    for path in ("/test-protected/review", "/test-protected/operate"):
        response = client.get(path, headers={"Authorization": f"Bearer {OLGA.plaintext}"})
        assert response.status_code == 200, response.text
        assert response.json() == {"name": "olga", "role": "operator"}


def test_public_endpoints_need_no_key(client: TestClient) -> None:
    assert client.get("/test-protected/public").status_code == 200
    assert client.get("/health").status_code == 200


def test_protected_routes_declare_their_security_schemes(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert {"APIKeyHeader", "HTTPBearer"} <= set(document["components"]["securitySchemes"])
    assert "security" in document["paths"]["/test-protected/review"]["get"]


async def test_keys_from_secrets_manager_are_read_once_and_cached(
    moto_server: MotoServer, aws: AwsClients, redis_server: RedisServer, tmp_path: Path
) -> None:
    secrets = await aws.client("secretsmanager")
    secret_id = f"avs/api-keys/{uuid.uuid4().hex[:8]}"
    sam = generate_api_key("sam", "reviewer")
    await secrets.create_secret(Name=secret_id, SecretString=json.dumps([sam.record.model_dump()]))
    settings = auth_settings(redis_server.url, tmp_path, api_keys=[], api_keys_secret_id=secret_id)

    with TestClient(app_with_protected_routes(settings)) as client:
        first = client.get("/test-protected/review", headers={"X-API-Key": sam.plaintext})
        # Replace the secret: the process keeps what it read (loaded once, then cached).
        later = generate_api_key("later", "reviewer")
        await secrets.put_secret_value(
            SecretId=secret_id, SecretString=json.dumps([later.record.model_dump()])
        )
        again = client.get("/test-protected/review", headers={"X-API-Key": sam.plaintext})
        not_yet = client.get("/test-protected/review", headers={"X-API-Key": later.plaintext})

    assert first.status_code == 200, first.text
    assert first.json() == {"name": "sam", "role": "reviewer"}
    assert again.status_code == 200
    assert not_yet.status_code == 401


async def test_a_missing_secret_is_a_configuration_error_not_an_open_door(
    moto_server: MotoServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = auth_settings(redis_server.url, tmp_path, api_keys_secret_id=f"avs/missing/{uuid.uuid4().hex}")
    with TestClient(app_with_protected_routes(settings)) as client:
        response = client.get("/test-protected/review", headers={"X-API-Key": ALICE.plaintext})
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "misconfigured"


# --- records and hashing ----------------------------------------------------------------


def test_settings_hold_hashes_never_plaintext(redis_server: RedisServer, tmp_path: Path) -> None:
    settings = auth_settings(redis_server.url, tmp_path)
    dumped = settings.model_dump_json()
    assert ALICE.plaintext not in dumped and OLGA.plaintext not in dumped
    assert ALICE.record.sha256 in dumped
    assert (
        ALICE.record.sha256
        == hashlib.sha256(ALICE.plaintext.encode()).hexdigest()
        == hash_key(ALICE.plaintext)
    )
    assert ALICE.plaintext not in ALICE.record.model_dump_json()


@pytest.mark.parametrize(
    "entry",
    [
        {"name": "eve", "role": "reviewer", "key": "avs_plaintext"},  # no field may carry a key
        {"name": "eve", "role": "reviewer", "sha256": "avs_plaintext"},  # not a hex digest
        {"name": "eve", "role": "admin", "sha256": "0" * 64},
        {"name": "eve", "role": "reviewer"},
    ],
)
def test_invalid_key_records_fail_at_startup(entry: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError):
        ApiSettings(api_keys=[entry])
    monkeypatch.setenv("AVS_API_KEYS", json.dumps([entry]))
    with pytest.raises(ConfigurationError, match="AVS_API_KEYS"):
        load_settings(ApiSettings)


def test_keys_load_from_the_environment_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AVS_API_KEYS", json.dumps([ALICE.record.model_dump()]))
    settings = load_settings(ApiSettings)
    assert settings.api_keys == [ALICE.record]


def test_a_secret_with_bad_records_names_the_secret_not_the_values() -> None:
    raw = json.dumps([{"name": "eve", "role": "reviewer", "key": "avs_plaintext_value"}])
    with pytest.raises(ConfigurationError, match="secret s1") as caught:
        auth.parse_records(raw, source="secret s1")
    assert "avs_plaintext_value" not in str(caught.value)


async def test_every_record_is_compared_even_after_a_match(monkeypatch: pytest.MonkeyPatch) -> None:
    records = [generate_api_key(f"k{i}", "reviewer").record for i in range(4)]
    first = generate_api_key("first", "operator")
    store = KeyStore([first.record, *records])
    compared: list[bytes] = []
    real = hmac.compare_digest

    def counting(a: bytes, b: bytes) -> bool:
        compared.append(b)
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", counting)
    principal = await store.identify(first.plaintext)
    assert principal == auth.Principal("first", "operator")
    assert len(compared) == 5  # no early exit on the first (matching) record
    compared.clear()
    assert await store.identify("avs_wrong") is None
    assert len(compared) == 5


async def test_two_keys_may_share_a_name_during_rotation_but_not_a_hash_with_two_roles() -> None:
    old, new = generate_api_key("ci", "operator"), generate_api_key("ci", "operator")
    store = KeyStore([old.record, new.record])
    assert await store.identify(old.plaintext) == await store.identify(new.plaintext)
    clash = ApiKeyRecord(name="x", role="reviewer", sha256=old.record.sha256)
    with pytest.raises(ConfigurationError, match="two roles"):
        KeyStore([old.record, clash])


def test_generated_keys_are_random_and_long() -> None:
    a, b = generate_api_key("a", "reviewer"), generate_api_key("a", "reviewer")
    assert a.plaintext != b.plaintext
    assert a.plaintext.startswith("avs_") and len(a.plaintext) >= 40
    assert a.record.name == "a" and a.record.role == "reviewer"

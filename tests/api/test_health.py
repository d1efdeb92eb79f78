"""``GET /health`` and ``GET /ready`` of the API against the real moto server and redis-server."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from avs_api.app import create_app
from avs_api.settings import ApiSettings
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.embedded.processes import RedisServer, free_port
from avs_shared.topology import T_ENRICHED


def api_settings(redis_url: str, data_dir: Path | None = None, **extra: object) -> ApiSettings:
    return ApiSettings(
        service_name="avs-api-test",
        redis_url=redis_url,
        ready_timeout_seconds=10.0,  # generous: a loaded CI machine must not make a dependency "down"
        data_dir=data_dir or Path(tempfile.mkdtemp(prefix="avs-api-")),
        **extra,
    )


@pytest.fixture
def client(provisioned: Provisioner, redis_server: RedisServer, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(api_settings(redis_server.url, tmp_path))) as test_client:
        yield test_client


def test_creating_the_app_does_no_io() -> None:
    # Nothing listens on this port, and no AWS call is made: building the app must not fail.
    create_app(api_settings(f"redis://127.0.0.1:{free_port()}/0"))


def test_health_is_ok_without_checking_dependencies() -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(create_app(api_settings(dead_redis))) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_ready_is_200_when_dynamodb_and_redis_answer(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready" and body["down"] == []
    assert {name: check["status"] for name, check in body["checks"].items()} == {
        "dynamodb": "up",
        "redis": "up",
        "vector-index": "up",
    }


def test_ready_is_503_naming_the_vector_index_when_it_is_unreachable(
    provisioned: Provisioner, redis_server: RedisServer, tmp_path: Path
) -> None:
    settings = api_settings(redis_server.url, tmp_path, qdrant_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["vector-index"]
    assert body["checks"]["dynamodb"]["status"] == "up"


def test_ready_is_503_naming_redis_when_redis_is_down(provisioned: Provisioner) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with TestClient(create_app(api_settings(dead_redis))) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["down"] == ["redis"]
    assert body["checks"]["dynamodb"]["status"] == "up"
    assert body["checks"]["redis"]["status"] == "down"
    assert dead_redis.split("//")[1].split("/")[0] in body["checks"]["redis"]["error"]


async def test_ready_is_503_naming_dynamodb_when_the_table_is_missing(
    provisioned: Provisioner, aws: AwsClients, redis_server: RedisServer
) -> None:
    ddb = await aws.client("dynamodb")
    await ddb.delete_table(TableName=T_ENRICHED)
    try:
        with TestClient(create_app(api_settings(redis_server.url))) as client:
            response = client.get("/ready")
    finally:
        await provisioned.provision()  # put the table back for the tests after this one
    assert response.status_code == 503
    body = response.json()
    assert body["down"] == ["dynamodb"]
    assert "ResourceNotFoundException" in body["checks"]["dynamodb"]["error"]
    assert body["checks"]["redis"]["status"] == "up"

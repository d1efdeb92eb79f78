"""Which vector index the ingestor updates search payloads through: the process's shared one in
``avs run``, a Qdrant server in a container of its own, none (logged once) without one."""

from __future__ import annotations

import contextlib

import pytest
import structlog
from image_testkit import ingestor_settings

from avs_image_ingestor.ports import ingestor_ports, open_ingestor_ports
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.adapters.vector.qdrant_server import QdrantServerVectorIndex
from avs_shared.runtime import build_runtime
from avs_shared.runtime.components import shared_vector_index
from avs_shared.runtime.context import RunContext
from avs_shared.settings import ServiceSettings


async def test_avs_run_shares_the_process_index(
    aws: AwsClients, settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVS_REDIS_URL", settings.redis_url)
    publisher, idempotency, claim_check = await build_runtime(aws, settings)
    async with contextlib.AsyncExitStack() as resources:
        ctx = RunContext(
            settings=settings,
            aws=aws,
            publisher=publisher,
            idempotency=idempotency,
            claim_check=claim_check,
            data_dir=settings.data_dir,
            resources=resources,
        )
        ports = ingestor_ports(ctx)
        assert ports.ingestor.index is not None
        assert ports.ingestor.index is shared_vector_index(ctx), "the indexer's index, not a second one"
        assert ingestor_ports(ctx) is ports


async def test_a_container_without_qdrant_url_has_no_index_and_says_so_once(
    provisioned: Provisioner, settings: ServiceSettings
) -> None:
    alone = ingestor_settings(settings).model_copy(update={"qdrant_url": None})
    with structlog.testing.capture_logs() as logs:
        async with open_ingestor_ports(alone) as ports:
            assert ports.ingestor.index is None
    notes = [e for e in logs if e["event"] == "search_payload.no_index"]
    assert len(notes) == 1 and "next commit" in notes[0]["detail"] and "QDRANT_URL" in notes[0]["detail"]


async def test_a_container_with_qdrant_url_updates_through_the_server(
    provisioned: Provisioner, settings: ServiceSettings
) -> None:
    served = ingestor_settings(settings).model_copy(update={"qdrant_url": "http://127.0.0.1:6333"})
    with structlog.testing.capture_logs() as logs:
        async with open_ingestor_ports(served) as ports:
            assert isinstance(ports.ingestor.index, QdrantServerVectorIndex)  # no I/O until first use
    assert not [e for e in logs if e["event"] == "search_payload.no_index"]

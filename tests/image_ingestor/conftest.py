"""Fixtures of the image ingestor tests: a freshly provisioned moto, a loopback image server,
and ingestors built from the real adapters (``make``), closed at teardown."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from image_testkit import FakeClock, ImageServer, IngestorKit, MakeKit, ingestor_settings, make_kit

from avs_image_ingestor.objects import ImageObjects
from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.dynamo_entries import DynamoEntryStore
from avs_shared.adapters.provision import Provisioner
from avs_shared.ports.vector import VectorIndex
from avs_shared.settings import ServiceSettings


@pytest.fixture
async def image_server() -> AsyncIterator[ImageServer]:
    server = ImageServer()
    await server.start()
    yield server
    await server.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
async def make(
    provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings, clock: FakeClock
) -> AsyncIterator[MakeKit]:
    """``make(**settings_overrides, entries=None, index=None, index_model=None, image_objects=None)``:
    an ingestor on the provisioned moto."""
    kits: list[IngestorKit] = []

    def build(
        *,
        entries: DynamoEntryStore | None = None,
        index: VectorIndex | None = None,
        index_model: tuple[str, int] | None = None,
        image_objects: ImageObjects | None = None,
        **overrides: Any,
    ) -> IngestorKit:
        kit = make_kit(
            aws,
            ingestor_settings(settings, **overrides),
            clock,
            entries=entries,
            index=index,
            index_model=index_model,
            image_objects=image_objects,
        )
        kits.append(kit)
        return kit

    yield build
    for kit in kits:
        await kit.close()


@pytest.fixture
async def kit(make: MakeKit) -> IngestorKit:
    return make()

"""Fixtures of the worker-runtime tests (real moto server, provisioned topology)."""

from __future__ import annotations

import pytest
from avs_runtime_testkit import Kit, make_kit

from avs_shared.adapters.aws import AwsClients
from avs_shared.adapters.provision import Provisioner
from avs_shared.settings import ServiceSettings


@pytest.fixture
async def kit(provisioned: Provisioner, aws: AwsClients, settings: ServiceSettings) -> Kit:
    return await make_kit(aws, settings)

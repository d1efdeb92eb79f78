"""What a composition root hands each service's bootstrap: :class:`RunContext`.

The all-in-one runner (``avs run``) builds one for every service; a service running
alone in its container builds its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

from avs_shared.adapters.aws import AwsClients
from avs_shared.events.claim_check import ClaimCheck
from avs_shared.ports import IdempotencyStore, Publisher
from avs_shared.settings import ServiceSettings

T = TypeVar("T")


@dataclass(frozen=True)
class RunContext:
    """The shared parts of one running process, built once by the composition root.

    Attributes
    ----------
    settings:
        The runner's settings (a :class:`ServiceSettings`); a service that needs its
        own fields loads its settings class from the environment, which the CLI has
        already filled with its options.
    aws:
        Long-lived AWS clients (closed by the runner).
    publisher, idempotency, claim_check:
        From ``avs_shared.runtime.build_runtime``.
    data_dir:
        Where local state lives (vector shard, caches, pid files).
    resources:
        Register cleanup of anything a service opens (``push_async_callback``,
        ``enter_async_context`` needs a running loop: use ``push_async_callback``
        from the synchronous registry functions); closed after the workers stop.
    """

    settings: ServiceSettings
    aws: AwsClients
    publisher: Publisher
    idempotency: IdempotencyStore
    claim_check: ClaimCheck
    data_dir: Path
    resources: contextlib.AsyncExitStack
    components: dict[str, object] = field(default_factory=dict)

    def component(self, key: str, factory: Callable[[], T]) -> T:
        """One shared instance per process of an expensive part (the vector index, the
        embedder), so services running in one process share it: an embedded Qdrant
        Edge shard has exactly one owner process, and a model is loaded once."""
        if key not in self.components:
            self.components[key] = factory()
        return cast(T, self.components[key])

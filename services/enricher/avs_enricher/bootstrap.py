"""The enricher's composition root: its two queue consumers.

``handler_specs`` follows the registry contract of the all-in-one runner (see
``avs_cli.registry``); ``python -m avs_enricher`` runs the same consumers in a process of
its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from avs_enricher.handlers import on_anime_new, on_episode_update
from avs_enricher.ports import EnricherPorts, enricher_ports
from avs_shared.events import AnimeNew, EpisodeUpdate
from avs_shared.runtime.context import RunContext
from avs_shared.runtime.spec import HandlerSpec, MessageContext
from avs_shared.topology import Q_ENRICHER_ANIME_NEW, Q_ENRICHER_EPISODE_UPDATE

ANIME_NEW_HANDLER = "enricher-anime-new"
EPISODE_UPDATE_HANDLER = "enricher-episode-update"


def anime_new_spec(ports: EnricherPorts, *, concurrency: int = 4) -> HandlerSpec[AnimeNew]:
    async def handle(event: AnimeNew, ctx: MessageContext) -> Sequence[Any]:
        return await on_anime_new(event, ctx, ports=ports)

    return HandlerSpec(ANIME_NEW_HANDLER, Q_ENRICHER_ANIME_NEW, AnimeNew, handle, concurrency=concurrency)


def episode_update_spec(ports: EnricherPorts, *, concurrency: int = 4) -> HandlerSpec[EpisodeUpdate]:
    async def handle(event: EpisodeUpdate, ctx: MessageContext) -> Sequence[Any]:
        return await on_episode_update(event, ctx, ports=ports)

    return HandlerSpec(
        EPISODE_UPDATE_HANDLER, Q_ENRICHER_EPISODE_UPDATE, EpisodeUpdate, handle, concurrency=concurrency
    )


def all_specs(ports: EnricherPorts) -> list[HandlerSpec[Any]]:
    # Few at a time: every anime waits on the providers' shared rate limits anyway.
    concurrency = min(ports.settings.worker_concurrency, 4)
    return [
        anime_new_spec(ports, concurrency=concurrency),
        episode_update_spec(ports, concurrency=concurrency),
    ]


def handler_specs(ctx: RunContext) -> list[HandlerSpec[Any]]:
    return all_specs(enricher_ports(ctx))

"""The services as the cloud runs them: one container image, one Fargate service each.

Queue names come from the topology catalogue. The package names match
``services/<package>/`` and the operator CLI's registry (a test checks both).
"""

from __future__ import annotations

from dataclasses import dataclass

from avs_shared.topology import (
    Q_ENRICHER_ANIME_NEW,
    Q_ENRICHER_EPISODE_UPDATE,
    Q_IMAGE_REQUESTED,
    Q_INDEXER_BULK_CHUNKS,
    Q_INDEXER_ENTRY_APPROVED,
    Q_REVIEW_REQUESTS,
    TOPOLOGY,
    Schedule,
)


@dataclass(frozen=True)
class ServiceSpec:
    """One service.

    ``package``: ``avs_<package>`` and ``services/<package>/``; ``name``: its dashed form,
    used in resource names, tags, the ECR repository and the container name.
    ``consumes``: the queues its workers poll (their depth drives scaling).
    ``qdrant``: gets the Qdrant URL and key; ``port``: serves HTTP on it.
    """

    package: str
    consumes: tuple[str, ...] = ()
    qdrant: bool = False
    port: int | None = None

    @property
    def name(self) -> str:
        return self.package.replace("_", "-")

    @property
    def module(self) -> str:
        return f"avs_{self.package}"

    @property
    def otel_name(self) -> str:
        """``service.name`` of its telemetry, as in docker-compose.local.yml."""
        return f"avs-{self.name}"


API_PORT = 8000

SERVICES: tuple[ServiceSpec, ...] = (
    ServiceSpec("api", consumes=(Q_REVIEW_REQUESTS,), qdrant=True, port=API_PORT),
    ServiceSpec("sync", qdrant=True),
    ServiceSpec("enricher", consumes=(Q_ENRICHER_ANIME_NEW, Q_ENRICHER_EPISODE_UPDATE)),
    ServiceSpec("image_ingestor", consumes=(Q_IMAGE_REQUESTED,), qdrant=True),
    ServiceSpec("indexer", consumes=(Q_INDEXER_ENTRY_APPROVED, Q_INDEXER_BULK_CHUNKS), qdrant=True),
)


def service(package: str) -> ServiceSpec:
    for spec in SERVICES:
        if spec.package == package:
            return spec
    raise KeyError(f"{package!r} is not a service")


def cron_command(schedule: Schedule) -> list[str]:
    """The container command of the scheduled task that runs ``schedule`` once.

    The contract with the services (as ``python -m avs_sync weekly-sync`` does):
    ``python -m avs_<service> <schedule-name>`` runs that service's job for the schedule
    once and exits (0 done, 1 the job failed, 2 bad configuration).
    """
    return ["python", "-m", service(schedule.service).module, schedule.name]


def scheduled() -> list[Schedule]:
    """The catalogue's schedules, each owned by one of :data:`SERVICES`."""
    for s in TOPOLOGY.schedules:
        service(s.service)  # an unknown owner is a catalogue error: raise it here
    return list(TOPOLOGY.schedules)

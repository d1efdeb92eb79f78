"""Asking every provider at once and assembling what came back.

A provider that fails never fails the entry: its outcome (``failed`` with the reason,
``not_found``, ``skipped`` with why) goes into ``enrichment_metadata``. Providers run
concurrently; each has its own rate limit, and a deadline bounds the slowest.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import structlog

from avs_enricher.assembly import Assembled, ProviderOutcome, assemble
from avs_enricher.merging import JsonDict
from avs_enricher.providers import AnimeProvider, ProviderError, ProviderNotFound, Subject, provider_ids
from avs_shared.schema import AnimeEntry, OfflineRecord

log = structlog.get_logger(__name__)


def subject_of(sources: Sequence[str], title: str, synonyms: Sequence[str] = ()) -> Subject:
    return Subject(ids=provider_ids(sources), title=title, synonyms=tuple(synonyms))


class Enricher:
    """The providers, asked together.

    Parameters
    ----------
    providers:
        In precedence order (the assembly has its own per-field order).
    deadline_s:
        The longest one provider may take for one anime, retries and rate-limit waits included.
    clock:
        The source of ``enriched_at``.
    """

    def __init__(
        self,
        providers: Sequence[AnimeProvider],
        *,
        deadline_s: float = 300.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._providers = tuple(providers)
        self._deadline_s = deadline_s
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def provider_names(self) -> list[str]:
        return [p.name for p in self._providers]

    async def enrich(self, anime_id: str, record: OfflineRecord) -> Assembled:
        """The assembled entry; built from the offline record alone when no provider answers."""
        subject = subject_of(record.sources, record.title, record.synonyms)
        results = await asyncio.gather(*(self._anime(p, subject) for p in self._providers))
        partials = {outcome.provider: data for outcome, data in results if data is not None}
        outcomes = [outcome for outcome, _ in results]
        assembled = assemble(anime_id, record, partials, outcomes, now=self._clock())
        log.info(
            "anime enriched",
            anime_id=anime_id,
            providers={o.provider: o.status for o in outcomes},
            offline_only=assembled.offline_only,
            dropped=len(assembled.dropped),
        )
        return assembled

    async def _anime(
        self, provider: AnimeProvider, subject: Subject
    ) -> tuple[ProviderOutcome, JsonDict | None]:
        skip = provider.skip_reason(subject)
        if skip is not None:
            return ProviderOutcome(provider.name, "skipped", skip), None
        try:
            async with asyncio.timeout(self._deadline_s):
                data = await provider.anime(subject)
        except ProviderNotFound as exc:
            return ProviderOutcome(provider.name, "not_found", exc.reason), None
        except ProviderError as exc:
            return ProviderOutcome(provider.name, "failed", exc.reason), None
        except TimeoutError:
            return ProviderOutcome(provider.name, "failed", f"took longer than {self._deadline_s:g}s"), None
        except Exception as exc:  # a mapping bug must cost this provider, not the entry
            log.exception("provider.crashed", provider=provider.name)
            return ProviderOutcome(provider.name, "failed", f"unexpected {type(exc).__name__}: {exc}"), None
        return ProviderOutcome(provider.name, "ok", notes=tuple(data.notes)), data.fields

    async def episode(
        self, entry: AnimeEntry, number: int
    ) -> tuple[dict[str, JsonDict], list[ProviderOutcome]]:
        """Each provider's view of episode ``number`` (providers without one are left out)."""
        subject = subject_of(entry.sources, entry.title, entry.synonyms)
        results = await asyncio.gather(*(self._episode(p, subject, number) for p in self._providers))
        found = {o.provider: data for o, data in results if data is not None}
        return found, [o for o, _ in results]

    async def _episode(
        self, provider: AnimeProvider, subject: Subject, number: int
    ) -> tuple[ProviderOutcome, JsonDict | None]:
        skip = provider.skip_reason(subject)
        if skip is not None:
            return ProviderOutcome(provider.name, "skipped", skip), None
        try:
            async with asyncio.timeout(self._deadline_s):
                data = await provider.episode(subject, number)
        except ProviderNotFound as exc:
            return ProviderOutcome(provider.name, "not_found", exc.reason), None
        except ProviderError as exc:
            return ProviderOutcome(provider.name, "failed", exc.reason), None
        except TimeoutError:
            return ProviderOutcome(provider.name, "failed", f"took longer than {self._deadline_s:g}s"), None
        except Exception as exc:
            log.exception("provider.crashed", provider=provider.name, episode=number)
            return ProviderOutcome(provider.name, "failed", f"unexpected {type(exc).__name__}: {exc}"), None
        if data is None:
            return ProviderOutcome(provider.name, "not_found", f"no data for episode {number}"), None
        return ProviderOutcome(provider.name, "ok"), data

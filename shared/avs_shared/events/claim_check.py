"""The claim check: large payloads travel as an S3 key instead of inline.

SNS caps a message at 256 KB (and Step Functions its state I/O at 256 KiB), so a
producer hands every envelope to :meth:`ClaimCheck.offload` before sending it and a
consumer reads the payload through :meth:`ClaimCheck.resolve`. The stored object is
the payload's JSON at ``<prefix><event_id>.json``: the key is deterministic, so a
producer that retries writes the same object again rather than a new one. Objects
under ``staging/`` expire by the bucket's lifecycle rule.
"""

from __future__ import annotations

import json

from pydantic import JsonValue

from avs_shared.errors import Permanent
from avs_shared.events.envelope import Envelope
from avs_shared.ports.storage import ObjectStore
from avs_shared.topology import STAGING_PREFIX

DEFAULT_PREFIX = f"{STAGING_PREFIX}claims/"
DEFAULT_THRESHOLD_BYTES = 200_000


class ClaimCheck:
    """Moves payloads over ``threshold_bytes`` into an :class:`ObjectStore` and back.

    Parameters
    ----------
    store:
        Where offloaded payloads are kept (the data bucket).
    threshold_bytes:
        An envelope whose serialised JSON is larger than this is offloaded. The
        default leaves room under SNS's 256 KB for the SNS wrapping and attributes.
    prefix:
        Key prefix of offloaded payloads; keep it under ``staging/`` so the
        lifecycle rule cleans them up.
    """

    def __init__(
        self,
        store: ObjectStore,
        *,
        threshold_bytes: int = DEFAULT_THRESHOLD_BYTES,
        prefix: str = DEFAULT_PREFIX,
    ) -> None:
        self._store = store
        self._threshold = threshold_bytes
        self._prefix = prefix

    @property
    def threshold_bytes(self) -> int:
        return self._threshold

    def key_for(self, event_id: str) -> str:
        """The object key of ``event_id``'s offloaded payload."""
        return f"{self._prefix}{event_id}.json"

    async def offload(self, envelope: Envelope) -> Envelope:
        """The envelope to send: unchanged when small enough, else with ``payload_ref``.

        Returns
        -------
        Envelope
            ``envelope`` itself if it already uses a reference or fits under the
            threshold; otherwise a copy whose payload is stored at
            :meth:`key_for` and replaced by ``payload_ref``.
        """
        if envelope.payload is None or len(envelope.to_json().encode()) <= self._threshold:
            return envelope
        key = self.key_for(envelope.event_id)
        body = json.dumps(envelope.payload, separators=(",", ":"), ensure_ascii=False).encode()
        await self._store.put(key, body, content_type="application/json")
        return envelope.model_copy(update={"payload": None, "payload_ref": key})

    async def resolve(self, envelope: Envelope) -> dict[str, JsonValue]:
        """The envelope's payload, fetched from the store when it travelled by reference.

        Raises
        ------
        avs_shared.errors.NotFound
            The referenced object does not exist (expired or never written).
        avs_shared.errors.Permanent
            The referenced object is not a JSON object.
        """
        if envelope.payload is not None:
            return envelope.payload
        assert envelope.payload_ref is not None  # the envelope validator guarantees one of the two
        stored = await self._store.get(envelope.payload_ref)
        try:
            payload = json.loads(stored.body)
        except ValueError as exc:
            raise Permanent(f"claim-check object {envelope.payload_ref} is not JSON: {exc}") from exc
        if not isinstance(payload, dict):
            raise Permanent(f"claim-check object {envelope.payload_ref} is not a JSON object")
        return payload

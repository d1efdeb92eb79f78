"""Writing image objects once: a conditional PUT, or HEAD then PUT where the endpoint lacks it.

Objects are named by the SHA-256 of their bytes, so an object that exists already holds
the same image and is left as it is (its ``source_url`` metadata stays the first one).
``PutObject`` with ``If-None-Match: *`` creates the object only if the key is free, in
one request instead of a HEAD and a PUT: ``412 PreconditionFailed`` means it was there,
``409 ConditionalRequestConflict`` (a concurrent conditional write of the same key) is
retried. An endpoint that answers ``501 NotImplemented`` to the condition is used with
HEAD + PUT from then on (logged once).
"""

from __future__ import annotations

import asyncio

import structlog
from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.errors import Retryable
from avs_shared.topology import BUCKET

log = structlog.get_logger(__name__)

_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_CONFLICT_ATTEMPTS = 4


def _status(exc: ClientError) -> int:
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)


class ImageObjects:
    """The image objects of the data bucket.

    Parameters
    ----------
    aws:
        The client factory.
    bucket:
        The bucket (the data bucket by default).
    conditional:
        Use conditional PUTs (the default); False forces HEAD + PUT.
    """

    def __init__(self, aws: AwsClients, bucket: str = BUCKET, *, conditional: bool = True) -> None:
        self._aws = aws
        self._bucket = bucket
        self._conditional = conditional

    @property
    def bucket(self) -> str:
        return self._bucket

    @property
    def conditional(self) -> bool:
        """Whether conditional PUTs are in use (False after the endpoint refused them)."""
        return self._conditional

    async def put_new(self, key: str, body: bytes, *, content_type: str, metadata: dict[str, str]) -> bool:
        """Store ``body`` at ``key`` unless an object is there already.

        Returns
        -------
        bool
            True if this call stored it, False if it existed.
        """
        s3 = await self._aws.client("s3")
        kwargs = {
            "Bucket": self._bucket,
            "Key": key,
            "Body": body,
            "ContentType": content_type,
            "Metadata": metadata,
        }
        if self._conditional:
            for attempt in range(1, _CONFLICT_ATTEMPTS + 1):
                try:
                    await s3.put_object(**kwargs, IfNoneMatch="*")
                    return True
                except ClientError as exc:
                    code, status = error_code(exc), _status(exc)
                    if code == "PreconditionFailed" or status == 412:
                        return False
                    if code == "ConditionalRequestConflict" or status == 409:
                        await asyncio.sleep(0.05 * attempt)
                        continue
                    if code == "NotImplemented" or status == 501:
                        self._conditional = False
                        log.warning(
                            "s3.conditional_put_unsupported",
                            bucket=self._bucket,
                            detail=f"{code}: {exc.response.get('Error', {}).get('Message', '')}",
                            fallback="HEAD then PUT",
                        )
                        break
                    raise
            else:
                raise Retryable(
                    f"s3://{self._bucket}/{key}: conditional writes kept conflicting; try again",
                    retry_after_s=1,
                )
        if await self.exists(key):
            return False
        await s3.put_object(**kwargs)
        return True

    async def exists(self, key: str) -> bool:
        s3 = await self._aws.client("s3")
        try:
            await s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING or _status(exc) == 404:
                return False
            raise
        return True

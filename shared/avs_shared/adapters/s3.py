"""S3 implementation of :class:`avs_shared.ports.storage.ObjectStore`."""

from __future__ import annotations

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.errors import NotFound
from avs_shared.ports.storage import StoredObject
from avs_shared.topology import BUCKET

_MISSING = frozenset({"NoSuchKey", "404", "NotFound", "NoSuchBucket"})


class S3ObjectStore:
    """Objects of one bucket, addressed by key.

    User metadata keys are sent as given; S3 lower-cases them on the way back.
    """

    def __init__(self, aws: AwsClients, bucket: str = BUCKET) -> None:
        self._aws = aws
        self._bucket = bucket

    @property
    def bucket(self) -> str:
        return self._bucket

    async def put(
        self,
        key: str,
        body: bytes,
        *,
        content_type: str | None = None,
        metadata: dict[str, str] | None = None,
    ) -> None:
        s3 = await self._aws.client("s3")
        kwargs: dict[str, object] = {"Bucket": self._bucket, "Key": key, "Body": body}
        if content_type:
            kwargs["ContentType"] = content_type
        if metadata:
            kwargs["Metadata"] = metadata
        await s3.put_object(**kwargs)

    async def get(self, key: str) -> StoredObject:
        s3 = await self._aws.client("s3")
        try:
            resp = await s3.get_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                raise NotFound(f"s3://{self._bucket}/{key} does not exist") from exc
            raise
        async with resp["Body"] as stream:
            body = bytes(await stream.read())
        return StoredObject(
            key=key,
            body=body,
            content_type=_opt_str(resp.get("ContentType")),
            metadata={str(k): str(v) for k, v in (resp.get("Metadata") or {}).items()},
        )

    async def head(self, key: str) -> dict[str, str] | None:
        s3 = await self._aws.client("s3")
        try:
            resp = await s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in _MISSING:
                return None
            raise
        return {str(k): str(v) for k, v in (resp.get("Metadata") or {}).items()}

    async def delete(self, key: str) -> None:
        s3 = await self._aws.client("s3")
        await s3.delete_object(Bucket=self._bucket, Key=key)


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)

"""Bulk-load job records in ``anime-bulk-jobs``: the chunk plan and the set of finished chunks.

Finishing a chunk adds its index to a number set (``ADD``), which is idempotent, so a
chunk processed twice counts once; progress and resumption read the same record.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from avs_shared.adapters.aws import AwsClients, error_code
from avs_shared.topology import T_BULK_JOBS

_KEEP_S = 30 * 24 * 3600


@dataclass(frozen=True)
class JobState:
    job_id: str
    kind: str
    source: str
    chunks: int
    entries: int
    chunk_size: int
    done: frozenset[int]

    @property
    def finished(self) -> bool:
        return len(self.done) >= self.chunks

    @property
    def done_entries(self) -> int:
        last = self.chunks - 1
        full = sum(1 for i in self.done if i != last)
        tail = self.entries - self.chunk_size * last if last in self.done else 0
        return full * self.chunk_size + tail

    def pending(self) -> list[int]:
        return [i for i in range(self.chunks) if i not in self.done]


class BulkJobs:
    def __init__(self, aws: AwsClients, *, table: str = T_BULK_JOBS) -> None:
        self._aws = aws
        self._table = table

    async def create(
        self, job_id: str, *, kind: str, source: str, chunks: int, entries: int, chunk_size: int
    ) -> JobState:
        """Record the plan unless the job exists already (a rerun keeps its progress)."""
        ddb = await self._aws.client("dynamodb")
        try:
            await ddb.put_item(
                TableName=self._table,
                Item={
                    "job_id": {"S": job_id},
                    "kind": {"S": kind},
                    "source": {"S": source},
                    "chunks": {"N": str(chunks)},
                    "entries": {"N": str(entries)},
                    "chunk_size": {"N": str(chunk_size)},
                    "created_at": {"N": str(int(time.time()))},
                    "expires_at": {"N": str(int(time.time()) + _KEEP_S)},
                },
                ConditionExpression="attribute_not_exists(job_id)",
            )
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise
        state = await self.get(job_id)
        assert state is not None  # just written or already there
        return state

    async def get(self, job_id: str) -> JobState | None:
        ddb = await self._aws.client("dynamodb")
        item = (
            await ddb.get_item(TableName=self._table, Key={"job_id": {"S": job_id}}, ConsistentRead=True)
        ).get("Item")
        if item is None:
            return None
        return JobState(
            job_id=job_id,
            kind=item["kind"]["S"],
            source=item["source"]["S"],
            chunks=int(item["chunks"]["N"]),
            entries=int(item["entries"]["N"]),
            chunk_size=int(item["chunk_size"]["N"]),
            done=frozenset(int(n) for n in item.get("done", {}).get("NS", [])),
        )

    async def chunk_done(self, job_id: str, index: int) -> bool:
        state = await self.get(job_id)
        return state is not None and index in state.done

    async def mark_done(self, job_id: str, index: int) -> bool:
        """Add ``index`` to the finished set; True if this call finished the job."""
        ddb = await self._aws.client("dynamodb")
        resp = await ddb.update_item(
            TableName=self._table,
            Key={"job_id": {"S": job_id}},
            UpdateExpression="ADD done :i",
            ConditionExpression="attribute_exists(job_id)",
            ExpressionAttributeValues={":i": {"NS": [str(index)]}},
            ReturnValues="ALL_OLD",
        )
        before = {int(n) for n in resp.get("Attributes", {}).get("done", {}).get("NS", [])}
        chunks = int(resp["Attributes"]["chunks"]["N"])
        return index not in before and len(before) + 1 >= chunks

"""The Amazon Bedrock planner: a Qwen3 model (by default) through the Converse API.

The request is the shared prompt (:mod:`avs_api.agentic.llm_common`): the system text,
the worked examples as earlier turns, the user's query last. The endpoint comes from
the standard ``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` / ``AWS_ENDPOINT_URL`` variables, so a
local fake, a VPC endpoint and AWS differ by environment only.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

import structlog
from aiobotocore.client import AioBaseClient
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)

from avs_api.agentic.llm_common import MAX_OUTPUT_TOKENS, build_prompt, parse_plan
from avs_api.agentic.plan import SearchPlan
from avs_api.agentic.planner import (
    InvalidPlanAnswer,
    PlannerFailure,
    PlannerName,
    PlannerRejected,
    PlannerTimeout,
    PlannerUnavailable,
    PlannerUnreachable,
)
from avs_api.agentic.vocabulary import Vocabulary

log = structlog.get_logger(__name__)

DEFAULT_MODEL_ID = "qwen.qwen3-32b-v1:0"
#: Errors that say the request itself is wrong (credentials, model id, access): retrying won't help.
_REJECTED = frozenset(
    {
        "AccessDeniedException",
        "ValidationException",
        "ResourceNotFoundException",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
    }
)


@contextlib.asynccontextmanager
async def open_bedrock_client(region: str, *, timeout_s: float) -> AsyncIterator[AioBaseClient]:
    """A ``bedrock-runtime`` client of the planner's own.

    Not the shared :class:`~avs_shared.adapters.aws.AwsClients` one: that retries five
    times with backoff (about 20 s on a refused connection), so an outage would always
    read as a timeout. A planner has one short deadline and the rule planner as its
    retry, so this client tries once and gives up at the deadline.
    """
    config = AioConfig(
        region_name=region,
        retries={"total_max_attempts": 1, "mode": "standard"},
        connect_timeout=timeout_s,
        read_timeout=timeout_s,
        max_pool_connections=32,
    )
    async with get_session().create_client("bedrock-runtime", config=config) as client:
        yield client


class BedrockPlanner:
    """Plans with a Bedrock model through ``Converse``; raises :class:`PlannerFailure` subclasses."""

    name: PlannerName = "bedrock"

    def __init__(
        self,
        client: AioBaseClient,
        *,
        vocabulary: Vocabulary,
        model_id: str = DEFAULT_MODEL_ID,
        max_tokens: int = MAX_OUTPUT_TOKENS,
    ) -> None:
        self._client = client
        self._vocabulary = vocabulary
        self.model_id = model_id
        self._max_tokens = max_tokens

    async def plan(self, q: str) -> SearchPlan:
        prompt = build_prompt(q, self._vocabulary)
        try:
            response: dict[str, Any] = await self._client.converse(
                modelId=self.model_id,
                system=[{"text": prompt.system}],
                messages=[{"role": role, "content": [{"text": text}]} for role, text in prompt.turns],
                inferenceConfig={"maxTokens": self._max_tokens, "temperature": 0.0},
            )
        except ClientError as exc:
            raise _from_client_error(exc) from exc
        except (EndpointConnectionError, ConnectionClosedError) as exc:
            raise PlannerUnreachable(f"Bedrock is unreachable: {exc}") from exc
        except (ReadTimeoutError, ConnectTimeoutError) as exc:
            raise PlannerTimeout(f"Bedrock did not answer in time: {exc}") from exc
        except BotoCoreError as exc:
            raise PlannerUnavailable(f"Bedrock call failed: {exc}") from exc
        usage = response.get("usage") or {}
        log.debug(
            "bedrock planned",
            model_id=self.model_id,
            stop_reason=response.get("stopReason"),
            input_tokens=usage.get("inputTokens"),
            output_tokens=usage.get("outputTokens"),
        )
        return parse_plan(_answer_text(response), self._vocabulary)


def _answer_text(response: dict[str, Any]) -> str:
    stop = response.get("stopReason")
    if stop == "max_tokens":
        raise InvalidPlanAnswer("the answer was cut off at maxTokens")
    if stop in ("guardrail_intervened", "content_filtered"):
        raise InvalidPlanAnswer(f"the model gave no plan (stopReason {stop})")
    message = (response.get("output") or {}).get("message") or {}
    # Text blocks only: a reasoning block (reasoningContent) is the model's scratchpad.
    texts = [block["text"] for block in message.get("content") or [] if isinstance(block.get("text"), str)]
    if not texts:
        raise InvalidPlanAnswer(f"the answer has no text content (stopReason {stop})")
    return "".join(texts)


def _from_client_error(exc: ClientError) -> PlannerFailure:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    detail = f"Bedrock {code or 'error'} (HTTP {status}): {error.get('Message', '')}".rstrip(": ")
    if code in _REJECTED:
        return PlannerRejected(detail)
    if code == "ModelTimeoutException":
        return PlannerTimeout(detail)
    if isinstance(status, int) and 400 <= status < 500 and status not in (408, 429):
        return PlannerRejected(detail)
    return PlannerUnavailable(detail)

"""Per-message outcomes, what each does to the message, and the counters they feed.

=============== ========================================= ============ ==========================
outcome         when                                      claim        message
=============== ========================================= ============ ==========================
processed       handler returned, every returned event    COMPLETED    deleted
                published, claim completed
duplicate       claim says ALREADY_DONE                   untouched    deleted (handler not run)
busy            claim says IN_PROGRESS_ELSEWHERE          untouched    visible again in
                                                                       busy_retry_s·2^(n−1) s,
                                                                       at most the lease
retry           handler raised ``Retryable``              released     visible again in
                                                                       ``retry_after_s`` (0..43200)
dead_lettered   body not JSON, envelope invalid,          released if  sent to ``<queue>-dlq`` with
                event_type not the handler's, claim-check  taken       error_reason, error_type,
                object missing, payload invalid, or                    source_queue, receive_count;
                handler raised ``Permanent``                           then deleted
failed          any other exception (handler, publish,    released if  left alone: visible again
                claim store, S3), or dead-lettering        taken       after the visibility
                impossible                                             timeout; SQS's redrive
                                                                       moves it to the DLQ after
                                                                       maxReceiveCount
=============== ========================================= ============ ==========================

A handler cancelled by a drain timeout releases its claim and leaves its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    BUSY = "busy"
    RETRY = "retry"
    DEAD_LETTERED = "dead_lettered"
    FAILED = "failed"


class Action(StrEnum):
    """What the runtime does to the SQS message once it has decided."""

    DELETE = "delete"
    RETRY_IN = "retry_in"
    DEAD_LETTER = "dead_letter"
    LEAVE = "leave"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    action: Action
    delay_s: float = 0.0
    reason: str = ""
    error_type: str = ""
    error: BaseException | None = None

    @classmethod
    def delete(cls, outcome: Outcome) -> Decision:
        return cls(outcome, Action.DELETE)

    @classmethod
    def retry_in(cls, outcome: Outcome, delay_s: float, error: BaseException | None = None) -> Decision:
        reason = f"{type(error).__name__}: {error}" if error is not None else ""
        return cls(outcome, Action.RETRY_IN, delay_s=delay_s, reason=reason, error=error)

    @classmethod
    def dead_letter(cls, reason: str, error_type: str, error: BaseException | None = None) -> Decision:
        return cls(
            Outcome.DEAD_LETTERED, Action.DEAD_LETTER, reason=reason, error_type=error_type, error=error
        )

    @classmethod
    def leave(cls, error: BaseException) -> Decision:
        return cls(
            Outcome.FAILED, Action.LEAVE, reason=str(error), error_type=type(error).__name__, error=error
        )


@dataclass
class HandlerStats:
    """Counters of one handler since the worker started (read them for metrics)."""

    received: int = 0
    processed: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0
    failed: int = 0
    in_flight: int = 0
    last_latency_s: float | None = None

    def record(self, outcome: Outcome, latency_s: float) -> None:
        self.last_latency_s = latency_s
        if outcome is Outcome.PROCESSED:
            self.processed += 1
        elif outcome is Outcome.DUPLICATE:
            self.duplicates += 1
        elif outcome in (Outcome.RETRY, Outcome.BUSY):
            self.retried += 1
        elif outcome is Outcome.DEAD_LETTERED:
            self.dead_lettered += 1
        else:
            self.failed += 1

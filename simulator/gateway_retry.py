"""What a field app does with the gateway's "not now" answers: wait as told, then send again.

The gateway refuses a request it cannot take *now* and says when to come back:
429 ``RATE_LIMITED`` (this token is over its rate), 503 ``OVERLOADED`` (too many
requests in progress), 503 for the items Kafka did not acknowledge, each with
``Retry-After``. A real tablet honours that header, adds a little jitter so
that thousands of tablets told "1 second" do not all return in the same
instant, caps the wait, and gives up after a few attempts. Everything else (a
400, a 401, an item refused for its content) is final.

A resent item is the same submission (same ``submission_id``): nothing
refused with 429 or 503-before-reading reached Kafka, and an item that did
reach it anyway (the connection broke after the gateway published) is dropped
as a duplicate by the worker. The ground truth counts a message once, when it
is finally acknowledged, so it stays right either way.

Pure, apart from the clock in :func:`retry_after_seconds` for an HTTP-date
header; the HTTP calls are :mod:`simulator.gateway_client`'s.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tenacity import RetryCallState
from tenacity.wait import wait_base

#: Why a request or item is sent again: the label of the run report's retry counts.
RATE_LIMITED = "rate_limited"  # 429: the token is over its rate
OVERLOADED = "overloaded"  # 503 before the body was read: the gateway is busy
NOT_STORED = "not_stored"  # 503 items: Kafka did not acknowledge them
UNREACHABLE = "unreachable"  # no HTTP answer at all (connection refused or broken)


@dataclass(frozen=True)
class RetryPolicy:
    """How patient a tablet is. The defaults wait at most about 2 minutes per request.

    ``max_attempts`` counts the first request; a ``Retry-After`` above
    ``max_wait_s`` is cut to it; without a header the wait doubles from
    ``backoff_s``; a random ``0..jitter_s`` is added to every wait.
    """

    max_attempts: int = 6
    max_wait_s: float = 30.0
    backoff_s: float = 0.5
    jitter_s: float = 1.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts counts the first request: at least 1")
        if min(self.max_wait_s, self.backoff_s, self.jitter_s) < 0:
            raise ValueError("waits cannot be negative")


@dataclass(frozen=True)
class Answer:
    """One HTTP answer of the batch endpoint, or the lack of one (``status`` 0)."""

    status: int
    body: Mapping[str, Any]
    retry_after: str | None = None


@dataclass(frozen=True)
class Verdict:
    """What one answer means for the items that were sent, by their index in the request."""

    accepted: tuple[int, ...] = ()
    again: tuple[int, ...] = ()  # to send again, in order
    reason: str | None = None  # why they are sent again (a retry label)
    retry_after: str | None = None
    error: str | None = None  # final: the remaining items will not be accepted


def judge(answer: Answer, count: int) -> Verdict:
    """Sort the ``count`` items of one batch request by the gateway's answer. Pure."""
    everything = tuple(range(count))
    if answer.status == 202:
        return Verdict(accepted=everything)
    if answer.status == 0:
        return Verdict(again=everything, reason=UNREACHABLE)
    if answer.status == 429:
        return Verdict(again=everything, reason=RATE_LIMITED, retry_after=answer.retry_after)
    results = answer.body.get("results")
    if answer.status == 503 and not isinstance(results, list):
        return Verdict(again=everything, reason=OVERLOADED, retry_after=answer.retry_after)
    if answer.status not in {207, 503} or not isinstance(results, list) or len(results) != count:
        detail = answer.body.get("error", dict(answer.body))
        return Verdict(error=f"gateway answered {answer.status}: {detail}")
    statuses = [item.get("status") if isinstance(item, Mapping) else None for item in results]
    refused = sorted({str(status) for status in statuses if status not in {202, 503}})
    return Verdict(
        accepted=tuple(i for i, status in enumerate(statuses) if status == 202),
        again=tuple(i for i, status in enumerate(statuses) if status == 503),
        reason=NOT_STORED,
        retry_after=answer.retry_after,
        error=f"gateway refused generated records ({', '.join(refused)})" if refused else None,
    )


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` value asks for (delta-seconds or an HTTP-date); ``None`` if none.

    A malformed value counts as absent (the caller backs off on its own); a date
    in the past means "now".
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - (now or dt.datetime.now(dt.UTC))).total_seconds(), 0.0)


def base_wait(policy: RetryPolicy, attempt: int, retry_after: str | None) -> float:
    """The wait before attempt ``attempt + 1``, without jitter: as told, else backing off. Pure."""
    told = retry_after_seconds(retry_after)
    wait = told if told is not None else policy.backoff_s * 2 ** max(attempt - 1, 0)
    return min(wait, policy.max_wait_s)


class WaitAsTold(wait_base):
    """A tenacity wait: the last verdict's ``Retry-After`` (bounded), else exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        outcome = retry_state.outcome
        verdict = outcome.result() if outcome is not None and not outcome.failed else None
        retry_after = verdict.retry_after if isinstance(verdict, Verdict) else None
        return base_wait(self.policy, retry_state.attempt_number, retry_after)


class RetryCounts:
    """Resends by reason, added to from the tablets' threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def add(self, reason: str, items: int = 1) -> None:
        with self._lock:
            self._counts[reason] = self._counts.get(reason, 0) + items

    def snapshot(self) -> dict[str, int]:
        """A copy, sorted by reason."""
        with self._lock:
            return dict(sorted(self._counts.items()))


def counting(counts: RetryCounts) -> Callable[[RetryCallState], None]:
    """A tenacity ``before_sleep`` hook that counts each resend under its reason."""

    def before_sleep(retry_state: RetryCallState) -> None:
        outcome = retry_state.outcome
        verdict = outcome.result() if outcome is not None and not outcome.failed else None
        if isinstance(verdict, Verdict) and verdict.reason is not None:
            counts.add(verdict.reason)

    return before_sleep

"""Whether an authenticated request may start now: its token's rate, the gateway's load.

Checked after the bearer token and before the body is read, so a throttled
request costs the gateway almost nothing. Refusals are :class:`Throttled`
problems with a reason code and ``Retry-After``; the app counts them apart
from refused submissions (a 503 here is not a Kafka failure).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from streams.gateway.auth import Authenticated
from streams.gateway.limits import InFlight, TokenBuckets, retry_after_seconds
from streams.gateway.payloads import OVERLOADED, RATE_LIMITED, Problem

#: Metric label of each refusal.
REASONS = {RATE_LIMITED: "rate_limited", OVERLOADED: "overloaded"}


class Throttled(Problem):
    """429 (this token is over its rate) or 503 (the gateway is at its in-flight limit)."""

    def __init__(self, status: int, message: str, code: str, retry_after_s: int) -> None:
        super().__init__(status, message, headers={"Retry-After": str(retry_after_s)}, code=code)

    @property
    def reason(self) -> str:
        """The metric label: ``rate_limited`` or ``overloaded``."""
        return REASONS[self.code or ""]


@dataclass
class Admission:
    """The per-token buckets and the in-flight counter of one gateway."""

    buckets: TokenBuckets
    in_flight: InFlight
    retry_after_s: int

    @contextmanager
    def admitted(self, caller: Authenticated) -> Iterator[None]:
        """Hold one in-flight place for the block, or raise :class:`Throttled`."""
        wait = self.buckets.take(caller.token_digest)
        if wait > 0:
            raise Throttled(
                429,
                f"too many requests for this token (at most {self.buckets.rate:g} per second, "
                f"{self.buckets.burst} at once); send again after Retry-After seconds",
                RATE_LIMITED,
                retry_after_seconds(wait),
            )
        if not self.in_flight.try_enter():
            raise Throttled(
                503,
                "the gateway is busy (too many requests in progress); "
                "send again after Retry-After seconds",
                OVERLOADED,
                self.retry_after_s,
            )
        try:
            yield
        finally:
            self.in_flight.leave()

"""Throttles in front of the gateway's Kafka pool: per-token rates and a bounded queue.

Both are pure bookkeeping called from the event loop (single-threaded, so no
locks), with an injectable clock for tests.

* :class:`TokenBuckets`: each bearer token refills ``rate`` requests per second
  up to ``burst``; a request finding its bucket empty is answered 429 with the
  seconds until the next one is due. One request costs one, a batch included,
  so an app syncing its offline backlog in batches is not slowed down.
  Buckets are keyed by the token's digest and only created for valid tokens,
  so their number is bounded by the tokens configured; full (idle) buckets are
  dropped now and then, so tokens rotated away do not stay in memory.
* :class:`InFlight`: how many requests are between admission and answer
  (reading their body, converting, waiting for Kafka). Over the limit the
  request is answered 503 at once, before its body is read, so a slow broker
  makes the gateway refuse work instead of queueing it in memory without end.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

#: Buckets are swept for idle ones after this many new buckets.
SWEEP_EVERY = 1024


@dataclass
class _Bucket:
    tokens: float
    updated: float


class TokenBuckets:
    """A token bucket per key: ``rate`` per second, at most ``burst`` saved up."""

    def __init__(
        self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: dict[bytes, _Bucket] = {}
        self._created = 0

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: bytes) -> float:
        """Spend one request of ``key``: 0.0 when allowed, else seconds until it would be."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            self._created += 1
            if self._created % SWEEP_EVERY == 0:
                self._sweep(now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            return 0.0
        return (1 - bucket.tokens) / self.rate

    def _sweep(self, now: float) -> None:
        """Forget buckets that have refilled completely: they start full again anyway."""
        full_after = self.burst / self.rate
        idle = [key for key, b in self._buckets.items() if now - b.updated >= full_after]
        for key in idle:
            del self._buckets[key]


def retry_after_seconds(wait: float) -> int:
    """A Retry-After value: whole seconds, at least 1."""
    return max(1, math.ceil(wait))


class InFlight:
    """A counter of admitted requests with a ceiling."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("limit must be >= 1")
        self.limit = limit
        self.count = 0

    def try_enter(self) -> bool:
        """Admit one more request, or False when ``limit`` are already in flight."""
        if self.count >= self.limit:
            return False
        self.count += 1
        return True

    def leave(self) -> None:
        """One admitted request was answered."""
        self.count -= 1

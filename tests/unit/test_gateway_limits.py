"""Per-token buckets and the in-flight ceiling, on a clock the test turns by hand."""

from __future__ import annotations

import pytest

from streams.gateway.limits import SWEEP_EVERY, InFlight, TokenBuckets, retry_after_seconds


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_token_gets_its_burst_then_its_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=2.0, burst=3, clock=clock)
    assert [buckets.take(b"a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take(b"a") == pytest.approx(0.5), "the next one is due in 1/rate seconds"
    clock.now += 0.25
    assert buckets.take(b"a") == pytest.approx(0.25), "a refused request spends nothing"
    clock.now += 0.25
    assert buckets.take(b"a") == 0.0
    assert buckets.take(b"a") > 0


def test_tokens_do_not_share_a_bucket() -> None:
    buckets = TokenBuckets(rate=1.0, burst=1, clock=Clock())
    assert buckets.take(b"a") == 0.0
    assert buckets.take(b"a") > 0
    assert buckets.take(b"b") == 0.0


def test_an_idle_token_saves_up_no_more_than_its_burst() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=10.0, burst=2, clock=clock)
    buckets.take(b"a")
    clock.now += 3600
    assert [buckets.take(b"a") > 0 for _ in range(3)] == [False, False, True]


def test_idle_buckets_are_forgotten() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate=1.0, burst=1, clock=clock)
    for n in range(SWEEP_EVERY - 1):
        buckets.take(n.to_bytes(4, "big"))
    clock.now += 1.0  # every bucket so far has refilled
    buckets.take(b"busy")
    assert len(buckets) == 1


def test_retry_after_is_whole_seconds_at_least_one() -> None:
    assert [retry_after_seconds(w) for w in (0.01, 0.99, 1.0, 1.01, 7.5)] == [1, 1, 1, 2, 8]


def test_in_flight_refuses_over_its_limit_and_frees_places() -> None:
    gate = InFlight(2)
    assert gate.try_enter() and gate.try_enter()
    assert not gate.try_enter()
    gate.leave()
    assert gate.try_enter()
    assert gate.count == 2


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_nonsense_limits_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate"):
        TokenBuckets(rate, burst)

"""The held-batch policy: transient faults retried with growing pauses, others raised at once."""

from __future__ import annotations

import asyncio

import pytest
from tenacity import RetryCallState, Retrying

from streams.worker.holding import HELD_WAIT, StoppedWhileHeld, hold, hold_async
from streams.worker.observer import WorkerStats


class Seen(WorkerStats):
    """The worker's own stats (what ``/readyz`` reads), with the hooks' calls recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.events: list[tuple[str, str]] = []

    def on_sink_failure(self, table: str, error: str) -> None:
        self.events.append(("failure", table))
        super().on_sink_failure(table, error)

    def on_sink_recovered(self, table: str) -> None:
        self.events.append(("recovered", table))
        super().on_sink_recovered(table)


class Flaky:
    """Fails ``failures`` times with ``error``, then answers ``done``."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures = failures
        self.error = error
        self.calls = 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


def transient(exc: BaseException) -> bool:
    return isinstance(exc, ConnectionError)


class Clock:
    """Time that moves only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.steps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.steps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def test_a_transient_fault_is_held_with_doubling_pauses_up_to_30s() -> None:
    seen, clock = Seen(), Clock()
    call = Flaky(7, ConnectionError("refused"))
    failing_when_called: list[bool] = []

    def insert() -> str:
        failing_when_called.append("households" in seen.sink_failing)
        return call()

    result = hold(
        insert,
        retry_on=transient,
        sink="households",
        observer=seen,
        should_stop=lambda: False,
        sleep=clock.sleep,
        clock=clock,
    )
    assert result == "done" and call.calls == 8
    assert seen.events == [("failure", "households")] * 7 + [("recovered", "households")]
    assert clock.now == pytest.approx(1 + 2 + 4 + 8 + 16 + 30 + 30)
    assert max(clock.steps) <= 0.1 + 1e-9  # a stop is noticed within a tenth of a second
    assert failing_when_called == [False] + [True] * 7  # not ready while the batch is held
    assert seen.sink_failing == {}  # ready again


def test_backoff_sequence() -> None:
    state = RetryCallState(Retrying(), fn=None, args=(), kwargs={})
    pauses = []
    for attempt in range(1, 9):
        state.attempt_number = attempt
        pauses.append(HELD_WAIT(state))
    assert pauses == [1, 2, 4, 8, 16, 30, 30, 30]


def test_a_fault_that_is_not_transient_is_raised_at_once_and_not_reported() -> None:
    seen = Seen()
    call = Flaky(1, ValueError("bad row"))
    with pytest.raises(ValueError, match="bad row"):
        hold(call, retry_on=transient, sink="households", observer=seen, should_stop=lambda: False)
    assert call.calls == 1 and seen.events == []


def test_stopping_gives_up_a_held_batch_without_waiting_out_the_pause() -> None:
    seen, stop = Seen(), [False]

    def sleep(_seconds: float) -> None:
        stop[0] = True  # the worker is asked to stop during the first pause

    call = Flaky(100, ConnectionError("refused"))
    with pytest.raises(StoppedWhileHeld):
        hold(
            call,
            retry_on=transient,
            sink="households",
            observer=seen,
            should_stop=lambda: stop[0],
            sleep=sleep,
        )
    assert call.calls == 1 and seen.events == [("failure", "households")]


def test_async_hold_retries_then_recovers_and_raises_when_stopping() -> None:
    seen, slept = Seen(), list[float]()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def run(failures: int, stop: bool) -> str:
        call = Flaky(failures, ConnectionError("broker away"))

        async def publish() -> str:
            return call()

        return await hold_async(
            publish,
            retry_on=transient,
            sink="publish",
            observer=seen,
            should_stop=lambda: stop,
            sleep=sleep,
        )

    assert asyncio.run(run(3, stop=False)) == "done"
    assert slept == [1, 2, 4]
    assert seen.events == [("failure", "publish")] * 3 + [("recovered", "publish")]
    with pytest.raises(ConnectionError, match="broker away"):
        asyncio.run(run(3, stop=True))
    assert slept == [1, 2, 4]  # no pause: a stopping worker leaves at the first failure


def test_async_hold_awaits_what_a_lambda_returns_and_retries_its_failure() -> None:
    """The worker passes ``lambda: asyncio.gather(...)``: its acks must be waited for."""
    seen, slept = Seen(), list[float]()
    call = Flaky(2, ConnectionError("broker away"))

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    async def publish() -> str:
        return call()

    async def run() -> str:
        return await hold_async(
            lambda: publish(),  # noqa: PLW0108 - the shape under test: returns a coroutine
            retry_on=transient,
            sink="publish",
            observer=seen,
            should_stop=lambda: False,
            sleep=sleep,
        )

    assert asyncio.run(run()) == "done"
    assert call.calls == 3 and slept == [1, 2]

"""Holding a batch while a sink is away: retried with backoff until it goes in, never dropped.

A transient failure (ClickHouse or the broker away) must neither acknowledge
the batch nor end the process: the same batch is tried again, under the same
insert token, after 1, 2, 4 ... 30 s, for as long as it takes. Each failed
round tells the observer (``/readyz`` fails while a sink is failing) and the
first success after failures says it recovered. A stopping worker leaves the
held batch unacknowledged: the next start reads it again.

What counts as transient is the caller's choice (``retry_on``): a row the
engine refuses for good is narrowed to its rows inside the batch, never held,
and a record too large to publish is a bug, raised at once. The backoff is
tenacity's; this module only fixes the policy and wires in the observer.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, Retrying, retry_if_exception, wait_exponential

from monitoring.hooks import WorkerObserver

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Pause before the n-th retry of a held batch: 1, 2, 4, 8, 16, then 30 s each.
MAX_BACKOFF_S = 30.0
HELD_WAIT = wait_exponential(multiplier=1, min=1, max=MAX_BACKOFF_S)
#: How often a pause between rounds looks whether the worker is stopping.
STOP_CHECK_S = 0.1


class StoppedWhileHeld(RuntimeError):
    """The worker is stopping while a batch is held; it must stay unacknowledged."""


class _Rounds:
    """The observer's and the log's view of one held batch."""

    def __init__(self, sink: str, observer: WorkerObserver) -> None:
        self.sink = sink
        self.observer = observer
        self.failed = 0

    def failure(self, state: RetryCallState) -> None:
        """After each failed round that will be retried: count, report, log."""
        error = state.outcome.exception() if state.outcome else None
        self.failed += 1
        self.observer.on_sink_failure(self.sink, str(error))
        log.warning("%s failed (round %d), holding the batch: %r", self.sink, self.failed, error)

    def done(self) -> None:
        if self.failed:
            self.observer.on_sink_recovered(self.sink)


def hold(
    call: Callable[[], T],
    *,
    retry_on: Callable[[BaseException], bool],
    sink: str,
    observer: WorkerObserver,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """``call()`` until it returns (a thread's view); StoppedWhileHeld when stopping meanwhile.

    Stopping is looked at every :data:`STOP_CHECK_S` of a pause, so a stop
    does not wait out a 30 s backoff.
    """
    rounds = _Rounds(sink, observer)

    def pause(seconds: float) -> None:
        deadline = clock() + seconds
        while not should_stop():
            left = deadline - clock()
            if left <= 0:
                return
            sleep(min(STOP_CHECK_S, left))
        raise StoppedWhileHeld(f"stopping while the batch is held ({sink})")

    retrying = Retrying(
        retry=retry_if_exception(retry_on),
        wait=HELD_WAIT,
        sleep=pause,
        after=rounds.failure,
        reraise=True,
    )
    result = retrying(call)
    rounds.done()
    return result


async def hold_async(
    call: Callable[[], Awaitable[T]],
    *,
    retry_on: Callable[[BaseException], bool],
    sink: str,
    observer: WorkerObserver,
    should_stop: Callable[[], bool],
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> T:
    """``await call()`` until it returns; a failure while stopping is raised as it is.

    ``call`` may be a lambda returning an awaitable (``lambda: asyncio.gather(...)``):
    tenacity awaits only what a coroutine *function* returns, and would hand such
    an awaitable back unawaited (no acknowledgement waited for, no failure seen),
    so every call goes through :func:`attempt`, which awaits it.
    """
    rounds = _Rounds(sink, observer)

    async def attempt() -> T:
        return await call()

    retrying = AsyncRetrying(
        retry=retry_if_exception(retry_on),
        wait=HELD_WAIT,
        stop=lambda _state: should_stop(),
        sleep=sleep,
        after=rounds.failure,
        reraise=True,
    )
    result: T = await retrying(attempt)
    rounds.done()
    return result

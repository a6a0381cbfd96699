"""ClickHouse reads for the worker's HTTP pages, kept away from the sink.

``/board`` and ``/progress`` used to run on the sink's ClickHouse thread: 300
concurrent ``/board`` requests queued ahead of the inserts and of the readiness
ping, and ``/readyz`` answered 503. Reads now have their own client (a second
connection; with the embedded engine a second chdb client of the same
process, which queries beside the first), their own thread, and a bound on
the requests in flight: one more is refused at once (``ReadsBusy`` → 503 with
``Retry-After``) instead of waiting in a queue nobody can see. The client is
opened with ``readonly=2``, so a page can never write.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

T = TypeVar("T")

#: Reads running or waiting at once; the next one is refused (its caller retries).
MAX_IN_FLIGHT = 4
#: Seconds a refused caller is asked to wait.
RETRY_AFTER_S = 1
#: Session settings of the reads client: SELECTs and per-query settings, no writes.
READ_ONLY = {"readonly": 2}


class ReadsBusy(Exception):
    """Too many reads in flight: answer 503 now rather than queue."""


class Reads:
    """One thread and one client for page reads, with at most ``limit`` in flight."""

    def __init__(self, client: Client, *, limit: int = MAX_IN_FLIGHT) -> None:
        self.client = client
        self.limit = limit
        self.in_flight = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-reads")

    async def run(self, query: Callable[[Client], T]) -> T:
        """``query(client)`` on the reads thread; raises ReadsBusy when the bound is reached.

        A read counts until its thread is done with it, not until its caller
        stops waiting: a client that hangs up does not free a place while its
        query still runs.
        """
        with self._lock:
            if self.in_flight >= self.limit:
                raise ReadsBusy(f"{self.in_flight} reads in flight")
            self.in_flight += 1
        try:
            future = self._executor.submit(query, self.client)
        except RuntimeError:  # shut down
            self._release(None)
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, future: Future[T] | None) -> None:
        del future
        with self._lock:
            self.in_flight -= 1

    def close(self) -> None:
        """Stop the thread (after its current read) and close the client."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()

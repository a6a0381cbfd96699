"""Reads shared between viewers: one worker call per question per moment, however many tabs.

An operations room may keep the console open on dozens of screens, and every
one of them refreshes. If each refresh became a ClickHouse query, viewers
would compete with the sink. Two mechanisms keep the reads bounded by time,
not by audience:

- :class:`Coalesced`: identical questions (path and parameters) asked while
  one is in flight, or within ``ttl_s`` of its answer, share that answer. A
  failed question is not remembered, so the next caller asks again.
- :class:`LiveFeed`: the server-sent-events stream. One loop asks the overview
  and health questions once per period while anyone is subscribed, and hands
  the same answer to every subscriber's queue. A slow subscriber's queue drops
  its oldest event instead of blocking the others or growing without bound;
  with nobody subscribed the loop stops.

:func:`sse_event` formats one event of the text/event-stream protocol. Pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

log = logging.getLogger(__name__)

Answer = tuple[int, object]
Key = tuple[str, tuple[tuple[str, str], ...]]
Fetch = Callable[[str, Mapping[str, str]], Awaitable[Answer]]

#: Remembered answers at most; expired ones are dropped first when the map is full.
MAX_ENTRIES = 512
#: Events a subscriber may have waiting before its oldest is dropped.
QUEUE_DEPTH = 8


def sse_event(kind: str, data: object) -> bytes:
    """One event: ``event:`` and a single ``data:`` line of compact JSON, then a blank line.

    Compact JSON never contains a newline, so one data line always suffices and a
    value cannot end the event early or inject another one.
    """
    if not kind.isidentifier():
        raise ValueError(f"event name {kind!r} must be an identifier")
    payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return f"event: {kind}\ndata: {payload}\n\n".encode()


@dataclass
class _Entry:
    future: asyncio.Future[Answer]
    at: float


class Coalesced:
    """``fetch`` behind a short-lived shared answer per (path, parameters)."""

    def __init__(
        self, fetch: Fetch, ttl_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._fetch = fetch
        self._ttl_s = ttl_s
        self._clock = clock
        self._entries: dict[Key, _Entry] = {}
        self.fetches = 0  # upstream calls made, for tests and the health page

    async def get(self, path: str, params: Mapping[str, str]) -> Answer:
        key = (path, tuple(sorted(params.items())))
        now = self._clock()
        entry = self._entries.get(key)
        if entry is None or (entry.future.done() and now - entry.at >= self._ttl_s):
            self._prune(now)
            entry = _Entry(asyncio.ensure_future(self._fetch(path, dict(params))), now)
            entry.future.add_done_callback(functools.partial(self._settled, key))
            self._entries[key] = entry
            self.fetches += 1
        return await asyncio.shield(entry.future)

    def _settled(
        self, key: tuple[str, tuple[tuple[str, str], ...]], done: asyncio.Future[Answer]
    ) -> None:
        """Time the answer from when it arrived; forget a failure at once."""
        entry = self._entries.get(key)
        if entry is None or entry.future is not done:
            return
        if done.cancelled() or done.exception() is not None:
            del self._entries[key]
        else:
            entry.at = self._clock()

    def _prune(self, now: float) -> None:
        if len(self._entries) < MAX_ENTRIES:
            return
        for key, entry in list(self._entries.items()):
            if entry.future.done() and now - entry.at >= self._ttl_s:
                del self._entries[key]
        while len(self._entries) >= MAX_ENTRIES:  # all fresh: drop the oldest
            del self._entries[min(self._entries, key=lambda k: self._entries[k].at)]


@dataclass(eq=False)
class Subscription:
    """One open stream: the kinds of event it may receive, and its queue."""

    kinds: frozenset[str]
    queue: asyncio.Queue[bytes] = field(default_factory=lambda: asyncio.Queue(QUEUE_DEPTH))

    def offer(self, event: bytes) -> None:
        """Queue ``event``; when full, the oldest waiting event makes room (it is stale)."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(event)


class StreamsFull(Exception):
    """Every stream place is taken: the caller gets 503 and retries later."""


Read = Callable[[str], Awaitable[object]]


class LiveFeed:
    """One polling loop for all subscribers; runs only while someone listens."""

    def __init__(self, read: Read, kinds: tuple[str, ...], period_s: float, max_streams: int):
        self._read = read
        self._kinds = kinds
        self._period_s = period_s
        self._max_streams = max_streams
        self._subscribers: set[Subscription] = set()
        self._last: dict[str, bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self.rounds = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def subscribe(self, kinds: frozenset[str]) -> Subscription:
        """A new stream, primed with the latest event of each kind it may see."""
        if len(self._subscribers) >= self._max_streams:
            raise StreamsFull(f"{len(self._subscribers)} console streams open")
        subscription = Subscription(kinds)
        for kind, event in self._last.items():
            if kind in kinds:
                subscription.offer(event)
        self._subscribers.add(subscription)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="console-live-feed")
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscribers.discard(subscription)

    async def close(self) -> None:
        self._subscribers.clear()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while self._subscribers:
            started = time.monotonic()
            for kind in self._kinds:
                if any(kind in s.kinds for s in self._subscribers):
                    await self._publish(kind)
            self.rounds += 1
            await asyncio.sleep(max(0.0, self._period_s - (time.monotonic() - started)))

    async def _publish(self, kind: str) -> None:
        try:
            data = await self._read(kind)
        except Exception as exc:  # a failed round is news for the viewers, not the loop's end
            log.warning("console %s not refreshed: %s", kind, exc)
            data = {"error": str(exc) or type(exc).__name__}
            kind_sent = "unavailable"
            event = sse_event(kind_sent, {"kind": kind, **data})
        else:
            event = sse_event(kind, data)
            self._last[kind] = event
        for subscription in list(self._subscribers):
            if kind in subscription.kinds:
                subscription.offer(event)

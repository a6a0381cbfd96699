"""Fixes to faust-streaming 0.15's offset bookkeeping, applied before the worker starts.

Found by SIGKILLing workers mid-stream (tests/integration/test_worker.py): after
a restart the group's lag stayed high for minutes, and a few households never
reached the valid topic. ``/debug/consumer`` and the broker's records showed
the chain, at every start and rebalance:

1. Faust resumes the stream partitions, then seeks them to the committed
   offset C in the consumer thread. While that seek is in flight its fetcher
   keeps handing records C, C+1, ... N to the conductor, moving the *read
   offset* to N; most of them wait in the agents' channel queues.
2. When the seek returns, ``perform_seek`` sets the read offset back to C, and
   the recovery service resumes flow control, which empties the channel
   queues: the records waiting there are gone, to be fetched again from C.
3. The next record from the fetcher's old batch, N+1, now looks like a jump
   from C, so Faust records C+1..N+1 as a *gap*: offsets it treats as acked
   without processing (meant for transaction markers and deleted records).
   The records fetched again from C are below the read offset (N+1) and are
   dropped. Those that had been in the queues are never processed, yet the gap
   lets the commit pass them: accepted submissions lost.
4. Records the agents did take before the queues were emptied are acked for
   real as well; merged with the gap, each appears twice in the acked list,
   and ``_new_offset`` commits only the first run of consecutive numbers per
   commit interval, one or two offsets with duplicates: the lag that never
   seemed to drain.

A second hole showed when the commit watch (``commits.py``) was tested by
losing one acknowledgement on purpose: Faust reads the committed offset (the
next one to read) as if it had been read, so the record *at* the committed
offset was never required: lose it and the commit moved past it silently.

The fixes, each in the method it names:

* ``perform_seek`` stops the consumer's flow while the seek runs (the switch
  Faust itself uses during a rebalance), so no record of a batch fetched
  before the seek is handed out after it; it starts partitions the group never
  committed at their first offset; and it records the last offset read as one
  before the committed one.
* ``_add_gap`` records only the offsets strictly between the last read one and
  the delivered one (Faust included the delivered record, acking it before
  any agent had seen it), and logs each gap: on our topics (no transactions,
  no compaction) a gap means records deleted by retention before they were
  read, which an operator must hear about.
* ``_new_offset`` waits until the record at the committed offset is acked, and
  merges gaps into the acked offsets as a set, so a gap that overlaps real
  acks cannot slow commits down to one offset per interval.

A third: a partition the group had never committed (a worker killed before
its first commit there) was not sought at all. Records dropped by the seek
were never read again, and with no committed offset the first commit started
at whatever was acked first: the sink committed 608 offsets it had never
written. ``perform_seek`` now starts such partitions at their first offset and
records that as their committed offset.

A fourth, in aiokafka's producer under Faust: a worker's first commit stayed in
flight for good on a fresh broker (``/debug/consumer``: ``commit_in_flight``,
the commit task in ``producer.flush()``, two batches for the valid topic
queued with no known leader). aiokafka refreshes metadata only for the topics
its client *tracks*, and adds a topic to them only when a send finds it
missing from the metadata it holds. Faust refreshes the producer's metadata
for *all* topics after each topic it declares, so every existing topic is
known and none tracked; the first send to a topic missing from that snapshot
(the dedup changelog, created a moment later) makes the tracked set that one
topic, and the next refresh drops every other topic. A batch queued for the
valid topic just before then has no leader; the sender's metadata refreshes
never ask for its topic, so it waits for the producer's request timeout (20
minutes), and so do the agent publishing it and the commit flushing the
producer. The worker now creates the changelog before Faust starts, which
makes that trigger rare, not impossible: any topic missing from a snapshot
(one that errored in the refresh, one created later) narrows the set the
same way. Now ``send``, ``send_batch`` and ``partitions_for`` track their
topic before anything is queued, so a topic with records queued is always in
the refresh (tests/integration/test_producer_metadata.py).

The version check fails loudly if a different Faust, aiokafka or mode is
installed: these are their internals, and a new release of any of them must be
re-checked (rerun the SIGKILL test) before the pin moves.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Mapping
from importlib import metadata
from typing import Any

import faust
from aiokafka import AIOKafkaProducer
from faust.transport.consumer import Consumer
from faust.types import TP
from faust.utils.functional import consecutive_numbers

log = logging.getLogger(__name__)

FIXED_VERSIONS = ("0.15.3",)
#: The libraries under Faust whose internals the fixes (and the worker's record-batch
#: publisher, ``send_batch`` on Faust's aiokafka producer) were checked against.
CHECKED_WITH = {"aiokafka": ("0.14.0",), "mode-streaming": ("0.7.1",)}
_APPLIED = "_regsosek_fixed"


def read_offsets_after_seek(committed: Mapping[Any, int | None]) -> dict[Any, int | None]:
    """The last offset read, as the fetcher should believe it after seeking to ``committed``.

    A committed offset is the next one to read, so the last one read is one
    less; Faust stored the committed offset itself, which made the record at
    the committed offset look already read.
    """
    return {tp: offset - 1 if offset else None for tp, offset in committed.items()}


async def _start_never_committed(
    consumer: Any, committed: Mapping[TP, int | None]
) -> dict[TP, int]:
    """Seek agent partitions the group never committed to their first offset, and say where.

    aiokafka's ``seek_to_committed`` leaves such a partition wherever its fetcher
    had got to, so records read before the seek and dropped by it were never
    read again; and with no committed offset Faust's first commit started at
    whatever was acked first. Starting them explicitly at the log start (what
    ``auto_offset_reset=earliest`` means) gives both a definite committed offset.
    """
    fresh = [
        tp
        for tp, offset in committed.items()
        if offset is None and consumer.app.topics.acks_enabled_for(tp.topic)
    ]
    if not fresh:
        return {}
    starts = {
        TP(tp.topic, tp.partition): offset
        for tp, offset in (await consumer.earliest_offsets(*fresh)).items()
        if offset is not None
    }
    if starts:
        await consumer.seek_wait(starts)
    return starts


def _perform_seek(original: Callable[..., Any]) -> Callable[..., Any]:
    async def perform_seek(self: Any) -> None:
        # Stop the fetcher handing out records while positions move (Faust's own rebalance
        # switch): the records of a batch fetched before the seek are dropped, not delivered
        # after it. (Emptying the active-partition set instead is wrong: aiokafka reads an
        # empty set as "every partition".)
        flowing = bool(self.flow_active)
        if flowing:
            self.stop_flow()
        try:
            committed = {
                TP(tp.topic, tp.partition): (offset if offset is not None and offset >= 0 else None)
                for tp, offset in (await self.seek_to_committed()).items()
            }
            committed.update(await _start_never_committed(self, committed))
            self._read_offset.update(read_offsets_after_seek(committed))
            self._committed_offset.update(
                {tp: offset for tp, offset in committed.items() if offset is not None}
            )
        finally:
            if flowing:
                self.resume_flow()

    perform_seek.__doc__ = original.__doc__
    return perform_seek


def _new_offset(original: Callable[..., Any]) -> Callable[..., Any]:
    """Faust's ``_new_offset``, requiring the record at the committed offset to be acked.

    Same steps as the original: merge the gap ranges below the highest acked
    offset into the acked offsets, wait while the record at the committed
    offset is not among them, commit the first consecutive run. The merge is a
    set union, so a gap overlapping real acks cannot split the run; and the
    wait starts at the committed offset itself (Faust waited only when the
    lowest acked offset was two or more past it, so a lost record right at the
    committed offset was committed over).
    """

    def new_offset(self: Any, tp: Any) -> int | None:
        acked = self._acked[tp]
        if not acked:
            return None
        pending = set(acked)
        gap = self._gap[tp]
        if gap:
            highest = max(pending)
            ranges = sorted(gap.overlap(0, highest), key=lambda r: r.begin)
            if ranges:
                filled = [o for r in ranges for o in range(r.begin, r.end)]
                pending.update(filled)
                gap.chop(0, max(filled[-1], highest + 1))
        acked[:] = sorted(pending)
        committed = self._committed_offset[tp]
        if committed is not None and acked[0] > committed:
            return None  # the record at the committed offset is not done yet
        run = next(consecutive_numbers(acked))
        del acked[: len(run)]
        self._acked_index[tp].difference_update(run)
        return int(run[-1]) + 1

    new_offset.__doc__ = original.__doc__
    return new_offset


def _add_gap(original: Callable[..., Any]) -> Callable[..., Any]:
    """Faust's ``_add_gap`` for the offsets strictly between the last read and the delivered one.

    Faust included the delivered record in the gap (acking it before any agent
    had seen it) and never the committed offset; both follow from reading the
    last-read offset as the next one. Every gap is logged: on our topics (no
    transactions, no compaction) a gap means records deleted by retention
    before they were read, which an operator must hear about.
    """

    async def add_gap(self: Any, tp: Any, offset_from: int, offset_to: int) -> None:
        committed = self._committed_offset[tp]
        first = offset_from if committed is None else max(offset_from, committed)
        last = offset_to - 1  # offset_to is the record being delivered
        if first > last:
            return
        log.warning(
            "offsets %d..%d of %s[%d] were never read (deleted by retention?): "
            "committing past them",
            first,
            last,
            tp.topic,
            tp.partition,
        )
        gap = self._gap[tp]
        gap.addi(first, last + 1)
        await asyncio.sleep(0)
        gap.merge_overlaps()

    add_gap.__doc__ = original.__doc__
    return add_gap


def _drain_messages(original: Callable[..., Any]) -> Callable[..., Any]:
    """Faust's fetch loop, marking a record read only once it was really handed on.

    Faust hands each fetched record to the channel with ``wait_first(callback,
    suspend_flow)`` and then marks it read whatever happened. When a rebalance
    or seek suspends the flow while the channel is full, the hand-over is
    cancelled, yet the record counts as read; if that bookkeeping lands after
    the seek has reset the read offset, the records from the committed offset
    up to it are dropped as already read when fetched again, and the group
    stops committing at the first of them (the changelog-recovery test's
    record at the committed offset, read and never processed). Here a record
    whose hand-over did not finish, or that belongs to an older consumer
    generation, ends this batch instead: the seek that follows positions the
    fetcher, and those records are read again.
    """

    async def drain_messages(self: Any, fetcher: Any) -> None:  # pragma: no cover - loop
        consumer_should_stop = self._stopped.is_set
        fetcher_should_stop = fetcher._stopped.is_set
        since_yield = 0
        try:
            while not (consumer_should_stop() or fetcher_should_stop()):
                self.diag.set_flag(_FETCHING)
                batch = self.getmany(timeout=1.0)
                await asyncio.sleep(0)
                if not self.should_stop:
                    try:
                        async for tp, message in batch:
                            since_yield += 1
                            if since_yield > _YIELD_EVERY:
                                await asyncio.sleep(0)
                                since_yield = 0
                            if not await _hand_on(self, tp, message):
                                break
                    finally:
                        await batch.aclose()
                    self.diag.unset_flag(_FETCHING)
        except self.consumer_stopped_errors:
            if self.transport.app.should_stop:
                self.log.info("Broker stopped consumer, shutting down...")
                return
            raise
        except asyncio.CancelledError:
            if self.transport.app.should_stop:
                self.log.info("Consumer shutting down for user cancel.")
                return
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(_FETCHING)

    drain_messages.__doc__ = original.__doc__
    return drain_messages


#: Faust's diagnostic flag while fetching, and how often its loop yields to others.
_FETCHING = "FETCHING"
_YIELD_EVERY = 100


async def _hand_on(consumer: Any, tp: Any, message: Any) -> bool:
    """One record of the fetch loop; ``False`` when the batch must end unread from here."""
    read_offset = consumer._read_offset
    offset = message.offset
    last = read_offset[tp]
    if last is not None and offset < last:
        return True  # read before (Faust's DROPPED MESSAGE): skip it, go on
    if last and offset - last > 1 and consumer.app.topics.acks_enabled_for(message.topic):
        await consumer._add_gap(tp, last + 1, offset)
    commit_every = consumer._commit_every
    if commit_every is not None and consumer._n_acked >= commit_every:
        consumer._n_acked = 0
        await consumer.commit()
    hand_over = consumer.callback(message)
    handed = await consumer.wait_first(hand_over, consumer.suspend_flow.wait())
    current = message.generation_id == consumer.app.consumer_generation_id
    if hand_over in handed.done and current:
        read_offset[tp] = offset
    # a hand-over cut short by a suspended flow (rebalance, seek) or made for an older
    # assignment ends the batch: the seek that follows decides what is read next
    return bool(hand_over in handed.done and current and not consumer.suspend_flow.is_set())


def track_topic(client: Any, topic: str) -> None:
    """Have aiokafka's client refresh ``topic`` in every metadata update from now on.

    A topic known only from an all-topics refresh is not tracked, and drops out
    of the metadata at the first refresh after another topic is tracked; a
    batch queued for it then never learns its leader. ``add_topic`` schedules
    one refresh when the topic is new, and is skipped when already tracked.
    """
    if topic not in client._topics:
        client.add_topic(topic)


#: The producer methods that take a topic, and its position among their arguments.
_TOPIC_ARGUMENT = {"send": 0, "send_batch": 1, "partitions_for": 0}


def _tracking(original: Callable[..., Any], position: int) -> Callable[..., Any]:
    """A producer method tracking its topic (argument ``position`` or ``topic=``) first."""

    @functools.wraps(original)
    async def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        track_topic(self.client, kwargs["topic"] if "topic" in kwargs else args[position])
        return await original(self, *args, **kwargs)

    return method


def apply() -> None:
    """Patch Faust's consumer and aiokafka's producer once; refuses releases not checked."""
    if getattr(Consumer, _APPLIED, False):
        return
    installed = {"faust-streaming": faust.__version__} | {
        name: metadata.version(name) for name in CHECKED_WITH
    }
    checked = {"faust-streaming": FIXED_VERSIONS} | CHECKED_WITH
    for name, version in installed.items():
        if version not in checked[name]:
            raise RuntimeError(
                f"{name} {version} is not one streams/worker/faust_fixes.py was checked "
                f"against ({', '.join(checked[name])}): re-run the SIGKILL test and review "
                "the fixes before changing the pin"
            )
    Consumer.perform_seek = _perform_seek(Consumer.perform_seek)  # type: ignore[method-assign]
    Consumer._new_offset = _new_offset(Consumer._new_offset)  # type: ignore[method-assign]
    Consumer._add_gap = _add_gap(Consumer._add_gap)  # type: ignore[method-assign]
    Consumer._drain_messages = _drain_messages(Consumer._drain_messages)  # type: ignore[method-assign]
    for name, position in _TOPIC_ARGUMENT.items():
        setattr(AIOKafkaProducer, name, _tracking(getattr(AIOKafkaProducer, name), position))
    setattr(Consumer, _APPLIED, True)

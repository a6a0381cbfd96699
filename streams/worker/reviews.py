"""The review agent: ``<prefix>.reviews`` → ClickHouse ``reviews``, or a rejection.

A second agent in the worker's group, beside the submissions. The reviews
topic is keyed by household id and has the submissions' partition count, so
Faust's assignor gives this worker the reviews of exactly the households whose
dedup state it holds; each review is judged against that state (its pending
batches first, then the table) and the frame (:mod:`processors.reviews`).

A batch is decoded and judged in the event loop (cheap: a few fields per
review), then inserted in the worker's one ClickHouse thread under a token
named by its offsets, so a batch read again after a crash is dropped by the
engine; a resent decision (same ``review_id``) collapses in the table's key.
Reviews that do not decode or do not stand become Rejection records (``DECODE_*``,
``REVIEW_*``): their payload rows go in with the batch, and they are
published to ``.rejected`` like any other rejection before the batch is
acknowledged. Such a rejection has the reviews topic as ``source_topic``, the
``review_id`` as ``submission_id``, the household, and no enumerator or
district: a supervisor's refused decision never counts as an enumerator's
rejected interview.

A transient fault (ClickHouse, the broker or the schema registry away) holds
the batch, retried with backoff; a batch the engine refuses for good (a bug:
every stored column was checked) turns its reviews into ``INSERT_REFUSED``
rejections rather than stopping the partition.

Judging happens when the review is read. The worker holds a household's state
from the moment it computed the batch (before the insert), but the review may
still be read before its submission: the worker was down or held by ClickHouse
while the supervisor went on (found by the chaos soak, benchmarks/chaos.py).
A review whose household or revision is not known yet then waits for the
submissions agent (:mod:`streams.worker.review_wait`) and is rejected
(``REVIEW_UNKNOWN_HOUSEHOLD`` / ``REVIEW_UNKNOWN_REVISION``) only if it is still
unknown once every submission written before it has been computed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitoring.hooks import SINK_CLICKHOUSE, SINK_PUBLISH, WorkerObserver
from processors.dedup import HouseholdState
from processors.pipeline import RawSubmission
from processors.records import rejection, rejection_for_decode_error
from processors.reviews import review_findings
from processors.rules.base import Finding
from processors.rules.catalogue import RULES_BY_CODE
from schemas.errors import DecodeError, SchemaRegistryError
from schemas.frame import Frame
from schemas.registry import SchemaRegistry
from schemas.serde import AvroDeserializer
from sinks.reviews import Position, review_block
from sinks.rows import Block, rejection_block
from sinks.writer import ClickHouseWriter, SinkUnavailable
from streams import topics as names
from streams.settings import Settings
from streams.worker.holding import hold, hold_async
from streams.worker.processing import ProcessingStage, batch_token, to_raw
from streams.worker.publishing import BatchPublisher
from streams.worker.review_wait import AHEAD_CODES, MAX_WAIT_S, POLL_S, reached

log = logging.getLogger(__name__)

#: A household's dedup state as the worker knows it now (None: never seen).
StateOf = Callable[[str], HouseholdState | None]
#: Encodes a Rejection record into its wire bytes.
Encode = Callable[[dict[str, Any]], bytes]
#: Ends the process unacknowledged when a batch fails for a reason that is not held
#: (a bug): :func:`streams.worker.runtime.unacked_on_failure`.
Guard = Callable[[str, Awaitable[None]], Awaitable[None]]
#: The submissions topic's end offsets and the group's committed offsets, by partition
#: (blocking I/O: called in a thread).
SubmissionOffsets = Callable[[], tuple[dict[int, int], dict[int, int]]]


@dataclass
class Judged:
    """A batch's reviews that stand, and the Rejection records of those that do not."""

    accepted: list[tuple[Mapping[str, Any], Position]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Parked:
    """Reviews read before their submissions, with their events (one extra reference each)."""

    events: list[Any]
    messages: list[RawSubmission]
    since: float
    #: The submissions' end offsets at the first look after they were read (by partition).
    targets: dict[int, int] | None = None


def judge(
    messages: Sequence[RawSubmission],
    decoder: AvroDeserializer,
    state_of: StateOf,
    frame: Frame,
    now: datetime,
) -> Judged:
    """Decode and check every review; raises SchemaRegistryError only (the batch is held)."""
    out = Judged()
    for m in messages:
        key = m.key.decode("utf-8", "replace") if m.key else None
        try:
            schema_id, review = decoder.decode_with_id(m.value)
        except DecodeError as exc:
            out.rejections.append(
                rejection_for_decode_error(
                    m.value, m.topic, m.partition, m.offset, now, exc, key=key
                )
            )
            continue
        at_ms = int(m.timestamp.timestamp() * 1000)
        findings = review_findings(review, state_of(str(review["household_id"])), frame, at_ms)
        if findings:
            out.rejections.append(review_rejection(m, review, schema_id, findings, now))
            continue
        out.accepted.append((review, (m.topic, m.partition, m.offset, m.timestamp)))
    return out


def review_rejection(
    message: RawSubmission,
    review: Mapping[str, Any],
    schema_id: int | None,
    findings: Sequence[Finding],
    now: datetime,
) -> dict[str, Any]:
    """The Rejection of a decoded review: its review_id and household, no enumerator."""
    m = message
    record = rejection(m.value, m.topic, m.partition, m.offset, now, findings, None, schema_id)
    record["submission_id"] = review["review_id"]
    record["household_id"] = review["household_id"]
    return record


def dedup_state(processing: ProcessingStage, table: Any) -> StateOf:
    """The state the submissions agent holds for a household: pending batches first."""

    def state_of(household: str) -> HouseholdState | None:
        value = processing.pending.get(household)
        if value is None:
            value = table.get(household.encode())
        return HouseholdState.from_json(value) if value else None

    return state_of


class ReviewStage:
    """Judges, inserts and publishes review batches; one per worker."""

    def __init__(
        self,
        *,
        decoder: AvroDeserializer,
        frame: Frame,
        state_of: StateOf,
        writer: ClickHouseWriter,
        executor: ThreadPoolExecutor,
        publisher: BatchPublisher,
        rejected_topic: str,
        encode_rejection: Encode,
        observer: WorkerObserver,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        computed_through: Callable[[], Mapping[int, int]] = dict,
        submission_offsets: SubmissionOffsets | None = None,
        max_wait_s: float = MAX_WAIT_S,
    ) -> None:
        self._computed_through = computed_through
        self._submission_offsets = submission_offsets
        self._max_wait_s = max_wait_s
        self._parked: list[Parked] = []
        #: handle and retry_parked take turns: one writer, one order of effects
        self._lock = asyncio.Lock()
        self._decoder = decoder
        self._frame = frame
        self._state_of = state_of
        self._writer = writer
        self._executor = executor
        self._publisher = publisher
        self._rejected_topic = rejected_topic
        self._encode = encode_rejection
        self._observer = observer
        self._should_stop = should_stop
        self._clock = clock

    async def handle(self, events: Sequence[Any]) -> Judged:
        """One ``take_events`` batch: what is decided is stored and published before this returns.

        Reviews ahead of their submissions are parked instead (each event keeps
        one more reference, so Faust's automatic acknowledgement does not commit
        it): :meth:`retry_parked` stores them once their submissions are known.
        The agent never waits for them, so the consumer keeps fetching the
        submissions they wait for.
        """
        messages = [to_raw(event) for event in events]
        if not messages:
            return Judged()
        async with self._lock:
            judged = await self._judged(messages)
            ahead = _ahead_positions(judged) if self._submission_offsets is not None else set()
            if ahead:
                parked = [(e, m) for e, m in zip(events, messages, strict=True) if _at(m) in ahead]
                for event, _message in parked:
                    event.message.incref()
                self._parked.append(
                    Parked([e for e, _ in parked], [m for _, m in parked], time.monotonic())
                )
                log.info("%d review(s) ahead of their submissions: parked", len(parked))
                messages = [m for m in messages if _at(m) not in ahead]
                judged = _without(judged, ahead)
            if messages:
                await self._store(judged, messages)
            return judged

    async def retry_parked(self) -> None:
        """Judge the parked reviews again; store and acknowledge those that are decided now.

        A parked batch is decided when none of it is ahead any more, or once the
        submissions agent has computed everything written before it (what is
        still unknown then is unknown), or after ``max_wait_s``. The broker away
        only makes them wait longer.
        """
        if not self._parked or self._submission_offsets is None:
            return
        async with self._lock:
            try:
                ends, committed = await asyncio.to_thread(self._submission_offsets)
            except Exception as exc:  # kafka-python raises several unrelated types
                log.info("submission offsets unreadable while reviews wait: %r", exc)
                return
            computed = self._computed_through()
            still: list[Parked] = []
            for entry in self._parked:
                # the first look, taken after the reviews were read, fixes what to wait for
                if entry.targets is None:
                    entry.targets = {m.partition: ends.get(m.partition, 0) for m in entry.messages}
                done = reached(entry.targets, computed, committed)
                judged = await self._judged(entry.messages)  # after the look: in the states
                late = time.monotonic() - entry.since > self._max_wait_s
                if _ahead_positions(judged) and not done and not late:
                    still.append(entry)
                    continue
                if late:
                    log.warning("reviews waited %.0f s; judged as they stand", self._max_wait_s)
                await self._store(judged, entry.messages)
                for event in entry.events:
                    event.ack()
            self._parked = still

    async def _judged(self, messages: Sequence[RawSubmission]) -> Judged:
        async def judging() -> Judged:
            return judge(messages, self._decoder, self._state_of, self._frame, self._clock())

        return await hold_async(
            judging,
            retry_on=lambda exc: isinstance(exc, SchemaRegistryError),
            sink=SINK_CLICKHOUSE,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    async def _store(self, judged: Judged, messages: Sequence[RawSubmission]) -> None:
        """Insert under a token of the messages' offsets, then publish the rejections."""
        token = batch_token((m.topic, m.partition, m.offset) for m in messages)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        await loop.run_in_executor(self._executor, self._write_until_done, judged, messages, token)
        seconds = time.monotonic() - started
        self._observer.on_sink_batch("reviews", len(judged.accepted), seconds, 1)
        self._observer.on_sink_batch("rejection_payloads", len(judged.rejections), seconds, 1)
        records = [
            (str(record["household_id"] or "").encode() or None, self._encode(record))
            for record in judged.rejections
        ]

        async def publishing() -> None:  # a coroutine function: tenacity awaits only those
            await self._publisher.publish(self._rejected_topic, records)

        await hold_async(
            publishing,
            retry_on=lambda exc: isinstance(exc, Exception),
            sink=SINK_PUBLISH,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    def _write_until_done(
        self, judged: Judged, messages: Sequence[RawSubmission], token: str
    ) -> None:
        hold(
            lambda: self._write(judged, messages, token),
            retry_on=lambda exc: isinstance(exc, SinkUnavailable) and not exc.permanent,
            sink=SINK_CLICKHOUSE,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    def _write(self, judged: Judged, messages: Sequence[RawSubmission], token: str) -> None:
        now = self._clock()
        blocks: list[Block] = [review_block(judged.accepted, now)]
        if judged.rejections:
            blocks.append(rejection_block(judged.rejections, written_at=now))
        try:
            self._writer.write(blocks, token)
        except SinkUnavailable as exc:
            if not exc.permanent:
                raise
            self._refused(judged, messages, token, str(exc.__cause__ or exc)[:200], now)

    def _refused(
        self,
        judged: Judged,
        messages: Sequence[RawSubmission],
        token: str,
        why: str,
        now: datetime,
    ) -> None:
        """The engine refused the batch for good: its reviews become INSERT_REFUSED rejections."""
        log.error("reviews of %s refused by ClickHouse, rejected instead: %s", token, why)
        by_offset = {(m.partition, m.offset): m for m in messages}
        finding = RULES_BY_CODE["INSERT_REFUSED"].finding(None, error=why)
        for review, (_topic, partition, offset, _at) in judged.accepted:
            message = by_offset[(partition, offset)]
            judged.rejections.append(review_rejection(message, review, None, [finding], now))
        judged.accepted = []
        block = rejection_block(judged.rejections, written_at=now)
        try:
            self._writer.write([block], f"{token}/refused")
        except SinkUnavailable as exc:
            if not exc.permanent:
                raise
            log.error("rejections of %s refused, published only: %s", token, exc)


def install_reviews(
    wapp: Any,
    settings: Settings,
    *,
    frame: Frame,
    processing: ProcessingStage,
    writer: ClickHouseWriter,
    executor: ThreadPoolExecutor,
    publisher: BatchPublisher,
    encode_rejection: Encode,
    observer: WorkerObserver,
    registry: SchemaRegistry,
    guard: Guard,
    submission_offsets: SubmissionOffsets | None = None,
) -> ReviewStage:
    """The ``process-reviews`` agent: batches handled one after the other, then acknowledged.

    It shares the worker's writer and its one ClickHouse thread (the engine
    has one writer) and the producer of the submissions' outputs.
    ``take_events`` acknowledges a batch when the agent asks for the next one,
    and :meth:`ReviewStage.handle` returns only once the batch is stored and
    its rejections acknowledged by the broker.
    """
    app = wapp.app
    prefix = settings.topic_prefix
    stage = ReviewStage(
        decoder=AvroDeserializer(registry, "ReviewDecision"),
        frame=frame,
        state_of=dedup_state(processing, wapp.dedup),
        writer=writer,
        executor=executor,
        publisher=publisher,
        rejected_topic=names.named(names.SUBMISSIONS_REJECTED, prefix),
        encode_rejection=encode_rejection,
        observer=observer,
        should_stop=lambda: bool(app.should_stop),
        computed_through=lambda: processing.computed_through,
        submission_offsets=submission_offsets,
    )
    source = app.topic(
        names.named(names.REVIEWS, prefix),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def process(stream: Any) -> None:
        async for events in stream.take_events(
            settings.process_batch, within=settings.process_batch_seconds
        ):
            observer.on_consumed(names.named(names.REVIEWS, prefix), len(events))
            await guard("process-reviews", _done(stage.handle(events)))

    async def retry_parked() -> None:
        await guard("process-reviews", stage.retry_parked())

    app.agent(source, name="process-reviews", concurrency=1)(process)
    app.timer(interval=POLL_S, name="regsosek-reviews-parked")(retry_parked)
    return stage


def _at(message: RawSubmission) -> tuple[int, int]:
    return message.partition, message.offset


def _ahead_positions(judged: Judged) -> set[tuple[int, int]]:
    """Where the reviews are that were rejected only because the worker does not know them yet."""
    return {
        (int(record["source_partition"]), int(record["source_offset"]))
        for record in judged.rejections
        if {reason["code"] for reason in record["reasons"]} <= AHEAD_CODES
    }


def _without(judged: Judged, positions: set[tuple[int, int]]) -> Judged:
    """The judgement with the rejections at ``positions`` taken out (they are parked)."""
    kept = [
        record
        for record in judged.rejections
        if (int(record["source_partition"]), int(record["source_offset"])) not in positions
    ]
    return Judged(judged.accepted, kept)


async def _done(judging: Awaitable[Judged]) -> None:
    await judging

"""The paradata agent: ``<prefix>.enumerator-events`` → ClickHouse ``enumerator_events``.

A second agent in the worker's group, beside the submissions. Each batch is
decoded with the shared serde, checked (:mod:`processors.paradata`), turned
into rows (:mod:`sinks.paradata`) and inserted, all in the worker's one
ClickHouse thread, and acknowledged only after that. Nothing is published:
paradata has no downstream topic, and the worker never re-reads its own output.

Failures follow the project's rules. An event that does not decode, or
decodes into something no view can place, is a rejection (``DECODE_*``,
``PARADATA_EVENT_INVALID``) written with its bytes to ``rejection_payloads``
(its ``rejections`` row has the event topic as ``source_topic``, no household
and no enumerator, so it never counts as a household's rejection); a row the
engine refuses for good is narrowed by halves to that event and rejected
(``INSERT_REFUSED``). A transient fault (ClickHouse away, the schema registry
unreachable) holds the whole batch, retried under the same token, with
``/readyz`` failing (sink ``paradata``). The token is the batch's offsets, so a
batch read again after a crash is dropped by the engine; an app's resent copy of
an event (same event_id and time) collapses in the table's key.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from monitoring.hooks import SINK_PARADATA, ParadataBatch, ParadataObserver, WorkerObserver
from processors.paradata import event_findings
from processors.pipeline import RawSubmission
from processors.records import rejection, rejection_for_decode_error
from processors.rules.catalogue import RULES_BY_CODE
from schemas.errors import DecodeError, SchemaRegistryError
from schemas.registry import SchemaRegistry
from schemas.serde import AvroDeserializer
from sinks.paradata import event_block, event_row
from sinks.rows import rejection_block
from sinks.writer import ClickHouseWriter, SinkUnavailable
from streams import topics as names
from streams.settings import Settings
from streams.worker.holding import hold
from streams.worker.observer import consumed_topics
from streams.worker.processing import batch_token, to_raw

log = logging.getLogger(__name__)

#: Device clocks this far ahead of the worker's still count for the freshness gauges;
#: further ahead they are wrong clocks, and would pin the gauge in the future.
CLOCK_SLACK = timedelta(minutes=5)


@dataclass
class Decided:
    """One batch's rows, and the Rejection records of the events that have none."""

    rows: list[list[Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)


def decide(messages: Sequence[RawSubmission], decoder: AvroDeserializer, now: datetime) -> Decided:
    """Rows and rejections of a batch; raises SchemaRegistryError only (the batch is held)."""
    out = Decided()
    for m in messages:
        try:
            schema_id, record = decoder.decode_with_id(m.value)
        except DecodeError as exc:
            rejected = rejection_for_decode_error(m.value, m.topic, m.partition, m.offset, now, exc)
            out.rejections.append(rejected)
            continue
        findings = event_findings(record)
        if findings:
            out.rejections.append(
                rejection(m.value, m.topic, m.partition, m.offset, now, findings, None, schema_id)
            )
            continue
        out.rows.append(event_row(record, (m.topic, m.partition, m.offset), m.timestamp, now))
    return out


def summary(decided: Decided, now: datetime) -> ParadataBatch:
    """The observer's counts: stored by type, refused by reason, newest event and sync."""
    stored: Counter[str] = Counter(str(row[2]) for row in decided.rows)
    reasons: Counter[str] = Counter(
        str(reason["code"]) for record in decided.rejections for reason in record["reasons"]
    )
    latest = now + CLOCK_SLACK
    times = [(str(row[2]), row[3]) for row in decided.rows if row[3] <= latest]
    events = [at.timestamp() for _, at in times]
    syncs = [at.timestamp() for kind, at in times if kind == "SYNC"]
    return ParadataBatch(
        stored=dict(stored),
        rejected=dict(reasons),
        newest_event=max(events, default=None),
        newest_sync=max(syncs, default=None),
    )


class ParadataStage:
    """Decodes, inserts and reports enumerator-event batches; one per worker."""

    def __init__(
        self,
        *,
        writer: ClickHouseWriter,
        decoder: AvroDeserializer,
        executor: ThreadPoolExecutor,
        observer: WorkerObserver,
        paradata_observer: ParadataObserver,
        should_stop: Callable[[], bool] = lambda: False,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._writer = writer
        self._decoder = decoder
        self._executor = executor
        self._observer = observer
        self._paradata_observer = paradata_observer
        self._should_stop = should_stop
        self._clock = clock

    async def handle(self, events: Sequence[Any]) -> None:
        """One ``take_events`` batch, written before the caller acknowledges it."""
        messages = [to_raw(event) for event in events]
        if not messages:
            return
        for topic, count in consumed_topics(events).items():
            self._observer.on_consumed(topic, count)
        token = batch_token((m.topic, m.partition, m.offset) for m in messages)
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        decided = await loop.run_in_executor(
            self._executor, self._write_until_done, messages, token
        )
        seconds = time.monotonic() - started
        self._observer.on_sink_batch("enumerator_events", len(decided.rows), seconds, 1)
        if decided.rejections:
            self._observer.on_sink_batch("rejection_payloads", len(decided.rejections), seconds, 1)
        self._paradata_observer.on_paradata(summary(decided, self._clock()))

    def _write_until_done(self, messages: Sequence[RawSubmission], token: str) -> Decided:
        """Decode and insert, held and retried while ClickHouse or the registry is away."""
        return hold(
            lambda: self._write(messages, token),
            retry_on=lambda exc: (
                (isinstance(exc, SinkUnavailable) and not exc.permanent)
                or isinstance(exc, SchemaRegistryError)
            ),
            sink=SINK_PARADATA,
            observer=self._observer,
            should_stop=self._should_stop,
        )

    def _write(self, messages: Sequence[RawSubmission], token: str) -> Decided:
        now = self._clock()
        decided = decide(messages, self._decoder, now)
        refused: list[tuple[list[Any], str]] = []
        self._insert_rows(decided.rows, token, refused)
        if refused:
            by_offset = {(m.partition, m.offset): m for m in messages}
            stored = {id(row) for row, _ in refused}
            decided.rows = [row for row in decided.rows if id(row) not in stored]
            decided.rejections += [_refused(row, why, by_offset, now) for row, why in refused]
        if decided.rejections:
            block = rejection_block(decided.rejections, written_at=now)
            try:
                self._writer.write([block], f"{token}/rejections")
            except SinkUnavailable as exc:
                if not exc.permanent:
                    raise
                log.error("paradata rejections of %s refused, not stored: %s", token, exc)
        return decided

    def _insert_rows(
        self, rows: list[list[Any]], token: str, refused: list[tuple[list[Any], str]]
    ) -> None:
        """Insert ``rows``; halves on a refusal for good, down to the refused rows."""
        if not rows:
            return
        try:
            self._writer.write([event_block(rows)], token)
        except SinkUnavailable as exc:
            if not exc.permanent:
                raise
            if len(rows) == 1:
                refused.append((rows[0], str(exc.__cause__ or exc)[:200]))
                return
            middle = len(rows) // 2
            self._insert_rows(rows[:middle], f"{token}/a", refused)
            self._insert_rows(rows[middle:], f"{token}/b", refused)


def _refused(
    row: list[Any], why: str, by_offset: dict[tuple[int, int], RawSubmission], now: datetime
) -> dict[str, Any]:
    """The INSERT_REFUSED rejection of one event row the engine would not take."""
    partition, offset = int(row[15]), int(row[16])
    m = by_offset[(partition, offset)]
    finding = RULES_BY_CODE["INSERT_REFUSED"].finding(None, error=why)
    log.error(
        "enumerator event %s:%d:%d refused by ClickHouse: %s", m.topic, partition, offset, why
    )
    return rejection(m.value, m.topic, partition, offset, now, [finding], None, None)


#: Ends the process unacknowledged when a batch fails for a reason that is not held
#: (a bug): :func:`streams.worker.runtime.unacked_on_failure`.
Guard = Callable[[str, Awaitable[None]], Awaitable[None]]


def install_paradata(
    wapp: Any,
    settings: Settings,
    *,
    writer: ClickHouseWriter,
    executor: ThreadPoolExecutor,
    observer: WorkerObserver,
    paradata_observer: ParadataObserver,
    registry: SchemaRegistry,
    guard: Guard,
) -> ParadataStage:
    """The ``process-paradata`` agent: batches handled one after the other, then acknowledged.

    It shares the worker's writer and its one ClickHouse thread, so paradata
    inserts queue behind the households' and the engine has one writer.
    ``take_events`` acknowledges a batch when the agent asks for the next
    one, and :meth:`ParadataStage.handle` returns only once the batch is
    stored: the order the project needs.
    """
    app = wapp.app
    stage = ParadataStage(
        writer=writer,
        decoder=AvroDeserializer(registry, "EnumeratorEvent"),
        executor=executor,
        observer=observer,
        paradata_observer=paradata_observer,
        should_stop=lambda: bool(app.should_stop),
    )
    source = app.topic(
        paradata_topic(settings),
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )

    async def process(stream: Any) -> None:
        async for events in stream.take_events(
            settings.process_batch, within=settings.process_batch_seconds
        ):
            await guard("process-paradata", stage.handle(events))

    app.agent(source, name="process-paradata", concurrency=1)(process)
    return stage


def paradata_topic(settings: Settings) -> str:
    """``<prefix>.enumerator-events``."""
    return names.named(names.ENUMERATOR_EVENTS, settings.topic_prefix)

"""The field-app SDK: publish household submissions and enumerator events to Kafka.

What became of them comes back from the gateway: :class:`FeedbackClient`
(streams/sdk_feedback.py, ``GET /v1/feedback``), importable from here too.

What a field app (or the gateway, or the simulator) gets from it:

* **Validation before sending.** Every record is checked against its Avro
  schema first, and every bad field is reported at once
  (:class:`~schemas.errors.SchemaValidationError`, or a :class:`RejectedRecord`
  in a batch), so nothing malformed ever reaches the topic.
* **A receipt only for durable events.** ``publish`` returns a :class:`Receipt`
  (topic, partition, offset) once the broker acknowledged with ``acks=all``;
  anything else raises :class:`PublishError`. An app that gets an error simply
  sends the same record again: the producer is idempotent (no duplicates from
  its own retries) and a resend keeps its ``submission_id``, which the
  processors deduplicate on, so retries never double-count.
* **Offline catch-up.** ``publish_batch`` validates a whole backlog, sends the
  valid records together (one flush, batches compressed) and reports each
  record's outcome; one bad record never blocks the others.
* **Ordering per household.** Submissions are keyed by ``household_id``, so all
  revisions of one household land on one partition, in order.
* **Size limits before sending.** A submission whose wire bytes exceed
  :data:`~schemas.limits.MAX_SUBMISSION_BYTES` is refused before any Kafka call
  (:class:`RecordTooLargeError`, or a :class:`RejectedRecord` with the code
  :data:`~schemas.limits.TOO_LARGE_CODE` in a batch), so everything the SDK sends
  can be republished and quarantined by the worker; the producer's
  ``max_request_size`` is :data:`~schemas.limits.MAX_RECORD_BYTES` on purpose.

Compression is gzip by default: it needs no extra package in kafka-python,
every Kafka client reads it, and on a tablet's mobile link the better ratio
matters more than lz4's speed. ``ProducerOptions(compression="lz4")`` works
where python-lz4 is installed.

The producer is kafka-python's (blocking, thread-safe) and is created on first
use, so building a publisher never fails because the broker is down; call
:meth:`AvroPublisher.connect` (or use ``with``) to find out early.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, Self

from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from schemas.catalog import subject_for
from schemas.errors import BrokerError, RegsosekError, SchemaValidationError
from schemas.limits import MAX_RECORD_BYTES, MAX_SUBMISSION_BYTES, TOO_LARGE_CODE
from schemas.registry import SchemaRegistry
from schemas.serde import AvroSerializer
from schemas.validate import FieldError
from streams.kafka_security import PLAINTEXT, KafkaSecurity

# the read side, re-exported (PEP 484's explicit form)
from streams.sdk_feedback import FeedbackClient as FeedbackClient  # noqa: PLC0414
from streams.sdk_feedback import FeedbackError as FeedbackError  # noqa: PLC0414
from streams.sdk_feedback import FeedbackPage as FeedbackPage  # noqa: PLC0414
from streams.topics import ENUMERATOR_EVENTS, REVIEWS, SUBMISSIONS

log = logging.getLogger(__name__)


class PublishError(BrokerError):
    """The broker did not acknowledge: unreachable, timed out, or refused the write.

    ``retriable`` says whether sending the same records again later may work
    (broker down, leader moving) or not (e.g. a record above the size limit).
    For a batch, ``outcomes`` holds what was known when it failed: a
    :class:`Receipt` for every record that *was* acknowledged, a
    :class:`RejectedRecord` for invalid ones and ``None`` for those that were not.
    """

    def __init__(
        self,
        message: str,
        *,
        retriable: bool = True,
        outcomes: Sequence[Receipt | RejectedRecord | None] = (),
    ) -> None:
        super().__init__(message)
        self.retriable = retriable
        self.outcomes: list[Receipt | RejectedRecord | None] = list(outcomes)


class RecordTooLargeError(RegsosekError):
    """A record is larger on the wire than its publisher accepts; nothing was sent.

    Not retriable: the same record is refused again. ``code`` is
    :data:`~schemas.limits.TOO_LARGE_CODE`, the reason code the gateway answers
    with (413) and the worker rejects with; ``size`` and ``limit`` are wire bytes
    (Avro body plus the 5-byte Confluent header).
    """

    exit_code = SchemaValidationError.exit_code  # a bad record, like a schema mismatch

    def __init__(self, size: int, limit: int, record_id: str = "", schema_name: str = "") -> None:
        self.code = TOO_LARGE_CODE
        self.size = size
        self.limit = limit
        self.record_id = record_id
        what = " ".join(part for part in (schema_name or "record", record_id) if part)
        super().__init__(
            f"{TOO_LARGE_CODE}: {what} is {size} bytes encoded (Avro wire format), "
            f"over the limit of {limit} bytes; it was not sent"
        )


class CheckedRecord(dict[str, Any]):
    """A record already checked field by field against the current ``schema_name``.

    The gateway's JSON conversion (:class:`~schemas.jsonform.JsonForm`) validates
    while it converts; wrapping its result in this type tells a publisher of the
    same schema not to run the same check a second time before encoding. fastavro
    still refuses what it cannot write (a :class:`SchemaValidationError`), and
    the size limit still applies. Do not change a record after wrapping it.
    """

    __slots__ = ("schema_name",)

    def __init__(self, record: Mapping[str, Any], schema_name: str) -> None:
        super().__init__(record)
        self.schema_name = schema_name


@dataclass(frozen=True)
class Receipt:
    """Proof that the broker stored a record: where it is, and which record it was."""

    topic: str
    partition: int
    offset: int
    record_id: str

    @property
    def submission_id(self) -> str:
        """The record's id: ``submission_id`` of a submission, ``event_id`` of an event."""
        return self.record_id


@dataclass(frozen=True)
class RejectedRecord:
    """A record of a batch that was not sent: it does not match the schema, or is too large.

    ``code`` is ``None`` for a schema mismatch (``errors`` names every bad field)
    and :data:`~schemas.limits.TOO_LARGE_CODE` for a record over the size limit
    (``errors`` holds one entry for the whole record, path ``""``).
    """

    index: int
    record_id: str | None
    errors: tuple[FieldError, ...]
    code: str | None = None

    def __str__(self) -> str:
        shown = "; ".join(str(error) for error in self.errors)
        return f"record {self.index} ({self.record_id or 'no id'}): {shown}"


BatchOutcome = Receipt | RejectedRecord


class Publisher(Protocol):
    """What callers of the SDK depend on (the gateway, the simulator, tests)."""

    topic: str

    def publish(self, record: Mapping[str, Any]) -> Receipt:
        """Validate, send and wait for the broker's acknowledgement."""
        ...

    def publish_batch(self, records: Sequence[Mapping[str, Any]]) -> list[BatchOutcome]:
        """Validate all, send the valid ones together, report each record's outcome."""
        ...

    def close(self) -> None:
        """Flush what is pending and release the connection."""
        ...


@dataclass(frozen=True)
class ProducerOptions:
    """How the producer talks to Kafka; the durability settings are not optional.

    ``timeout_ms`` bounds every wait: bootstrapping, metadata (``max_block_ms``),
    one request, and the whole delivery of a record. The gateway sets it low so
    a field app hears "try later" (503) quickly instead of hanging. After a failed
    connection attempt, publishing fails at once for ``reconnect_backoff_s``
    rather than queueing every caller behind another full timeout.

    ``security`` is how the producer logs in and encrypts
    (:class:`~streams.kafka_security.KafkaSecurity.from_settings`); a field app's
    principal may write the submissions topic and nothing else.
    """

    client_id: str = "regsosek-sdk"
    compression: str = "gzip"
    linger_ms: int = 5
    timeout_ms: int = 30_000
    reconnect_backoff_s: float = 2.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    security: KafkaSecurity = PLAINTEXT

    def producer_config(self, bootstrap: str) -> dict[str, Any]:
        """Keyword arguments for ``KafkaProducer``. Pure, so the choices are unit-tested."""
        return {
            "bootstrap_servers": bootstrap,
            "client_id": self.client_id,
            "acks": "all",  # every in-sync replica has it before we say "received"
            "enable_idempotence": True,  # producer retries never duplicate a record
            "compression_type": self.compression,
            "linger_ms": self.linger_ms,
            "bootstrap_timeout_ms": self.timeout_ms,
            "max_block_ms": self.timeout_ms,
            "request_timeout_ms": self.timeout_ms,
            # The producer resolves every future itself within this bound (Kafka
            # requires it to cover linger + one request).
            "delivery_timeout_ms": self.timeout_ms + self.linger_ms,
            # On purpose, not kafka-python's default (1 MiB): the same bound as the
            # worker's producers, see schemas/limits.py. Submissions are refused
            # well below it (MAX_SUBMISSION_BYTES) before they reach the producer.
            "max_request_size": MAX_RECORD_BYTES,
            **self.security.kafka_python(),
            **self.extra,
        }

    @property
    def wait_s(self) -> float:
        """How long ``publish`` waits for an acknowledgement: a little over the delivery bound."""
        return (self.timeout_ms + self.linger_ms) / 1000 + 5.0


class AvroPublisher:
    """Publishes records of one schema to one topic, keyed by one of their fields.

    ``max_value_bytes`` bounds a record's wire bytes: a larger one is refused
    before any Kafka call (:class:`RecordTooLargeError`). ``None`` leaves the
    bound to the producer's ``max_request_size``.
    """

    def __init__(
        self,
        bootstrap: str,
        registry: SchemaRegistry,
        *,
        topic: str,
        schema_name: str,
        key_field: str,
        id_field: str,
        options: ProducerOptions | None = None,
        max_value_bytes: int | None = None,
    ) -> None:
        self.topic = topic
        self.bootstrap = bootstrap
        self.options = options or ProducerOptions()
        self.serializer = AvroSerializer(registry, subject_for(schema_name), schema_name)
        self.max_value_bytes = max_value_bytes
        self._key_field = key_field
        self._id_field = id_field
        self._producer: Any = None
        self._lock = threading.Lock()
        self._retry_at = 0.0  # monotonic time before which no new connection is tried

    # --- lifecycle -------------------------------------------------------------------
    def connect(self) -> None:
        """Reach the broker now (raises PublishError) instead of at the first publish."""
        self._ensure_producer()

    def close(self) -> None:
        """Deliver what is pending (bounded by the timeout) and disconnect."""
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            producer.close(timeout=self.options.wait_s)

    def __enter__(self) -> Self:
        self.connect()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- publishing ------------------------------------------------------------------
    def encode(self, record: Mapping[str, Any]) -> tuple[bytes, bytes]:
        """(key, value) for ``record``, never touching Kafka.

        Raises SchemaValidationError naming every bad field, or RecordTooLargeError
        when the value is over ``max_value_bytes``. A :class:`CheckedRecord` of
        this publisher's schema is not validated again.
        """
        checked = (
            isinstance(record, CheckedRecord) and record.schema_name == self.serializer.schema_name
        )
        value = self.serializer.encode(record, validate=not checked)
        if self.max_value_bytes is not None and len(value) > self.max_value_bytes:
            raise RecordTooLargeError(
                len(value), self.max_value_bytes, self._id(record), self.serializer.schema_name
            )
        return str(record[self._key_field]).encode("utf-8"), value

    def publish(self, record: Mapping[str, Any]) -> Receipt:
        """Send one record and return once the broker acknowledged it.

        Raises SchemaValidationError or RecordTooLargeError (nothing was sent) or
        PublishError (the record may or may not be stored: send it again, it is
        deduplicated).
        """
        key, value = self.encode(record)
        producer = self._ensure_producer()
        try:
            future = producer.send(self.topic, key=key, value=value)
            metadata = future.get(timeout=self.options.wait_s)
        except KafkaError as exc:
            self._replace_if_expired(producer, exc)
            raise _publish_error(self.bootstrap, exc) from exc
        return Receipt(metadata.topic, metadata.partition, metadata.offset, self._id(record))

    def publish_batch(self, records: Sequence[Mapping[str, Any]]) -> list[BatchOutcome]:
        """Publish a backlog: one outcome per record, in the order given.

        Every record is validated and size-checked first; invalid or too large
        ones become :class:`RejectedRecord` and are not sent. The valid ones are sent
        together and flushed once. If the broker fails to acknowledge any of
        them, PublishError is raised with the outcomes known so far.
        """
        outcomes: list[Receipt | RejectedRecord | None] = [None] * len(records)
        ready: list[tuple[int, bytes, bytes]] = []
        for index, record in enumerate(records):
            try:
                key, value = self.encode(record)
            except SchemaValidationError as invalid:
                outcomes[index] = RejectedRecord(index, self._id(record), tuple(invalid.errors))
                continue
            except RecordTooLargeError as too_large:
                error = FieldError("", str(too_large))
                outcomes[index] = RejectedRecord(
                    index, self._id(record), (error,), code=too_large.code
                )
                continue
            ready.append((index, key, value))
        if ready:
            self._send_all(records, ready, outcomes)
        return [outcome for outcome in outcomes if outcome is not None]

    def _send_all(
        self,
        records: Sequence[Mapping[str, Any]],
        ready: list[tuple[int, bytes, bytes]],
        outcomes: list[Receipt | RejectedRecord | None],
    ) -> None:
        producer = self._ensure_producer()
        futures: list[tuple[int, Any]] = []
        failure: KafkaError | None = None
        for index, key, value in ready:
            try:
                futures.append((index, producer.send(self.topic, key=key, value=value)))
            except KafkaError as exc:
                failure = failure or exc
        try:
            producer.flush(timeout=self.options.wait_s)
        except KafkaError as exc:
            failure = failure or exc
        for index, future in futures:
            try:
                metadata = future.get(timeout=0.1 if failure else self.options.wait_s)
            except KafkaError as exc:
                failure = failure or exc
                continue
            rid = self._id(records[index])
            outcomes[index] = Receipt(metadata.topic, metadata.partition, metadata.offset, rid)
        if failure is not None:
            self._replace_if_expired(producer, failure)
            error = _publish_error(self.bootstrap, failure)
            sent = sum(isinstance(o, Receipt) for o in outcomes)
            raise PublishError(
                f"{len(ready) - sent} of {len(ready)} records not acknowledged: {error}",
                retriable=error.retriable,
                outcomes=outcomes,
            ) from failure

    # --- internals -------------------------------------------------------------------
    def _id(self, record: Mapping[str, Any]) -> str:
        value = record.get(self._id_field) if isinstance(record, Mapping) else None
        return value if isinstance(value, str) else ""

    def _replace_if_expired(self, producer: Any, failure: KafkaError) -> None:
        """Drop a producer whose records expired; the next publish makes a new one.

        kafka-python's idempotent producer can stay wedged on a partition whose
        leader died, expiring every record sent there long after the broker is
        back (seen in the chaos soak: a gateway's reviews for four minutes after
        a broker SIGKILL). A new producer starts with fresh connections,
        metadata and producer id; what the old one may still have written is
        deduplicated downstream (submission and review ids). It is closed in the
        background without waiting, so the caller's 503 is not delayed.
        """
        if not isinstance(failure, KafkaTimeoutError):
            return
        with self._lock:
            if self._producer is not producer:
                return  # another caller replaced it already
            self._producer = None
        threading.Thread(
            target=_close_quietly, args=(producer,), name="regsosek-producer-close", daemon=True
        ).start()

    def _ensure_producer(self) -> Any:
        with self._lock:
            if self._producer is not None:
                return self._producer
            if time.monotonic() < self._retry_at:
                raise PublishError(f"Kafka at {self.bootstrap} was unreachable moments ago")
            try:
                self._producer = KafkaProducer(**self.options.producer_config(self.bootstrap))
            except KafkaError as exc:
                self._retry_at = time.monotonic() + self.options.reconnect_backoff_s
                raise _publish_error(self.bootstrap, exc) from exc
            return self._producer


class SubmissionPublisher(AvroPublisher):
    """Household submissions to ``regsosek.submissions``, keyed by ``household_id``.

    A submission over :data:`~schemas.limits.MAX_SUBMISSION_BYTES` on the wire is
    refused before sending, so the worker can always republish (and quarantine)
    what this publisher sent.
    """

    def __init__(
        self,
        bootstrap: str,
        registry: SchemaRegistry,
        *,
        topic: str = SUBMISSIONS,
        options: ProducerOptions | None = None,
    ) -> None:
        super().__init__(
            bootstrap,
            registry,
            topic=topic,
            schema_name="HouseholdSubmission",
            key_field="household_id",
            id_field="submission_id",
            options=options,
            max_value_bytes=MAX_SUBMISSION_BYTES,
        )


class EnumeratorEventPublisher(AvroPublisher):
    """Enumerator events to ``regsosek.enumerator-events``, keyed by ``enumerator_id``."""

    def __init__(
        self,
        bootstrap: str,
        registry: SchemaRegistry,
        *,
        topic: str = ENUMERATOR_EVENTS,
        options: ProducerOptions | None = None,
    ) -> None:
        super().__init__(
            bootstrap,
            registry,
            topic=topic,
            schema_name="EnumeratorEvent",
            key_field="enumerator_id",
            id_field="event_id",
            options=options,
        )


class ReviewPublisher(AvroPublisher):
    """Supervisors' review decisions to ``regsosek.reviews``, keyed by ``household_id``.

    The key puts a household's reviews on the partition number of its
    submissions, where the worker holding its dedup state judges them. The
    receipt's ``record_id`` is the ``review_id``; a resend keeps it, and the
    reviews table keeps one row per review.
    """

    def __init__(
        self,
        bootstrap: str,
        registry: SchemaRegistry,
        *,
        topic: str = REVIEWS,
        options: ProducerOptions | None = None,
    ) -> None:
        super().__init__(
            bootstrap,
            registry,
            topic=topic,
            schema_name="ReviewDecision",
            key_field="household_id",
            id_field="review_id",
            options=options,
        )


def _publish_error(bootstrap: str, exc: KafkaError) -> PublishError:
    """One readable line for a Kafka failure; retriable unless Kafka says otherwise."""
    retriable = bool(getattr(exc, "retriable", True))
    text = str(exc) or type(exc).__name__
    return PublishError(f"Kafka at {bootstrap} did not acknowledge: {text}", retriable=retriable)


def _close_quietly(producer: Any) -> None:
    """Close an abandoned producer without waiting for what it could not deliver."""
    try:
        producer.close(timeout=0)
    except Exception as exc:  # an abandoned client may raise anything while closing
        log.debug("closing an abandoned producer: %r", exc)

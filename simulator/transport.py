"""How the simulated tablets reach the platform: the Python SDK, or the HTTP gateway.

The I/O edge of the simulator. A transport takes a group of dispatches that
are due, sends them, and returns the messages that were *acknowledged* (the
broker's ``acks=all`` for the SDK, a 202 item result for the gateway), which
is what the ground truth counts.

* :class:`SdkTransport` (``--via sdk``, the default): one kafka-python
  producer with the SDK's own settings (:class:`streams.sdk.ProducerOptions`:
  ``acks=all``, idempotent, gzip), current-schema records encoded by the SDK's
  serializer, old-app records by :class:`~schemas.serde.AvroSerializer` with
  ``version=1`` (the released schema v1), corrupt bytes sent as they are. One
  producer keeps every household's messages in order on its partition. With
  ``validate=True`` the current-schema records go through
  :meth:`SubmissionPublisher.publish_batch <streams.sdk.AvroPublisher.publish_batch>`
  instead, every record checked field by field as a field app's would be (a
  third fewer households per second; the simulator's records are unit-tested
  to be valid, so that check is off by default). Supervisors' reviews go
  through the SDK's :class:`~streams.sdk.ReviewPublisher` to the reviews topic,
  paradata events through its :class:`~streams.sdk.EnumeratorEventPublisher`
  (in both modes: the gateway has no events endpoint).
* :class:`~simulator.gateway_client.HttpTransport` (``--via http``):
  the HTTP gateway, see that module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas.catalog import subject_for
from schemas.errors import BrokerError
from schemas.registry import SchemaRegistry
from schemas.serde import AvroSerializer
from simulator.scenario import Dispatch, Message, MessageKind
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.sdk import (
    AvroPublisher,
    EnumeratorEventPublisher,
    ProducerOptions,
    PublishError,
    Receipt,
    ReviewPublisher,
    SubmissionPublisher,
)

SCHEMA = "HouseholdSubmission"


class DeliveryError(BrokerError):
    """Some messages were not acknowledged; ``acknowledged`` lists those that were."""

    def __init__(self, message: str, acknowledged: Sequence[Message]) -> None:
        super().__init__(message)
        self.acknowledged = list(acknowledged)


class Transport(Protocol):
    """What the runner needs from a way of sending."""

    via: str
    notes: list[str]

    @property
    def retries(self) -> dict[str, int]:
        """Requests sent again after a "not now" answer, by reason (empty when none)."""
        ...

    def send(self, dispatches: Sequence[Dispatch]) -> list[Message]:
        """Send every message of ``dispatches`` in order; return those acknowledged so far.

        The acknowledgements may belong to earlier calls: a transport may keep
        one group in flight while the caller prepares the next.
        """
        ...

    def drain(self) -> list[Message]:
        """Wait for everything still in flight; return what was acknowledged."""
        ...

    def close(self) -> None:
        """Disconnect (call :meth:`drain` first to count what is in flight)."""
        ...


def producer_options(
    timeout_ms: int = 30_000, *, security: KafkaSecurity = PLAINTEXT
) -> ProducerOptions:
    """The SDK's producer settings, with a longer linger and larger batches: it sends in bulk.

    ``security`` is the field apps' login (``KafkaSecurity.from_settings``): on a
    secured cluster the simulator is a field app, the ``field`` principal, which
    may write the submissions topic and nothing else.
    """
    return ProducerOptions(
        client_id="regsosek-simulator",
        linger_ms=20,
        timeout_ms=timeout_ms,
        extra={"batch_size": 256 * 1024},
        security=security,
    )


class RawKafka:
    """Framed bytes to one topic through one SDK-configured producer, one group in flight.

    :meth:`send` hands a group to the producer and returns the *previous*
    group's acknowledged messages, so the next group is generated and encoded
    while the producer's thread compresses and ships this one; :meth:`drain`
    waits for whatever is still in flight.
    """

    def __init__(self, bootstrap: str, topic: str, options: ProducerOptions) -> None:
        self.topic = topic
        self.options = options
        try:
            self._producer = KafkaProducer(**options.producer_config(bootstrap))
        except KafkaError as exc:
            raise BrokerError(f"Kafka at {bootstrap} is unreachable: {exc}") from exc
        self._in_flight: list[tuple[Message, Any]] = []

    def send(self, items: Sequence[tuple[Message, bytes]]) -> list[Message]:
        acknowledged = self.drain(flush=False)
        for message, value in items:
            key = message.household_id.encode("utf-8")
            self._in_flight.append((message, self._producer.send(self.topic, key=key, value=value)))
        return acknowledged

    def drain(self, *, flush: bool = True) -> list[Message]:
        """Wait for the messages in flight; raise DeliveryError if any was not acknowledged."""
        futures, self._in_flight = self._in_flight, []
        if flush and futures:
            self._producer.flush(timeout=self.options.wait_s)
        acknowledged, failure = [], None
        for message, future in futures:
            try:
                future.get(timeout=self.options.wait_s)
            except KafkaError as exc:
                failure = failure or exc
                continue
            acknowledged.append(message)
        if failure is not None:
            missing = len(futures) - len(acknowledged)
            raise DeliveryError(
                f"Kafka did not acknowledge {missing} message(s): {failure}", acknowledged
            )
        return acknowledged

    def close(self) -> None:
        self._producer.close(timeout=self.options.wait_s)


class SdkTransport:
    """Field apps on the Python SDK (see the module docstring)."""

    via = "sdk"

    def __init__(
        self,
        bootstrap: str,
        registry: SchemaRegistry,
        topic: str,
        *,
        validate: bool = False,
        options: ProducerOptions | None = None,
        reviews_topic: str | None = None,
        events: EnumeratorEventPublisher | None = None,
    ) -> None:
        self.notes: list[str] = []
        self.events = events
        self.options = options or producer_options()
        self.raw = RawKafka(bootstrap, topic, self.options)
        subject = subject_for(SCHEMA)
        self.current = AvroSerializer(registry, subject, SCHEMA)
        self.old = AvroSerializer(registry, subject, SCHEMA, version=1)
        self.publisher = (
            SubmissionPublisher(bootstrap, registry, topic=topic, options=self.options)
            if validate
            else None
        )
        self.reviewer = (
            ReviewPublisher(bootstrap, registry, topic=reviews_topic, options=self.options)
            if reviews_topic is not None
            else None
        )

    @property
    def retries(self) -> dict[str, int]:
        """None visible: the producer's own retries are idempotent and inside kafka-python."""
        return {}

    @property
    def schema_id(self) -> int:
        """The registry id of the current schema (corrupt bodies carry it in their header)."""
        return self.current.schema_id

    def send(self, dispatches: Sequence[Dispatch]) -> list[Message]:
        raw: list[tuple[Message, bytes]] = []
        checked: list[Message] = []
        reviews: list[Message] = []
        events: list[Message] = []
        for dispatch in dispatches:
            for message in dispatch.messages:
                if message.kind is MessageKind.REVIEW:
                    reviews.append(message)
                elif message.kind is MessageKind.EVENT:
                    events.append(message)
                elif message.payload is not None:
                    raw.append((message, message.payload))
                elif message.schema_version == 1:
                    raw.append((message, self.old.encode(record_of(message), validate=False)))
                elif self.publisher is not None:
                    checked.append(message)
                else:
                    raw.append((message, self.current.encode(record_of(message), validate=False)))
        acknowledged = self._publish_checked(checked) if checked else []
        acknowledged += self.raw.send(raw)
        if reviews:
            acknowledged += publish_through(self.reviewer, reviews, "reviews")
        if events:
            acknowledged += publish_through(self.events, events, "paradata events")
        return acknowledged

    def _publish_checked(self, messages: list[Message]) -> list[Message]:
        assert self.publisher is not None  # noqa: S101 - only called in validate mode
        outcomes = self.publisher.publish_batch([record_of(m) for m in messages])
        receipts = [m for m, o in zip(messages, outcomes, strict=True) if isinstance(o, Receipt)]
        if len(receipts) != len(messages):
            raise DeliveryError("the SDK refused generated records (a simulator bug)", receipts)
        return receipts

    def drain(self) -> list[Message]:
        return self.raw.drain()

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()
        if self.reviewer is not None:
            self.reviewer.close()
        if self.events is not None:
            self.events.close()
        self.raw.close()


def record_of(message: Message) -> dict[str, Any]:
    """The record a message carries (every message except corrupt bytes has one)."""
    if message.record is None:
        raise ValueError(f"message of {message.household_id} has no record")
    return message.record


def publish_through(
    publisher: AvroPublisher | None, messages: list[Message], what: str
) -> list[Message]:
    """``messages`` through an SDK publisher, acknowledged before this returns."""
    if publisher is None:
        raise DeliveryError(f"{what} to send but no topic for them (a simulator bug)", [])
    try:
        outcomes = publisher.publish_batch([record_of(m) for m in messages])
    except PublishError as exc:
        raise DeliveryError(f"{what} not acknowledged: {exc}", []) from exc
    receipts = [m for m, o in zip(messages, outcomes, strict=True) if isinstance(o, Receipt)]
    if len(receipts) != len(messages):
        raise DeliveryError(f"the SDK refused generated {what} (a simulator bug)", receipts)
    return receipts

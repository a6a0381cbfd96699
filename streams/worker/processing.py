"""The processing agent: ``regsosek.submissions`` → valid / rejected topics.

Thin on purpose: it turns Faust events into :class:`RawSubmission`, runs the
pure :class:`Pipeline` in a worker thread (a batch is CPU work; the event loop
must keep fetching and heart-beating meanwhile), publishes the results, waits
for the broker's acknowledgements, and only then writes the dedup state. Faust
acks the batch's offsets after :meth:`handle` returns, so a crash anywhere in
here replays the batch rather than losing it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from processors.dedup import HouseholdState
from processors.pipeline import Accepted, BatchResult, Pipeline, RawSubmission, Rejected
from processors.records import rejection
from processors.rules import RULES_BY_CODE, InMemoryNikIndex
from schemas.errors import SchemaValidationError
from streams.worker.observer import WorkerObserver

log = logging.getLogger(__name__)

Encoder = Callable[[dict[str, Any]], bytes]


@dataclass
class Encoded:
    """A processed batch, ready to publish: (key, value) pairs per output topic."""

    result: BatchResult
    valid: list[tuple[bytes, bytes]]
    rejected: list[tuple[bytes | None, bytes]]


def _unencodable(
    accepted: Accepted,
    error: SchemaValidationError,
    messages: dict[tuple[int, int], RawSubmission],
    now: datetime,
) -> Rejected:
    """A rejection carrying the original bytes of a submission whose output would not encode."""
    origin = accepted.source
    msg = messages[origin]
    finding = RULES_BY_CODE["ENRICHED_RECORD_INVALID"].finding(None, error=str(error)[:200])
    submission = accepted.record["submission"]
    record = rejection(
        msg.value,
        msg.topic,
        msg.partition,
        msg.offset,
        now,
        [finding],
        submission,
        None,
        key=accepted.household_id,
        district=accepted.district,
    )
    return Rejected(accepted.household_id, record, (finding.code,), accepted.district)


def to_raw(event: Any) -> RawSubmission:
    """A Faust event as the pipeline's input record."""
    message = event.message
    return RawSubmission(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value if isinstance(message.value, bytes) else bytes(message.value or b""),
        timestamp=datetime.fromtimestamp(message.timestamp or 0, tz=UTC),
    )


class ProcessingStage:
    """Runs the pipeline on each batch and publishes what it decided."""

    def __init__(
        self,
        *,
        pipeline: Pipeline,
        table: Any,
        valid_topic: Any,
        rejected_topic: Any,
        encode_valid: Encoder,
        encode_rejected: Encoder,
        observer: WorkerObserver,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        nik_index: InMemoryNikIndex | None = None,
    ) -> None:
        self._pipeline = pipeline
        self._table = table
        self._valid_topic = valid_topic
        self._rejected_topic = rejected_topic
        self._encode_valid = encode_valid
        self._encode_rejected = encode_rejected
        self._observer = observer
        self._clock = clock
        self._nik_index = nik_index

    def _lookup(self, household_id: str) -> HouseholdState | None:
        return HouseholdState.from_json(self._table.get(household_id.encode()))

    def process(self, messages: Sequence[RawSubmission]) -> Encoded:
        """CPU part of a batch: decide and encode (runs in a thread)."""
        now = self._clock()
        result = self._pipeline.run(messages, self._lookup, now)
        valid: list[tuple[bytes, bytes]] = []
        by_offset = {(m.partition, m.offset): m for m in messages}
        for accepted in list(result.valid):
            try:
                valid.append((accepted.household_id.encode(), self._encode_valid(accepted.record)))
            except SchemaValidationError as exc:  # a bug upstream: reject, never crash-loop
                log.error("processed record of %s does not encode: %s", accepted.household_id, exc)
                result.valid.remove(accepted)
                result.rejected.append(_unencodable(accepted, exc, by_offset, now))
        rejected = [
            (r.household_id.encode() if r.household_id else None, self._encode_rejected(r.record))
            for r in result.rejected
        ]
        return Encoded(result, valid, rejected)

    def _remember_niks(self, result: BatchResult) -> None:
        """Accepted members' NIKs, so a NIK turning up in another household is flagged."""
        if self._nik_index is None:
            return
        for accepted in result.valid:
            for member in accepted.record["submission"]["members"]:
                if member.get("nik"):
                    self._nik_index.add(member["nik"], accepted.household_id)

    async def handle(self, events: Sequence[Any]) -> None:
        """One ``take_events`` batch, end to end."""
        started = asyncio.get_running_loop().time()
        messages = [to_raw(event) for event in events]
        encoded = await asyncio.to_thread(self.process, messages)
        pending = [
            await self._valid_topic.send(key=key, value=value) for key, value in encoded.valid
        ]
        pending += [
            await self._rejected_topic.send(key=key, value=value) for key, value in encoded.rejected
        ]
        await asyncio.gather(*pending)  # every output acknowledged before state and offsets move
        for household_id, state in encoded.result.states.items():
            self._table[household_id.encode()] = state.to_json()
        self._remember_niks(encoded.result)
        elapsed = asyncio.get_running_loop().time() - started
        self._observer.on_processed(len(messages), encoded.result, elapsed)

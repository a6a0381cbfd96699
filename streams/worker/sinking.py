"""The sink agents: valid and rejected topics → ClickHouse, offsets only after a write.

Each ``take_events`` batch becomes one insert per table, tagged with an
insert-deduplication token built from the batch's (partition, offset range)
pairs, so a retried insert of the same batch is a no-op in ClickHouse. When
ClickHouse keeps failing, :meth:`SinkStage.write` keeps the batch and retries
with a capped backoff instead of acking it: Faust stops fetching once the
stream buffer is full, which is the backpressure we want: nothing is dropped,
nothing is buffered without bound, and the worker does not crash-loop.
All ClickHouse calls go through one thread: the embedded engine is one
in-process server, and serialising its callers keeps it simple and safe.
"""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from processors.records import rejection_for_decode_error
from processors.regions import RegionMaster
from schemas.errors import DecodeError
from sinks.rows import Block, household_blocks, rejection_block
from sinks.writer import ClickHouseWriter, SinkUnavailable, dedup_token
from streams.worker.observer import WorkerObserver

log = logging.getLogger(__name__)

Decoder = Callable[[bytes], dict[str, Any]]
MAX_BACKOFF_S = 30.0


def batch_token(events: Sequence[Any]) -> str:
    """Deterministic for the same batch: topic and every partition's offset range.

    A range names its offsets only when the batch holds all of them. A batch
    with a hole (a consumer bug, a redelivery) gets a digest of its offsets
    added, so ClickHouse cannot mistake it for the complete batch of the same
    range and drop the complete one as its duplicate.
    """
    offsets: dict[tuple[str, int], set[int]] = {}
    for event in events:
        message = event.message
        offsets.setdefault((message.topic, message.partition), set()).add(message.offset)
    parts = []
    for (topic, partition), seen in sorted(offsets.items()):
        low, high = min(seen), max(seen)
        token = dedup_token(topic, partition, low, high)
        if len(seen) != high - low + 1:
            digest = zlib.crc32(",".join(map(str, sorted(seen))).encode())
            token = f"{token}~{len(seen)}:{digest:08x}"
        parts.append(token)
    return "|".join(parts)


class SinkStage:
    """Decode, build blocks, write with retries; one instance per worker."""

    def __init__(
        self,
        *,
        writer: ClickHouseWriter,
        executor: ThreadPoolExecutor,
        decode_valid: Decoder,
        decode_rejection: Decoder,
        nik_key: bytes,
        observer: WorkerObserver,
        regions: RegionMaster | None = None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self._writer = writer
        self._executor = executor
        self._decode_valid = decode_valid
        self._decode_rejection = decode_rejection
        self._nik_key = nik_key
        self._observer = observer
        self._regions = regions
        self._should_stop = should_stop

    def _pause(self, seconds: float) -> bool:
        """Sleep between retry rounds; True when the worker is stopping meanwhile."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._should_stop():
                return True
            time.sleep(0.1)
        return self._should_stop()

    async def handle_valid(self, events: Sequence[Any]) -> None:
        """A batch of ValidatedSubmission messages → households and members."""
        records, broken = self._decode_all(events, self._decode_valid)
        now = datetime.now(UTC)
        blocks = household_blocks(
            records, nik_key=self._nik_key, written_at=now, regions=self._regions
        )
        if broken:
            blocks.append(rejection_block(broken, written_at=now, regions=self._regions))
        await self._write("households", blocks, batch_token(events))

    async def handle_rejected(self, events: Sequence[Any]) -> None:
        """A batch of Rejection messages → the rejections table."""
        records, broken = self._decode_all(events, self._decode_rejection)
        block = rejection_block(
            records + broken, written_at=datetime.now(UTC), regions=self._regions
        )
        await self._write("rejections", [block], batch_token(events))

    def _decode_all(
        self, events: Sequence[Any], decode: Decoder
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Decoded records, and rejections for the ones that do not decode.

        Our own topics should never hold undecodable bytes; if they do, the
        message becomes a visible rejection row instead of a stuck worker.
        """
        records: list[dict[str, Any]] = []
        broken: list[dict[str, Any]] = []
        for event in events:
            message = event.message
            try:
                records.append(decode(message.value))
            except DecodeError as exc:
                log.error(
                    "undecodable message on %s[%d]@%d: %s",
                    message.topic,
                    message.partition,
                    message.offset,
                    exc,
                )
                broken.append(
                    rejection_for_decode_error(
                        message.value,
                        message.topic,
                        message.partition,
                        message.offset,
                        datetime.now(UTC),
                        exc,
                    )
                )
        return records, broken

    async def _write(self, label: str, blocks: list[Block], token: str) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        attempts = await loop.run_in_executor(
            self._executor, self._write_until_done, label, blocks, token
        )
        seconds = loop.time() - started
        for block in blocks:  # one insert per table: report each table's batch size
            self._observer.on_sink_batch(block.table, len(block.rows), seconds, attempts)

    def _write_until_done(self, label: str, blocks: list[Block], token: str) -> int:
        """Retry the same blocks under the same token until ClickHouse takes them."""
        pause = 1.0
        rounds = 0
        while True:
            try:
                result = self._writer.write(blocks, token)
            except SinkUnavailable as exc:
                rounds += 1
                self._observer.on_sink_failure(label, str(exc))
                log.warning(
                    "ClickHouse unavailable for %s (round %d), holding the batch: %s",
                    label,
                    rounds,
                    exc,
                )
                if self._pause(pause):
                    raise  # shutting down: the agent exits unacked (unacked_on_failure)
                pause = min(pause * 2, MAX_BACKOFF_S)
                continue
            if rounds:
                self._observer.on_sink_recovered(label)
            return int(result.attempts) + rounds

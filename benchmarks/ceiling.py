"""The product row path: consume, decode, build rows, insert; no rules, dedup or enrichment.

Called the ceiling before issue #12; the report labels it "product row path":
the product's own code (decoder, row building, writer) for the part of the
work every contender does, beside :mod:`benchmarks.bare` (no product code)
and :mod:`benchmarks.faust_plain` (a plain Faust agent).

Run as a child process (``python -m benchmarks.ceiling``) so it opens its own
embedded engine directory. It reads the same submissions topic the worker
just processed, from the beginning of every partition, with aiokafka's
``getmany`` in batches of the worker's insert batch; decodes with the project's
:class:`AvroDeserializer`; wraps each record as a minimal ValidatedSubmission
(enrichment all nulls, no warnings); builds rows with
:func:`sinks.rows.household_blocks`; and inserts with :class:`ClickHouseWriter`
under the same deduplication tokens, one insert in flight on a thread while
the next batch is decoded. What the pipeline adds on top of this is the
price of its rules, dedup state, enrichment, second Avro hop and Faust.

Prints one JSON object on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from schemas.regions import DEFAULT_REGIONS_FILE, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer
from sinks.clickhouse import client_from_dsn
from sinks.migrations import migrate
from sinks.rows import household_blocks
from sinks.writer import ClickHouseWriter, dedup_token
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings

DATABASE = "regsosek"
COUNT_SQL = "SELECT count() FROM regsosek.households FINAL"


@dataclass
class CeilingResult:
    """What the raw path did, timed from its first fetched batch to its last insert."""

    households: int
    members: int
    seconds: float
    first: float
    last: float
    cpu_seconds: float
    peak_rss_mb: float
    stored_households: int
    clickhouse_version: str


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _token(batches: dict[Any, list[Any]]) -> str:
    return "|".join(
        dedup_token(tp.topic, tp.partition, records[0].offset, records[-1].offset)
        for tp, records in sorted(batches.items(), key=lambda item: item[0].partition)
        if records
    )


async def run(args: argparse.Namespace) -> CeilingResult:
    """Consume ``args.expect`` messages and write them; returns the timings."""
    client = client_from_dsn(args.dsn)
    migrate(client, database=DATABASE)
    version = str(client.query("SELECT version()").result_rows[0][0])
    writer = ClickHouseWriter(client, DATABASE)
    decode = AvroDeserializer(LocalRegistry(), "HouseholdSubmission").decode
    regions = load_regions(DEFAULT_REGIONS_FILE)
    nik_key = args.nik_key.encode()
    consumer = AIOKafkaConsumer(  # no group: every partition, from the earliest offset
        args.topic,
        bootstrap_servers=args.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        # the same REGSOSEK_KAFKA_* security as the platform's clients (PLAINTEXT by default)
        **KafkaSecurity.from_settings(Settings()).aiokafka(),
    )
    await consumer.start()
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    try:
        seen = members = 0
        first = cpu_first = 0.0
        pending: Future[Any] | None = None
        deadline = time.monotonic() + args.timeout
        while seen < args.expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=args.batch)
            values = [record.value for records in batches.values() for record in records]
            if not values:
                continue
            if not first:
                first, cpu_first = time.time(), _cpu()
            validated: list[dict[str, Any]] = [
                {"submission": decode(value), "enrichment": None, "warnings": []}
                for value in values
            ]
            blocks = household_blocks(
                validated, nik_key=nik_key, written_at=datetime.now(UTC), regions=regions
            )
            if pending is not None:
                pending.result()
            pending = executor.submit(writer.write, blocks, _token(batches))
            seen += len(values)
            members += len(blocks[1].rows)
        if pending is not None:
            pending.result()
        last = time.time()
        cpu = _cpu() - cpu_first
    finally:
        await consumer.stop()
        executor.shutdown()
    stored = int(client.query(COUNT_SQL).result_rows[0][0])
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return CeilingResult(seen, members, last - first, first, last, cpu, peak_mb, stored, version)


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments the benchmark passes, run, print the result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--dsn", required=True, help="chdb:///fresh/directory")
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--nik-key", default="change-me")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)
    Path(args.dsn.removeprefix("chdb://")).mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(asdict(result)) + "\n")  # the parent reads this line


if __name__ == "__main__":
    main()

"""The bare path: consume, decode, narrow rows, insert, with no code of the product.

Run as a child process (``python -m benchmarks.bare``). It is the yardstick of
issue #12: what a minimal consumer written from scratch does on the same
topic, the same broker and the same machine. It imports nothing from the
project's packages (streams, schemas, processors, sinks, monitoring): only
aiokafka, fastavro and clickhouse-connect, and the schema is read from
``schemas/HouseholdSubmission.avsc`` as a JSON file.

* aiokafka ``getmany`` in batches (no consumer group: every partition from
  its earliest offset);
* fastavro ``schemaless_reader`` after the 5-byte Confluent header;
* narrow rows built as columns: a ``households`` table (household_id,
  revision, district and village codes, enumerator_id, finished_at, member
  count) and a ``members`` table (household_id, member_number, sex, age);
* ``client.insert`` into ReplacingMergeTree tables of a fresh embedded engine
  (``chdb:///<directory>``), one insert in flight on a thread while the next
  batch is decoded (as the product's row path does).

Timed from its first fetched batch to the return of its last insert; CPU from
``getrusage`` (all threads, the engine's included) over the same window.
Prints one JSON object on stdout, the shape of :mod:`benchmarks.ceiling`'s.

:mod:`benchmarks.faust_plain` runs the same helpers inside a plain Faust agent.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import resource
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import clickhouse_connect
import fastavro
from aiokafka import AIOKafkaConsumer
from clickhouse_connect.driver.client import Client

from benchmarks.kafka_login import aiokafka_options

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schemas" / "HouseholdSubmission.avsc"
CONFLUENT_HEADER = 5  # magic byte 0 + 4-byte schema id
DATABASE = "bare"
HOUSEHOLD_COLUMNS = (
    "household_id",
    "revision",
    "district_code",
    "village_code",
    "enumerator_id",
    "finished_at",
    "member_count",
)
MEMBER_COLUMNS = ("household_id", "member_number", "sex", "age")
DDL = (
    f"CREATE DATABASE IF NOT EXISTS {DATABASE}",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.households (
        household_id String,
        revision UInt32,
        district_code LowCardinality(String),
        village_code LowCardinality(String),
        enumerator_id String,
        finished_at DateTime64(3, 'UTC'),
        member_count UInt16
    ) ENGINE = ReplacingMergeTree(revision) ORDER BY household_id""",
    f"""CREATE TABLE IF NOT EXISTS {DATABASE}.members (
        household_id String,
        member_number UInt16,
        sex LowCardinality(Nullable(String)),
        age Nullable(UInt16)
    ) ENGINE = ReplacingMergeTree ORDER BY (household_id, member_number)""",
)
COUNT_SQL = "SELECT count() FROM bare.households FINAL"


@dataclass
class ContenderResult:
    """What a contender did, timed from its first fetched batch to its last insert.

    The same fields as :class:`benchmarks.ceiling.CeilingResult`, so the
    parent reads every contender's line the same way.
    """

    households: int
    members: int
    seconds: float
    first: float
    last: float
    cpu_seconds: float
    peak_rss_mb: float
    stored_households: int
    clickhouse_version: str


def cpu_seconds() -> float:
    """User + system CPU seconds of this process, all threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def peak_rss_mb() -> float:
    """Peak resident memory of this process (ru_maxrss, KiB on Linux), MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Decoder:
    """Confluent-framed Avro values to dicts, with the schema file parsed once."""

    def __init__(self, schema_file: Path = SCHEMA_FILE) -> None:
        self.schema = fastavro.parse_schema(json.loads(schema_file.read_text()))

    def __call__(self, value: bytes) -> dict[str, Any]:
        buffer = io.BytesIO(value)
        buffer.seek(CONFLUENT_HEADER)
        return cast(dict[str, Any], fastavro.schemaless_reader(buffer, self.schema))


def narrow_columns(
    records: Sequence[dict[str, Any]],
) -> tuple[list[list[Any]], list[list[Any]]]:
    """The households and members columns (in ``*_COLUMNS`` order) of decoded records."""
    h_id: list[str] = []
    h_revision: list[int] = []
    h_district: list[str] = []
    h_village: list[str] = []
    h_enumerator: list[str] = []
    h_finished: list[Any] = []
    h_members: list[int] = []
    m_household: list[str] = []
    m_number: list[int] = []
    m_sex: list[str | None] = []
    m_age: list[int | None] = []
    for record in records:
        household_id = record["household_id"]
        location = record["location"]
        enumeration = record["enumeration"]
        members = record["members"]
        district = location["province_code"] + location["regency_code"] + location["district_code"]
        h_id.append(household_id)
        h_revision.append(record["revision"])
        h_district.append(district)
        h_village.append(district + location["village_code"])
        h_enumerator.append(enumeration["enumerator_id"])
        h_finished.append(enumeration["finished_at"])
        h_members.append(len(members))
        for member in members:
            m_household.append(household_id)
            m_number.append(member["member_number"])
            m_sex.append(member["sex"])
            m_age.append(member["age"])
    households: list[list[Any]] = [
        h_id,
        h_revision,
        h_district,
        h_village,
        h_enumerator,
        h_finished,
        h_members,
    ]
    return households, [m_household, m_number, m_sex, m_age]


def open_engine(directory: Path) -> tuple[Client, str]:
    """A clickhouse-connect client on a fresh embedded engine with the narrow tables."""
    directory.mkdir(parents=True, exist_ok=True)
    client = clickhouse_connect.get_client(dsn=f"chdb://{directory.resolve()}")
    for statement in DDL:
        client.command(statement)
    version = str(client.query("SELECT version()").result_rows[0][0])
    return client, version


def insert(client: Client, households: list[list[Any]], members: list[list[Any]]) -> None:
    """Both tables, column-oriented, households first."""
    client.insert(
        f"{DATABASE}.households",
        households,
        column_names=HOUSEHOLD_COLUMNS,
        column_oriented=True,
    )
    if members and members[0]:
        client.insert(
            f"{DATABASE}.members", members, column_names=MEMBER_COLUMNS, column_oriented=True
        )


def stored_households(client: Client) -> int:
    """Distinct households in the engine."""
    return int(client.query(COUNT_SQL).result_rows[0][0])


class Inserter:
    """One insert in flight on a thread while the event loop decodes the next batch."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
        self.pending: asyncio.Future[None] | None = None

    async def submit(self, households: list[list[Any]], members: list[list[Any]]) -> None:
        """Wait for the previous insert, then start this one."""
        await self.drain()
        loop = asyncio.get_running_loop()
        self.pending = loop.run_in_executor(self.executor, insert, self.client, households, members)

    async def drain(self) -> None:
        """Until the insert in flight (if any) returned; raises its error."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            await pending

    def close(self) -> None:
        self.executor.shutdown()


async def run(args: argparse.Namespace) -> ContenderResult:
    """Consume ``args.expect`` messages and write them; returns the timings."""
    client, version = open_engine(Path(args.directory))
    decode = Decoder()
    consumer = AIOKafkaConsumer(  # no group: every partition, from the earliest offset
        args.topic,
        bootstrap_servers=args.bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        # the same REGSOSEK_KAFKA_* security as the platform's clients (PLAINTEXT by default)
        **aiokafka_options(),
    )
    await consumer.start()
    inserter = Inserter(client)
    try:
        seen = members = 0
        first = cpu_first = 0.0
        deadline = time.monotonic() + args.timeout
        while seen < args.expect and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500, max_records=args.batch)
            values = [record.value for records in batches.values() for record in records]
            if not values:
                continue
            if not first:
                first, cpu_first = time.time(), cpu_seconds()
            households, member_columns = narrow_columns([decode(value) for value in values])
            await inserter.submit(households, member_columns)
            seen += len(values)
            members += len(member_columns[0])
        await inserter.drain()
        last = time.time()
        cpu = cpu_seconds() - cpu_first
    finally:
        await consumer.stop()
        inserter.close()
    stored = stored_households(client)
    return ContenderResult(
        seen, members, last - first, first, last, cpu, peak_rss_mb(), stored, version
    )


def arguments(description: str | None) -> argparse.ArgumentParser:
    """The arguments the benchmark passes to every contender."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--directory", required=True, help="a fresh engine directory")
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=600.0)
    return parser


def emit(result: ContenderResult) -> None:
    """The result as one JSON line on stdout (the parent reads the last such line)."""
    sys.stdout.write(json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> None:
    """Parse the arguments the benchmark passes, run, print the result as JSON."""
    args = arguments(__doc__).parse_args(argv)
    emit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()

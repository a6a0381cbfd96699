"""Bytes per household on the wire and in ClickHouse, for the capacity model.

The capacity model (:mod:`benchmarks.capacity`) sizes brokers by bytes and
ClickHouse shards by storage; both need a figure per household that the
throughput benchmark does not record. This measures them on the benchmark's
own households (:mod:`benchmarks.workload`, four members each) in a few
seconds of one core, with no broker:

* the Kafka key and the ``HouseholdSubmission`` value as produced (wire
  format, before the producer's compression);
* the ``ValidatedSubmission`` the worker republishes to ``.valid``
  (the submission plus enrichment, no warnings);
* the project's ``households`` and ``members`` tables after the rows of
  ``--households`` households were inserted with :class:`ClickHouseWriter`
  into a fresh embedded engine and merged (``OPTIMIZE ... FINAL``):
  compressed and uncompressed bytes over the active parts.

Caveat written into the JSON: the households are copies of one family with
their own ids and NIKs, so ClickHouse compresses them better than real
answers; the model uses the uncompressed figure for that reason.

``python -m benchmarks.sizes`` writes ``benchmarks/results/sizes.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.workload import Jember, household
from processors.enrich import enrich
from processors.location import resolve_location
from processors.rules import InMemoryNikIndex, RuleContext
from schemas.catalog import subject_for
from schemas.frame import Frame
from schemas.regions import load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from sinks.clickhouse import client_from_dsn
from sinks.migrations import migrate
from sinks.rows import household_blocks
from sinks.writer import ClickHouseWriter, dedup_token

DATABASE = "regsosek"
DEFAULT_OUTPUT = Path(__file__).parent / "results" / "sizes.json"
PARTS_SQL = (
    "SELECT table, sum(bytes_on_disk), sum(data_uncompressed_bytes), sum(rows) "
    "FROM system.parts WHERE database = %(db)s AND active AND table IN ('households', 'members') "
    "GROUP BY table"
)
BATCH = 5_000
NOTE = (
    "Benchmark households: one four-member family copied with its own ids and NIKs, "
    "so ClickHouse compresses them better than real answers; sizes before Kafka compression."
)


def _records(count: int, now: dt.datetime) -> list[dict[str, Any]]:
    jember = Jember.load()
    records = []
    for n in range(count):
        record = household(n, now - dt.timedelta(hours=1), jember)
        record["enumeration"]["finished_at"] = now - dt.timedelta(minutes=20)
        records.append(record)
    return records


def measure(count: int, engine_dir: Path) -> dict[str, Any]:
    """Sizes of ``count`` benchmark households; the engine lives in ``engine_dir``."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    regions = load_regions()
    context = RuleContext(
        regions=regions,
        frame=Frame.build([], [], []),
        fieldwork_start=now - dt.timedelta(days=1),
        fieldwork_end=now + dt.timedelta(days=1),
        now=now,
        seen_niks=InMemoryNikIndex(),
    )
    registry = LocalRegistry()
    submission = AvroSerializer(registry, subject_for("HouseholdSubmission"), "HouseholdSubmission")
    validated_codec = AvroSerializer(
        registry, subject_for("ValidatedSubmission"), "ValidatedSubmission"
    )
    records = _records(count, now)
    validated = [
        {
            "submission": r,
            "enrichment": enrich(r, resolve_location(r["location"], regions), context, now),
            "warnings": [],
        }
        for r in records
    ]
    client = client_from_dsn(f"chdb://{engine_dir}")
    migrate(client, database=DATABASE)
    writer = ClickHouseWriter(client, DATABASE)
    for start in range(0, count, BATCH):
        blocks = household_blocks(
            validated[start : start + BATCH], nik_key=b"sizes", written_at=now, regions=regions
        )
        writer.write(blocks, dedup_token("sizes", 0, start, start + BATCH - 1))
    for table in ("households", "members"):
        client.command(f"OPTIMIZE TABLE {DATABASE}.{table} FINAL")
    parts = {
        str(row[0]): {
            "bytes_on_disk": int(row[1]),
            "uncompressed_bytes": int(row[2]),
            "rows": int(row[3]),
        }
        for row in client.query(PARTS_SQL, parameters={"db": DATABASE}).result_rows
    }
    members = statistics.mean(len(r["members"]) for r in records)
    return {
        "households": count,
        "members_per_household": members,
        "measured_at": now.isoformat(),
        "command": f"python -m benchmarks.sizes --households {count}",
        "kafka": {
            "key_bytes": statistics.mean(len(r["household_id"].encode()) for r in records),
            "submission_bytes": statistics.mean(len(submission.encode(r)) for r in records),
            "validated_bytes": statistics.mean(
                len(validated_codec.encode(v, validate=False)) for v in validated
            ),
        },
        "clickhouse": {
            "tables": parts,
            "bytes_on_disk_per_household": sum(p["bytes_on_disk"] for p in parts.values()) / count,
            "uncompressed_bytes_per_household": sum(p["uncompressed_bytes"] for p in parts.values())
            / count,
        },
        "note": NOTE,
    }


def main(argv: list[str] | None = None) -> None:
    """Measure and write the JSON (the capacity model reads it)."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--households", type=int, default=20_000)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="regsosek-sizes-") as engine_dir:
        result = measure(args.households, Path(engine_dir))
    args.output.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result["kafka"]), json.dumps(result["clickhouse"]["tables"]))


if __name__ == "__main__":
    main()

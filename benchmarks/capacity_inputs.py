"""The capacity model's inputs: figures measured here, each named by file and key, and assumptions.

Every measured input is read from ``benchmarks/results`` at the key written
beside it, so a figure in docs/capacity.md can be found in the JSON it came
from, and a fresh ``make bench`` changes the model without anyone copying
numbers. A key is a dotted path; ``[*]`` over a list takes the median of the
runs (the benchmark's own habit: medians over ``--repeat`` runs).

Every assumption carries its source or its reason. Census figures come from
issue #18 and from the simulator's defaults (the same numbers ``make demo``
uses), so the model and the simulator cannot disagree silently.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from schemas.regions import DEFAULT_REGIONS_FILE, Level, load_regions
from simulator.config import FIELDWORK_END, FIELDWORK_START, ErrorRates, ReviewConfig
from simulator.paradata import HEARTBEAT_SHARE
from simulator.population import HOUSEHOLDS_PER_ENUMERATOR, KNOWN_POPULATION
from streams.topics import ALL_TOPICS

RESULTS_DIR = Path(__file__).parent / "results"

#: The province the model sizes: East Java (Jawa Timur), Jember's province.
PROVINCE_CODE = "35"
#: Jember, the regency the design is built around (Kemendagri code).
REGENCY_CODE = "35.09"
#: SP2020 (BPS, population census 2020): East Java and Indonesia.
EAST_JAVA_PEOPLE = 40_665_696
INDONESIA_PEOPLE = 270_203_917
PERSONS_PER_HOUSEHOLD = 3.3  # simulator.config.SimulationConfig default


@dataclass(frozen=True)
class Measured:
    """One figure the model reads from a results file."""

    name: str
    file: str
    key: str
    unit: str
    meaning: str


@dataclass(frozen=True)
class Assumption:
    """One figure the model takes as given, and why."""

    name: str
    value: float
    unit: str
    source: str


MEASURED: tuple[Measured, ...] = (
    Measured("worker_rate", "latest.json", "summary.households_per_s", "households/s",
             "one worker's throughput on a preloaded topic (median of 3 runs)"),
    Measured("worker_cpu_ms", "latest.json", "summary.worker_cpu_ms_per_household", "CPU ms",
             "the worker's process tree, CPU per household (median)"),
    Measured("bare_cpu_ms", "latest.json", "summary.contenders.bare.cpu_ms_per_household",
             "CPU ms", "the bare path (consume, decode, rows, insert; no rules), per household"),
    Measured("broker_cpu_ms", "latest.json", "summary.broker_cpu_ms_per_household", "CPU ms",
             "the broker's CPU per household (RF 1, co-located)"),
    Measured("worker_rss_mb", "latest.json", "summary.worker_peak_rss_mb", "MB",
             "the worker's peak RSS (sum of VmHWM over its process tree, embedded engine)"),
    Measured("two_worker_speedup", "latest.json", "summary.two_workers_speedup", "x",
             "two worker processes / one, on the same 2 cores (median)"),
    Measured("fresh_rate", "latest.json", "summary.freshness.500.offered_rate", "households/s",
             "the highest offered rate one worker sustained with p99 freshness under 1 s"),
    Measured("fresh_p99_ms", "latest.json", "summary.freshness.500.p99_ms", "ms",
             "p99 freshness (send to queryable) at that rate"),
    Measured("bench_cores", "latest.json", "machine.nproc", "cores",
             "cores of the benchmark machine (worker, broker and producer together)"),
    Measured("bench_households", "latest.json", "households", "households",
             "households per benchmark run"),
    Measured("insert_seconds", "latest.json", "runs[*].pipeline.insert_seconds", "s",
             "time spent in ClickHouse inserts for those households (median of runs)"),
    Measured("replay_rate", "replay.json", "replay_households_per_s", "households/s",
             "regsosek replay of 1,000,000 households on 2 cores"),
    Measured("key_bytes", "sizes.json", "kafka.key_bytes", "bytes", "Kafka key (household id)"),
    Measured("submission_bytes", "sizes.json", "kafka.submission_bytes", "bytes",
             "HouseholdSubmission value, wire format, four members"),
    Measured("validated_bytes", "sizes.json", "kafka.validated_bytes", "bytes",
             "ValidatedSubmission value republished to .valid"),
    Measured("storage_bytes", "sizes.json", "clickhouse.uncompressed_bytes_per_household",
             "bytes", "households + members rows, uncompressed (compressed is ~3.5x smaller)"),
)  # fmt: skip


def lookup(document: object, key: str) -> float:
    """The number at ``key`` (dotted; ``[*]`` = median over a list); KeyError if absent."""
    values: list[object] = [document]
    for part in key.split("."):
        spread = part.endswith("[*]")
        name = part.removesuffix("[*]")
        found: list[object] = []
        for value in values:
            if not isinstance(value, Mapping) or name not in value:
                raise KeyError(f"{key}: no {name!r}")
            item = value[name]
            if spread:
                if not isinstance(item, list) or not item:
                    raise KeyError(f"{key}: {name!r} is not a non-empty list")
                found.extend(item)
            else:
                found.append(item)
        values = found
    numbers = [v for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) != len(values):
        raise KeyError(f"{key}: not a number ({values[:3]!r})")
    return float(statistics.median(numbers))


def read_measured(results_dir: Path = RESULTS_DIR) -> dict[str, float]:
    """Every measured input, by name, from the JSON files in ``results_dir``."""
    documents: dict[str, object] = {}
    out: dict[str, float] = {}
    for m in MEASURED:
        if m.file not in documents:
            documents[m.file] = json.loads((results_dir / m.file).read_text())
        out[m.name] = lookup(documents[m.file], m.key)
    return out


def _regency_counts() -> tuple[int, int]:
    """Regencies (kabupaten and kota) of the province and of the nation, from the region master."""
    regions = load_regions(DEFAULT_REGIONS_FILE)
    return len(regions.under(PROVINCE_CODE, Level.REGENCY)), regions.count(Level.REGENCY)


def assumptions() -> tuple[Assumption, ...]:
    """The stated assumptions, with where each number comes from."""
    rates, reviews = ErrorRates(), ReviewConfig()
    fieldwork_days = round((FIELDWORK_END - FIELDWORK_START).total_seconds() / 86_400)
    province_regencies, nation_regencies = _regency_counts()
    jember = KNOWN_POPULATION[REGENCY_CODE] / PERSONS_PER_HOUSEHOLD
    resubmitted = rates.revision + rates.duplicate + rates.corrupt + reviews.return_rate
    logins = 1 / (HOUSEHOLDS_PER_ENUMERATOR / fieldwork_days)
    a = Assumption
    return (
        a("nation_households", 85_000_000, "households",
          f"issue #18: 85 million families (K forms) in {nation_regencies} regencies "
          "(the region master)"),
        a("province_households", round(85_000_000 * EAST_JAVA_PEOPLE / INDONESIA_PEOPLE),
          "households",
          f"East Java ({province_regencies} regencies in the region master): the nation's "
          f"85 million x its SP2020 population share {EAST_JAVA_PEOPLE:,} / {INDONESIA_PEOPLE:,}"),
        a("regency_households", round(jember), "households",
          f"Jember: SP2020 {KNOWN_POPULATION[REGENCY_CODE]:,} people / "
          f"{PERSONS_PER_HOUSEHOLD} per household (simulator.population)"),
        a("fieldwork_days", fieldwork_days, "days",
          "15 October - 14 November 2022 (simulator.config, the platform's default window)"),
        a("peak_day_factor", 1.5, "x mean day",
          "the busiest day over the month's mean; the simulator's daily weights 0.6-1.4 "
          "per enumerator average out near 1.2, rounded up for a national push"),
        a("peak_hour_share", 0.15, "of a day",
          "share of a day's submissions in its busiest hour (interviews 07:30-20:00 are "
          "12.5 h, 8 % an hour if even; evening syncs of offline tablets raise it)"),
        a("peak_minute_factor", 2.0, "x peak hour",
          "bursts within the peak hour (tablets syncing together after work); not measured"),
        a("submissions_per_household", 1 + resubmitted, "messages",
          f"1 + revisions {rates.revision} + duplicates {rates.duplicate} + corrupt "
          f"{rates.corrupt} + returned by review {reviews.return_rate} (simulator defaults)"),
        a("side_events_per_household", round(1 + reviews.return_rate + 2 + HEARTBEAT_SHARE
                                            + 0.75 + logins, 2), "events",
          f"review decisions 1 + {reviews.return_rate} re-reviews; paradata: started + "
          f"finished + {HEARTBEAT_SHARE} heartbeat + ~0.75 sync (70 % online, one per "
          f"upload) + {logins:.2f} log-in ({HOUSEHOLDS_PER_ENUMERATOR:.0f} households "
          f"per enumerator over {fieldwork_days} days)"),
        a("side_event_bytes", 300, "bytes",
          "a review decision or paradata event (small flat records); not measured"),
        a("changelog_bytes", 120, "bytes",
          "the dedup table's changelog record per submission (key + state); not measured"),
        a("live_utilisation", 0.6, "of measured",
          "plan live peaks at 60 % of a worker's measured throughput (headroom for "
          "rebalances, catch-up after an outage, noisy neighbours)"),
        a("scaling_efficiency", 1.0, "per worker",
          "each added worker (its own 2 cores) adds the measured rate: an assumption; "
          "measured only up to 2 processes on 2 shared cores"),
        a("spare_workers", 1, "workers", "N+1 at the peak: one worker can fail or restart"),
        a("partition_growth", 2.0, "x workers",
          "partitions for twice the workers, so scaling out needs no repartitioning "
          "(which would move households between partitions)"),
        a("min_partitions", 6, "partitions", "the platform's default topic_partitions"),
        a("partition_ceiling_mb", 5.0, "MB/s",
          "writes per partition planned (Kafka partitions take tens of MB/s)"),
        a("replication_factor", 3, "replicas",
          "streams.topics.FULL_REPLICATION, min.insync.replicas 2"),
        a("topics", len(ALL_TOPICS) + 1, "topics",
          f"{len(ALL_TOPICS)} regsosek.* topics + the dedup changelog"),
        a("readers_per_byte", 2, "reads",
          "each byte written is read by the worker and one downstream consumer"),
        a("broker_write_mb", 40, "MB/s",
          "replicated writes per broker: 30 % of a 125 MB/s general-purpose cloud volume, "
          "room to take a failed peer's leaders and catch-up reads"),
        a("max_replicas_per_broker", 4000, "replicas",
          "partition replicas per broker (the long-standing Kafka guidance)"),
        a("insert_utilisation", 0.5, "of measured",
          "ClickHouse inserts planned at half the measured insert rate (queries share "
          "the server)"),
        a("shard_storage_gb", 1000, "GB", "data per shard planned (half of a 2 TB volume)"),
        a("clickhouse_replicas", 2, "replicas", "per shard, so a server can be lost"),
        a("replay_hours", 6, "hours", "a full replay should finish within one night shift"),
    )  # fmt: skip

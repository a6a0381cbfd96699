"""Capacity model: workers, partitions, brokers and ClickHouse shards from measured rates.

Issue #18, item 5. For one regency (Jember), one province (East Java) and the
nation, at the census peak and for a full replay within a stated number of
hours, the model turns the per-worker rates measured by ``make bench`` and
``benchmarks.replay`` (read from ``benchmarks/results``, file and key per
figure: :mod:`benchmarks.capacity_inputs`) and stated assumptions into counts,
keeping every step of the arithmetic so docs/capacity.md can show it.

A **worker** here is what was measured: one ``regsosek worker`` process tree
(the Faust event loop and its compute child process) on 2 cores. Adding
workers adds that rate each (``scaling_efficiency``), which is an assumption:
the benchmark measured two processes only, on the same 2 cores.

Pure: :func:`plan` is arithmetic on an :class:`Inputs`; reading the JSON is
:meth:`Inputs.load`'s job. ``python -m benchmarks.capacity`` prints the
tables, ``--markdown`` the generated part of docs/capacity.md, ``--check
docs/capacity.md`` fails when that part differs from a fresh rendering.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from benchmarks.capacity_inputs import RESULTS_DIR, assumptions, read_measured

MB = 1_000_000
GB = 1_000_000_000
#: Worker counts the replay-duration table is computed for.
REPLAY_WORKERS = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Inputs:
    """Every number the model uses: measured ones first, then the assumptions (same names)."""

    worker_rate: float
    worker_cpu_ms: float
    bare_cpu_ms: float
    broker_cpu_ms: float
    worker_rss_mb: float
    two_worker_speedup: float
    fresh_rate: float
    fresh_p99_ms: float
    bench_cores: float
    bench_households: float
    insert_seconds: float
    replay_rate: float
    key_bytes: float
    submission_bytes: float
    validated_bytes: float
    storage_bytes: float
    nation_households: float
    province_households: float
    regency_households: float
    fieldwork_days: float
    peak_day_factor: float
    peak_hour_share: float
    peak_minute_factor: float
    submissions_per_household: float
    side_events_per_household: float
    side_event_bytes: float
    changelog_bytes: float
    live_utilisation: float
    scaling_efficiency: float
    spare_workers: float
    partition_growth: float
    min_partitions: float
    partition_ceiling_mb: float
    replication_factor: float
    topics: float
    readers_per_byte: float
    broker_write_mb: float
    max_replicas_per_broker: float
    insert_utilisation: float
    shard_storage_gb: float
    clickhouse_replicas: float
    replay_hours: float

    @classmethod
    def load(cls, results_dir: Path = RESULTS_DIR) -> Inputs:
        """Measured inputs from ``results_dir`` plus the stated assumptions."""
        values = read_measured(results_dir)
        values.update({a.name: float(a.value) for a in assumptions()})
        return cls(**values)

    @property
    def insert_rate(self) -> float:
        """Households per second of ClickHouse insert time, as measured."""
        return self.bench_households / self.insert_seconds


class Mode(StrEnum):
    """What the platform is sized for."""

    PEAK = "census peak"
    REPLAY = "full replay"


@dataclass(frozen=True)
class Area:
    """An area the census covers, with its households (K forms)."""

    name: str
    households: float


@dataclass
class Plan:
    """The counts for one area and mode, and the arithmetic that led to them."""

    area: Area
    mode: Mode
    households_per_s: float = 0.0
    load_per_s: float = 0.0
    per_worker: float = 0.0
    workers: int = 0
    partitions: int = 0
    write_mb_s: float = 0.0
    read_mb_s: float = 0.0
    brokers: int = 0
    broker_cores: float = 0.0
    shards: int = 0
    storage_gb: float = 0.0
    worker_memory_gb: float = 0.0
    steps: list[str] = field(default_factory=list)

    def step(self, text: str) -> None:
        """Record one line of the arithmetic, in the order it was done."""
        self.steps.append(text)


def areas(inputs: Inputs) -> tuple[Area, ...]:
    """Jember, East Java and Indonesia."""
    return (
        Area("Regency (Jember)", inputs.regency_households),
        Area("Province (East Java)", inputs.province_households),
        Area("Nation", inputs.nation_households),
    )


def workers_text(n: int) -> str:
    """``1 worker``, ``2 workers``."""
    return f"{n} worker" if n == 1 else f"{n} workers"


def fmt(value: float) -> str:
    """A number as the doc prints it: thousands separated, at most 3 significant decimals."""
    if value == int(value) and abs(value) >= 1:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:,.1f}"
    if abs(value) >= 1:
        return f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def round_up(value: float, multiple: int) -> int:
    """``value`` rounded up to a whole multiple (partitions divisible by 1, 2, 3 and 6)."""
    return max(multiple, math.ceil(value / multiple - 1e-9) * multiple)


def _live_rate(inputs: Inputs, p: Plan) -> None:
    h = p.area.households
    day = h / inputs.fieldwork_days
    busiest = day * inputs.peak_day_factor
    hour = busiest * inputs.peak_hour_share
    p.households_per_s = hour / 3600 * inputs.peak_minute_factor
    p.step(
        f"Households/s at the peak: {fmt(h)} households / {fmt(inputs.fieldwork_days)} days = "
        f"{fmt(day)} a day; x {fmt(inputs.peak_day_factor)} (peak day) = {fmt(busiest)}; "
        f"x {fmt(inputs.peak_hour_share)} in its busiest hour = {fmt(hour)} an hour; "
        f"/ 3,600 x {fmt(inputs.peak_minute_factor)} (peak minute) = "
        f"**{fmt(p.households_per_s)} households/s**."
    )
    subs = p.households_per_s * inputs.submissions_per_household
    side = p.households_per_s * inputs.side_events_per_household
    weight = inputs.bare_cpu_ms / inputs.worker_cpu_ms
    p.load_per_s = subs + side * weight
    p.step(
        f"Worker load: {fmt(subs)} submissions/s ({fmt(inputs.submissions_per_household)} per "
        f"household) + {fmt(side)} reviews and paradata events/s "
        f"({fmt(inputs.side_events_per_household)} per household), each costed as the bare "
        f"path's {fmt(inputs.bare_cpu_ms)} CPU ms against the worker's "
        f"{fmt(inputs.worker_cpu_ms)} (x{fmt(weight)}) = **{fmt(p.load_per_s)} "
        "submission-equivalents/s**."
    )
    by_cpu = inputs.worker_rate * inputs.live_utilisation
    p.per_worker = min(by_cpu, inputs.fresh_rate)
    binding = "freshness" if inputs.fresh_rate < by_cpu else "throughput"
    p.step(
        f"Per worker: min({fmt(inputs.worker_rate)}/s measured x {fmt(inputs.live_utilisation)} "
        f"= {fmt(by_cpu)}, {fmt(inputs.fresh_rate)}/s, the highest rate measured with p99 "
        f"freshness {fmt(inputs.fresh_p99_ms)} ms) = **{fmt(p.per_worker)}/s** ({binding} binds)."
    )
    needed = p.load_per_s / (p.per_worker * inputs.scaling_efficiency)
    p.workers = math.ceil(needed) + int(inputs.spare_workers)
    p.step(
        f"Workers: ceil({fmt(p.load_per_s)} / ({fmt(p.per_worker)} x "
        f"{fmt(inputs.scaling_efficiency)}) = {fmt(needed)}) + {fmt(inputs.spare_workers)} spare "
        f"= **{p.workers}**."
    )
    per_sub = (
        2 * inputs.key_bytes + inputs.submission_bytes + inputs.validated_bytes
        + inputs.changelog_bytes
    )  # fmt: skip
    p.write_mb_s = (subs * per_sub + side * inputs.side_event_bytes) / MB
    p.step(
        f"Bytes written to Kafka: {fmt(subs)}/s x ({fmt(inputs.key_bytes)} key + "
        f"{fmt(inputs.submission_bytes)} submission + {fmt(inputs.key_bytes)} key + "
        f"{fmt(inputs.validated_bytes)} validated + {fmt(inputs.changelog_bytes)} changelog "
        f"= {fmt(per_sub)} bytes) + {fmt(side)}/s x {fmt(inputs.side_event_bytes)} bytes = "
        f"**{fmt(p.write_mb_s)} MB/s** before replication."
    )
    p.read_mb_s = p.write_mb_s * inputs.readers_per_byte


def _replay_rate(inputs: Inputs, p: Plan) -> None:
    h = p.area.households
    messages = h * inputs.submissions_per_household
    seconds = inputs.replay_hours * 3600
    p.households_per_s = h / seconds
    p.load_per_s = messages / seconds
    p.step(
        f"Messages to replay: {fmt(h)} households x {fmt(inputs.submissions_per_household)} "
        f"= {fmt(messages)}; within {fmt(inputs.replay_hours)} h = {fmt(messages)} / "
        f"{fmt(seconds)} s = **{fmt(p.load_per_s)} messages/s** "
        f"({fmt(p.households_per_s)} households/s)."
    )
    p.per_worker = inputs.replay_rate
    needed = p.load_per_s / (p.per_worker * inputs.scaling_efficiency)
    p.workers = max(1, math.ceil(needed))
    p.step(
        f"Workers: ceil({fmt(p.load_per_s)} / ({fmt(inputs.replay_rate)}/s measured replay "
        f"x {fmt(inputs.scaling_efficiency)}) = {fmt(needed)}) = **{p.workers}**; it would take "
        f"{duration(replay_hours(inputs, h, p.workers))}. Today a replay runs in the one "
        "worker it was started in, over every partition (streams/worker/replay.py), so it takes "
        f"{duration(replay_hours(inputs, h, 1))} whatever the worker count; more than one "
        "needs the replay split by partition across workers (not built)."
    )
    p.write_mb_s = 0.0
    p.read_mb_s = p.load_per_s * (inputs.key_bytes + inputs.submission_bytes) / MB
    p.step(
        f"Bytes: a replay publishes nothing to Kafka (docs/lifecycle.md); it reads "
        f"{fmt(p.load_per_s)}/s x ({fmt(inputs.key_bytes)} + {fmt(inputs.submission_bytes)}) "
        f"bytes = **{fmt(p.read_mb_s)} MB/s** (live traffic goes on beside it)."
    )


def _kafka_and_clickhouse(inputs: Inputs, p: Plan) -> None:
    rf = inputs.replication_factor
    by_bytes = p.write_mb_s / inputs.partition_ceiling_mb
    wanted = max(inputs.min_partitions, p.workers * inputs.partition_growth, by_bytes)
    p.partitions = round_up(wanted, 6)
    p.step(
        f"Partitions per topic: max({fmt(inputs.min_partitions)}, {workers_text(p.workers)} x "
        f"{fmt(inputs.partition_growth)}, {fmt(p.write_mb_s)} MB/s / "
        f"{fmt(inputs.partition_ceiling_mb)} MB/s) = {fmt(wanted)}, "
        f"rounded up to a multiple of 6 = **{p.partitions}**."
    )
    replicated = p.write_mb_s * rf
    replicas = p.partitions * inputs.topics * rf
    p.brokers = max(
        int(rf),
        math.ceil(replicated / inputs.broker_write_mb),
        math.ceil(replicas / inputs.max_replicas_per_broker),
    )
    p.step(
        f"Brokers: max(RF {fmt(rf)}, {fmt(replicated)} MB/s replicated writes / "
        f"{fmt(inputs.broker_write_mb)} MB/s, {p.partitions} x {fmt(inputs.topics)} topics x "
        f"{fmt(rf)} = {fmt(replicas)} replicas / {fmt(inputs.max_replicas_per_broker)}) "
        f"= **{p.brokers}**; network out {fmt(p.write_mb_s * (rf - 1) + p.read_mb_s)} MB/s "
        f"across them ({fmt(rf - 1)} followers' copies + {fmt(p.read_mb_s)} MB/s read)."
    )
    p.broker_cores = p.load_per_s * inputs.broker_cpu_ms / 1000 * rf
    p.step(
        f"Broker CPU: {fmt(p.load_per_s)}/s x {fmt(inputs.broker_cpu_ms)} ms (measured, RF 1) "
        f"x {fmt(rf)} replicas = {fmt(p.broker_cores)} cores across the cluster."
    )
    insert_cap = inputs.insert_rate * inputs.insert_utilisation
    insert_rate = p.households_per_s * inputs.submissions_per_household
    copies = 2 if p.mode is Mode.REPLAY else 1  # the replay's shadow tables beside the live ones
    p.storage_gb = p.area.households * inputs.storage_bytes * copies / GB
    p.shards = max(
        math.ceil(insert_rate / insert_cap), math.ceil(p.storage_gb / inputs.shard_storage_gb)
    )
    p.step(
        f"ClickHouse shards: max(ceil({fmt(insert_rate)} rows of households/s / "
        f"({fmt(inputs.bench_households)} households / {fmt(inputs.insert_seconds)} s of "
        f"inserts = {fmt(inputs.insert_rate)}/s x {fmt(inputs.insert_utilisation)})), "
        f"ceil({fmt(p.area.households)} x {fmt(inputs.storage_bytes)} bytes x {copies} "
        f"= {fmt(p.storage_gb)} GB / {fmt(inputs.shard_storage_gb)} GB)) = **{p.shards}**, "
        f"x {fmt(inputs.clickhouse_replicas)} replicas = "
        f"{p.shards * int(inputs.clickhouse_replicas)} servers."
    )
    p.worker_memory_gb = p.workers * inputs.worker_rss_mb / 1000
    p.step(
        f"Worker memory: {p.workers} x {fmt(inputs.worker_rss_mb)} MB peak (embedded engine "
        f"included, so an upper bound) = {fmt(p.worker_memory_gb)} GB; cores "
        f"{p.workers} x {fmt(inputs.bench_cores)} = {p.workers * int(inputs.bench_cores)}."
    )


def plan(inputs: Inputs, area: Area, mode: Mode) -> Plan:
    """Workers, partitions, brokers and shards for ``area`` in ``mode``, with the steps."""
    p = Plan(area, mode)
    if mode is Mode.PEAK:
        _live_rate(inputs, p)
    else:
        _replay_rate(inputs, p)
    _kafka_and_clickhouse(inputs, p)
    return p


def duration(hours: float) -> str:
    """Hours as the doc prints a duration: minutes below an hour."""
    if hours * 60 < 1:
        return "< 1 min"
    if hours < 1:
        return f"{round(hours * 60)} min"
    return f"{hours:.1f} h"


def replay_hours(inputs: Inputs, households: float, workers: int) -> float:
    """Hours a full replay of ``households`` takes with ``workers`` workers."""
    messages = households * inputs.submissions_per_household
    rate = workers * inputs.replay_rate * inputs.scaling_efficiency
    return messages / rate / 3600


def plans(inputs: Inputs) -> list[Plan]:
    """Every area in both modes, peak first."""
    return [plan(inputs, area, mode) for area in areas(inputs) for mode in Mode]


def with_measured_scaling(inputs: Inputs) -> Inputs:
    """The same inputs with each worker adding only what the second process added on 2 cores."""
    return dataclasses.replace(inputs, scaling_efficiency=inputs.two_worker_speedup / 2)


def main(argv: list[str] | None = None) -> int:
    """Print the tables, the doc's section, or check the doc (:mod:`benchmarks.capacity_report`)."""
    from benchmarks import capacity_report  # noqa: PLC0415 (it imports this module)

    return capacity_report.main(argv)


if __name__ == "__main__":
    raise SystemExit(main())

"""The measurements: pipeline throughput (1 or more workers), the contenders, freshness.

The contenders read the topic the one-worker pipeline just processed, each in
a child process with a fresh engine directory: the product's own row path
(:mod:`benchmarks.ceiling`), a plain Faust agent (:mod:`benchmarks.faust_plain`)
and the bare path (:mod:`benchmarks.bare`). Each pipeline scenario gets fresh
topics (its own prefix, hence its own consumer group) and fresh engine
directories; everything returns plain dataclasses that the report turns into
a table and JSON.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import bare, ceiling
from benchmarks import profile as spying
from benchmarks.stack import (
    BenchmarkError,
    CpuSampler,
    Fleet,
    Paced,
    create_topics,
    paced,
    preload,
    producer,
)
from benchmarks.workload import EncodedHousehold
from tests.worker_harness import ROOT

PER = 10_000  # resources are quoted per 10,000 households (and in ms per household)
WARM_UP = 500  # households sent before a freshness phase, to have the pipeline running


@dataclass
class Context:
    """What every scenario needs: the broker, a place for state, the worker settings."""

    bootstrap: str
    root: Path
    partitions: int
    worker_env: dict[str, str]
    broker_pid: int | None
    echo: Callable[[str], None]
    nik_key: str = "change-me"
    _prefixes: int = 0

    def prefix(self, kind: str) -> str:
        self._prefixes += 1
        return f"bench-{kind}-{self._prefixes}-{int(time.time())}"


@dataclass
class PipelineRun:
    """The whole worker on N preloaded households; time from first batch to last insert."""

    workers: int
    households: int
    rows_stored: int
    members: int
    seconds: float
    seconds_with_startup: float
    households_per_s: float
    members_per_s: float
    households_per_s_with_startup: float
    startup_seconds: float
    worker_cpu_s_per_10k: float  # every worker's process tree, summed
    cpu_ms_per_household: float  # the same, in ms per household
    broker_cpu_s_per_10k: float
    peak_rss_mb: list[float]  # per worker: the sum of VmHWM over its process tree
    worker_cpu_s_total: list[float]
    rejections: int
    insert_batches: int
    insert_seconds: float
    preload_seconds: float
    topic: str = ""
    processes: list[int] = field(default_factory=list)  # per worker: most processes in its tree
    verified: bool = False  # count() FROM households FINAL = N, no rejections
    uncommitted: dict[str, int] = field(default_factory=dict)  # group lag left, per topic
    worker_stats: list[dict[str, Any]] = field(default_factory=list)
    profile: spying.Profile | None = None


def _one_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) != 1:
        raise BenchmarkError(f"expected one row, got {rows!r}")
    return rows[0]


COUNTS_SQL = (
    "SELECT (SELECT count() FROM regsosek.households FINAL) AS households,"
    " (SELECT count() FROM regsosek.members FINAL) AS members,"
    " (SELECT toUnixTimestamp64Milli(min(processed_at)) FROM regsosek.households) AS first_ms,"
    " (SELECT count() FROM regsosek.rejections) AS rejections"
)


@dataclass
class Preloaded:
    """A fresh prefix whose submissions topic holds the households."""

    prefix: str
    topic: str
    seconds: float


def prepare(ctx: Context, households: Sequence[EncodedHousehold], kind: str) -> Preloaded:
    """Fresh topics under a fresh prefix, the households preloaded into the first."""
    prefix = ctx.prefix(kind)
    topic = create_topics(ctx.bootstrap, prefix, ctx.partitions)
    ctx.echo(f"  preloading {len(households):,} households into {topic}")
    return Preloaded(prefix, topic, preload(ctx.bootstrap, topic, households))


def pipeline(
    ctx: Context,
    households: Sequence[EncodedHousehold],
    workers: int = 1,
    profile_to: Path | None = None,
) -> PipelineRun:
    """Preload, run ``workers`` workers until every household is in ClickHouse, verify.

    With ``profile_to``, py-spy samples the first worker meanwhile (and slows it a little).
    A worker's CPU and memory are those of its process tree (it and its descendants).
    """
    loaded = prepare(ctx, households, f"w{workers}")
    prefix, topic, preload_s = loaded.prefix, loaded.topic, loaded.seconds
    fleet = Fleet.create(ctx.bootstrap, prefix, ctx.root / prefix, workers, ctx.worker_env)
    ctx.echo(f"  running {workers} worker(s)")
    launched = fleet.start()
    pids = fleet.pids | ({"broker": ctx.broker_pid} if ctx.broker_pid else {})
    spy = spying.spy(fleet.pids["worker-0"], profile_to) if profile_to else None
    spied_from = time.time()
    try:
        with CpuSampler(pids, trees=frozenset(fleet.pids)) as sampler:
            fleet.wait_rows(len(households), timeout_s=max(300.0, len(households) / 200))
            if spy is not None:
                spying.finish(spy)
            profiled = time.time() - spied_from
            uncommitted = fleet.wait_idle()
            sampler.sample()
        if uncommitted:
            ctx.echo(f"[yellow]  group lag left after 120 s: {uncommitted}[/]")
        peaks = fleet.peak_rss_mb()
        processes = [
            max(now, sampler.most_members.get(name, 0))
            for name, now in zip(fleet.pids, fleet.processes(), strict=True)
        ]
        stats = fleet.stats()
        totals = [sampler.at(name, time.time()) for name in fleet.pids]
    finally:
        if spy is not None and spy.poll() is None:
            spying.finish(spy)
        fleet.stop()
    counts = [_one_row(rows) for rows in fleet.query(COUNTS_SQL)]
    inserts = fleet.inserts()
    first = min(int(c["first_ms"]) for c in counts if c["first_ms"]) / 1000
    last = max(log.last_end() for log in inserts)
    stored = sum(int(c["households"]) for c in counts)
    distinct = _distinct_households(fleet, stored, len(households))
    members = sum(int(c["members"]) for c in counts)
    rejections = sum(int(c["rejections"]) for c in counts)
    verified = distinct == len(households) and rejections == 0
    if not verified:
        ctx.echo(
            f"[red]  {distinct:,} of {len(households):,} households in ClickHouse, "
            f"{rejections} rejections: this run does not count[/]"
        )
    seconds = last - first
    per = distinct / PER
    worker_cpu = sum(sampler.between(n, first, last) for n in fleet.pids)
    return PipelineRun(
        workers=workers,
        households=distinct,
        rows_stored=stored,
        members=members,
        seconds=seconds,
        seconds_with_startup=last - launched,
        households_per_s=distinct / seconds,
        members_per_s=members / seconds,
        households_per_s_with_startup=distinct / (last - launched),
        startup_seconds=first - launched,
        worker_cpu_s_per_10k=worker_cpu / per,
        cpu_ms_per_household=worker_cpu * 1000 / distinct,
        broker_cpu_s_per_10k=sampler.between("broker", first, last) / per,
        peak_rss_mb=peaks,
        worker_cpu_s_total=totals,
        rejections=rejections,
        insert_batches=sum(len(log.households()) for log in inserts),
        insert_seconds=sum(log.insert_seconds() for log in inserts),
        preload_seconds=preload_s,
        topic=topic,
        processes=processes,
        verified=verified,
        uncommitted=uncommitted,
        worker_stats=stats,
        profile=spying.read(profile_to, profiled) if spy is not None and profile_to else None,
    )


def _distinct_households(fleet: Fleet, stored: int, expected: int) -> int:
    """Households in the engines, counting a household written by two workers once."""
    if stored == expected or len(fleet.workers) == 1:
        return stored
    ids: set[str] = set()
    for rows in fleet.query("SELECT DISTINCT household_id FROM regsosek.households"):
        ids.update(row["household_id"] for row in rows)
    return len(ids)


#: The contenders that read the one-worker pipeline's topic again: key -> (label, module).
CONTENDERS: dict[str, tuple[str, str]] = {
    "product_row_path": ("product row path", ceiling.__name__),
    "faust": ("plain Faust", "benchmarks.faust_plain"),
    "bare": ("bare path", bare.__name__),
}


@dataclass
class ContenderRun:
    """One contender on the same topic (see :data:`CONTENDERS`)."""

    name: str
    households: int
    members: int
    seconds: float
    households_per_s: float
    members_per_s: float
    cpu_s_per_10k: float
    cpu_ms_per_household: float
    peak_rss_mb: float
    stored_households: int
    clickhouse_version: str
    verified: bool = False  # every household read and stored once


def contender(
    ctx: Context, name: str, topic: str, expect: int, batch_rows: int, *, within_s: float = 0.25
) -> ContenderRun:
    """Run contender ``name`` in a child process with its own engine directory.

    ``batch_rows`` is every contender's batch; ``within_s`` the plain Faust
    agent's ``take()`` window (the worker's processing batch window).
    """
    label, module = CONTENDERS[name]
    run_id = ctx.prefix(name)
    directory = ctx.root / f"contender-{run_id}" / "clickhouse"
    cmd = [
        sys.executable,
        "-m",
        module,
        f"--bootstrap={ctx.bootstrap}",
        f"--topic={topic}",
        f"--expect={expect}",
        f"--batch={batch_rows}",
        f"--timeout={max(120.0, expect / 100)}",
    ]
    if name == "product_row_path":
        cmd += [f"--dsn=chdb://{directory}", f"--nik-key={ctx.nik_key}"]
    else:
        cmd += [f"--directory={directory}"]
    if name == "faust":
        cmd += [f"--group={run_id}", f"--within={within_s}"]  # a fresh consumer group
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, timeout=900)
    marker = '{"households"'  # Faust's terminal codes may precede it on the line
    line = next(
        (
            text[text.index(marker) :]
            for text in reversed(out.stdout.splitlines())
            if marker in text
        ),
        None,
    )
    if out.returncode != 0 or line is None:
        raise BenchmarkError(
            f"{label} failed ({out.returncode}): {out.stdout[-1000:]}\n{out.stderr[-3000:]}"
        )
    result = bare.ContenderResult(**json.loads(line))
    verified = result.households == expect and result.stored_households == expect
    if not verified:
        ctx.echo(
            f"[red]  {label}: read {result.households:,}, stored "
            f"{result.stored_households:,} of {expect:,}: this run does not count[/]"
        )
    seconds = max(result.seconds, 1e-9)
    households = max(result.households, 1)
    return ContenderRun(
        name=name,
        households=result.households,
        members=result.members,
        seconds=result.seconds,
        households_per_s=result.households / seconds,
        members_per_s=result.members / seconds,
        cpu_s_per_10k=result.cpu_seconds / (households / PER),
        cpu_ms_per_household=result.cpu_seconds * 1000 / households,
        peak_rss_mb=result.peak_rss_mb,
        stored_households=result.stored_households,
        clickhouse_version=result.clickhouse_version,
        verified=verified,
    )


@dataclass
class Quantiles:
    """Latency percentiles in milliseconds (nearest rank); None where the row never arrived."""

    p50: float | None
    p95: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float], censored: int = 0) -> Quantiles:
        """``censored`` rows were still missing when the wait ended: they rank last."""
        ranked = sorted(values) + [math.inf] * censored
        if not ranked:
            return cls(None, None, None, None)

        def rank(q: float) -> float | None:
            value = ranked[max(math.ceil(q * len(ranked)) - 1, 0)]
            return None if math.isinf(value) else value

        return cls(rank(0.50), rank(0.95), rank(0.99), rank(1.0))


@dataclass
class FreshnessRun:
    """One offered rate: produce time (= finished_at = Kafka timestamp) to row in ClickHouse."""

    offered_rate: float
    seconds: float
    sent: int
    achieved_rate: float
    sustained: bool
    drain_seconds: float | None  # last send -> last row visible; None: not all arrived
    visible_ms: Quantiles
    written_at_ms: Quantiles
    queued_ms_p50: float | None  # produce -> processing batch start (processed_at)
    processing_to_sink_ms_p50: float | None  # processed_at -> written_at (sink batch built)
    insert_ms_p50: float | None  # written_at -> insert returned
    rows: int
    missing: int = 0
    note: str = ""

    @classmethod
    def skipped(cls, rate: float, seconds: float, why: str) -> FreshnessRun:
        nothing = Quantiles(None, None, None, None)
        return cls(
            rate, seconds, 0, 0.0, False, None, nothing, nothing, None, None, None, 0, 0, why
        )


FRESHNESS_SQL = (
    "SELECT toUnixTimestamp64Milli(written_at) AS w,"
    " groupArray(toUnixTimestamp64Milli(finished_at)) AS f,"
    " groupArray(toUnixTimestamp64Milli(processed_at)) AS p"
    " FROM regsosek.households GROUP BY w"
)
SUSTAINED_DRAIN_S = 3.0


@dataclass
class Freshness:
    """The freshness phases of one worker, and its memory before any data arrived."""

    runs: list[FreshnessRun]
    rss_ready_mb: float
    peak_rss_mb: float


def freshness(
    ctx: Context,
    households: Sequence[EncodedHousehold],
    rates: Sequence[float],
    seconds: float,
    drain_cap_s: float,
) -> Freshness:
    """One worker; a warm-up, then each rate (ascending) for ``seconds``.

    After each phase the worker gets ``drain_cap_s`` to write the backlog. A
    phase it could not drain in that time was not sustained, and neither can
    a higher rate be: those are reported as skipped instead of being measured
    on top of a backlog.
    """
    prefix = ctx.prefix("fresh")
    topic = create_topics(ctx.bootstrap, prefix, ctx.partitions)
    fleet = Fleet.create(ctx.bootstrap, prefix, ctx.root / prefix, 1, ctx.worker_env)
    fleet.start()
    time.sleep(2.0)  # let the consumer join; no data yet, so this is the idle footprint
    (ready_mb,) = fleet.peak_rss_mb("VmRSS")
    out = producer(ctx.bootstrap)
    phases: list[Paced] = []
    behind: float | None = None
    peak_mb = ready_mb
    try:
        paced(out, topic, households[:WARM_UP], rate=WARM_UP, seconds=1.0)
        fleet.wait_rows(WARM_UP, timeout_s=120)
        used = WARM_UP
        for rate in sorted(rates):
            if behind is not None:
                break
            ctx.echo(f"  offering {rate:,.0f} households/s for {seconds:.0f}s")
            phase = paced(out, topic, households[used:], rate, seconds)
            used += phase.sent
            phases.append(phase)
            if not fleet.wait_rows(used, timeout_s=drain_cap_s, required=False):
                behind = rate
        (peak_mb,) = fleet.peak_rss_mb()
    finally:
        out.close()
        fleet.stop()
    (batches,) = fleet.query(FRESHNESS_SQL)
    (inserts,) = fleet.inserts()
    runs = [_latencies(phase, batches, inserts.households()) for phase in phases]
    for rate in sorted(rates)[len(phases) :]:
        why = f"not run: {behind:,.0f}/s already left a backlog after {drain_cap_s:.0f}s"
        runs.append(FreshnessRun.skipped(rate, seconds, why))
    return Freshness(runs, ready_mb, peak_mb)


def _insert_end(inserts: list[dict[str, Any]]) -> dict[int, float]:
    ends: dict[int, float] = {}
    for line in inserts:
        if line["written_at"] is not None:
            ms = int(line["written_at"] * 1000)
            for key in (ms - 1, ms, ms + 1):
                ends.setdefault(key, line["end"])
    return ends


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _latencies(
    phase: Paced, batches: list[dict[str, Any]], inserts: list[dict[str, Any]]
) -> FreshnessRun:
    ends = _insert_end(inserts)
    visible: list[float] = []
    written: list[float] = []
    queued: list[float] = []
    to_sink: list[float] = []
    insert: list[float] = []
    last_visible = 0.0
    for batch in batches:
        w = int(batch["w"])
        end_ms = ends.get(w, 0.0) * 1000
        for f, p in zip(batch["f"], batch["p"], strict=True):
            if not phase.first_ms <= int(f) <= phase.last_ms:
                continue
            written.append(w - int(f))
            queued.append(int(p) - int(f))
            to_sink.append(w - int(p))
            if end_ms:  # every batch has its log line; without one, written_at is the bound
                visible.append(end_ms - int(f))
                insert.append(end_ms - w)
                last_visible = max(last_visible, end_ms)
    rows = len(written)
    missing = phase.sent - rows
    drain = max(last_visible - phase.last_ms, 0.0) / 1000 if not missing else None
    achieved = phase.achieved_rate
    sustained = achieved >= 0.97 * phase.rate and drain is not None and drain <= SUSTAINED_DRAIN_S
    note = f"{missing:,} rows not in ClickHouse when the wait ended" if missing else ""
    return FreshnessRun(
        offered_rate=phase.rate,
        seconds=phase.seconds,
        sent=phase.sent,
        achieved_rate=achieved,
        sustained=sustained,
        drain_seconds=drain,
        visible_ms=Quantiles.of(visible, censored=missing + rows - len(visible)),
        written_at_ms=Quantiles.of(written, censored=missing),
        queued_ms_p50=_median(queued),
        processing_to_sink_ms_p50=_median(to_sink),
        insert_ms_p50=_median(insert),
        rows=rows,
        missing=missing,
        note=note,
    )

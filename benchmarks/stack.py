"""The benchmark's local real stack: its own broker, producers, workers, /proc readings.

The broker is the project's local Apache Kafka (``streams.local_kafka``) on
free ports in a temporary state directory, stopped at the end. Workers are
``regsosek worker`` child processes (``tests.worker_harness.WorkerProcess``,
through :mod:`benchmarks.worker_entry`), each with its own embedded
ClickHouse directory. CPU time and peak memory come from ``/proc/<pid>``, for a
worker summed over its process tree (the worker and every descendant, such as
a process pool).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaProducer

from benchmarks.worker_entry import LOG_ENV
from benchmarks.workload import EncodedHousehold, stamped
from streams import local_kafka
from streams.kafka_admin import group_lag
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.sdk import ProducerOptions
from streams.topics import (
    SUBMISSIONS,
    SUBMISSIONS_REJECTED,
    SUBMISSIONS_VALID,
    TopicSpec,
    ensure_topics,
    named,
)
from tests.backends import free_port
from tests.worker_harness import WorkerProcess

WORKER_ENTRY = ("-m", "benchmarks.worker_entry", "worker")
TICKS = os.sysconf("SC_CLK_TCK")


class BenchmarkError(RuntimeError):
    """The stack did not do what the benchmark needs (a worker died, rows are missing)."""


@contextmanager
def local_broker(
    root: Path, cache_dir: Path, partitions: int, echo: Callable[[str], None]
) -> Iterator[local_kafka.BrokerSpec]:
    """A broker of our own on free ports under ``root``; always stopped."""
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=free_port(),
        controller_port=free_port(),
        state_dir=root / "broker",
        cache_dir=cache_dir,
        partitions=partitions,
    )
    local_kafka.start(spec, echo=echo)
    try:
        yield spec
    finally:
        local_kafka.stop(spec)


def broker_pid(spec: local_kafka.BrokerSpec) -> int | None:
    """The broker's pid, to read its CPU time."""
    return local_kafka.read_pid(spec.layout)


def create_topics(
    bootstrap: str, prefix: str, partitions: int, security: KafkaSecurity = PLAINTEXT
) -> str:
    """The submissions topic and the worker's two output topics; returns the submissions topic."""
    names = [named(t, prefix) for t in (SUBMISSIONS, SUBMISSIONS_VALID, SUBMISSIONS_REJECTED)]
    specs = [TopicSpec(name, partitions, 1) for name in names]
    ensure_topics(bootstrap, specs, security=security)
    return names[0]


def producer(bootstrap: str, security: KafkaSecurity = PLAINTEXT) -> Any:
    """A producer configured as the SDK's (acks=all, idempotent, gzip, linger 5 ms)."""
    options = ProducerOptions(client_id="regsosek-bench", security=security)
    config = options.producer_config(bootstrap)
    return KafkaProducer(**config)


def preload(
    bootstrap: str,
    topic: str,
    households: Sequence[EncodedHousehold],
    security: KafkaSecurity = PLAINTEXT,
) -> float:
    """Publish every household as fast as possible; returns the seconds it took."""
    started = time.monotonic()
    out = producer(bootstrap, security)
    try:
        for household in households:
            ms = int(time.time() * 1000)
            out.send(topic, key=household.key, value=stamped(household, ms), timestamp_ms=ms)
        out.flush()
    finally:
        out.close()
    return time.monotonic() - started


@dataclass
class Paced:
    """One paced phase: what was offered, what the producer managed."""

    rate: float
    seconds: float
    sent: int
    first_ms: int
    last_ms: int

    @property
    def achieved_rate(self) -> float:
        span = max(self.last_ms - self.first_ms, 1) / 1000
        return self.sent / span if self.sent > 1 else 0.0


def paced(
    out: Any, topic: str, households: Sequence[EncodedHousehold], rate: float, seconds: float
) -> Paced:
    """Send ``rate`` households a second for ``seconds``, each stamped at its send time."""
    total = min(int(rate * seconds), len(households))
    started = time.time()
    first_ms = last_ms = int(started * 1000)
    sent = 0
    while sent < total:
        due = min(total, int((time.time() - started) * rate) + 1)
        while sent < due:
            household = households[sent]
            last_ms = int(time.time() * 1000)
            out.send(
                topic, key=household.key, value=stamped(household, last_ms), timestamp_ms=last_ms
            )
            sent += 1
        wait = started + sent / rate - time.time()
        if wait > 0:
            time.sleep(min(wait, 0.005))
    out.flush()
    return Paced(rate, seconds, sent, first_ms, last_ms)


# ---------------------------------------------------------------- /proc


def _stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name (state is [0], ppid [1])."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process (all its threads)."""
    fields = _stat(pid)
    return (int(fields[11]) + int(fields[12])) / TICKS


def descendants(pid: int) -> list[int]:
    """The children of ``pid``, their children and so on (one scan of /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int(_stat(int(entry.name))[1])
        except (OSError, IndexError, ValueError):
            continue  # exited meanwhile
        children.setdefault(parent, []).append(int(entry.name))
    out: list[int] = []
    todo = list(children.get(pid, ()))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, ()))
    return out


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds of a process tree: utime + stime + cutime + cstime of each live member.

    ``cutime``/``cstime`` hold the children a process already reaped, so a pool
    process that exited still counts (in its parent) after it disappeared.
    """
    total = 0
    for index, pid in enumerate(pids):
        try:
            fields = _stat(pid)
        except (OSError, IndexError):
            if index == 0:
                raise ProcessLookupError(pid) from None  # the root is gone: no reading
            continue  # a member exited: its time is in its parent's cutime once reaped
        total += sum(int(value) for value in fields[11:15])
    return total / TICKS


def peak_rss_mb(pid: int, field: str = "VmHWM") -> float:
    """Peak resident memory (VmHWM) of a process, or another /proc status field, MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    raise BenchmarkError(f"no {field} for pid {pid}")


def tree_rss_mb(pid: int, field: str = "VmHWM") -> tuple[float, int]:
    """The sum of ``field`` over a process and its live descendants, MiB; and their count.

    A sum of peaks: an upper bound of the tree's peak (the members need not
    peak together, and pages shared after a fork count once per process).
    """
    total = peak_rss_mb(pid, field)
    members = 1
    for child in descendants(pid):
        try:
            total += peak_rss_mb(child, field)
        except (OSError, BenchmarkError):
            continue  # exited meanwhile, or a zombie (no memory lines)
        members += 1
    return total, members


@dataclass
class CpuSampler:
    """Samples the CPU time of some processes every ``interval`` seconds, in a thread.

    The processes named in ``trees`` count with all their descendants
    (rediscovered every ``rescan`` seconds); the others alone.
    """

    pids: dict[str, int]
    trees: frozenset[str] = frozenset()
    interval: float = 0.1
    rescan: float = 1.0
    samples: list[tuple[float, dict[str, float]]] = field(default_factory=list)
    members: dict[str, list[int]] = field(default_factory=dict)
    most_members: dict[str, int] = field(default_factory=dict)
    _scanned: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> CpuSampler:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def _rescan(self, now: float) -> None:
        if self.trees and now - self._scanned >= self.rescan:
            self._scanned = now
            for name in self.trees:
                pid = self.pids[name]
                self.members[name] = [pid, *descendants(pid)]
                self.most_members[name] = max(
                    self.most_members.get(name, 0), len(self.members[name])
                )

    def sample(self) -> None:
        now = time.time()
        self._rescan(now)
        reading = {}
        for name, pid in self.pids.items():
            try:
                if name in self.trees:
                    reading[name] = tree_cpu_seconds(self.members.get(name) or [pid])
                else:
                    reading[name] = cpu_seconds(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue
        self.samples.append((now, reading))

    def at(self, name: str, when: float) -> float:
        """CPU seconds of ``name`` at ``when``, interpolated between samples."""
        points = [(t, r[name]) for t, r in self.samples if name in r]
        if not points:
            return 0.0
        before = [p for p in points if p[0] <= when] or points[:1]
        after = [p for p in points if p[0] >= when] or points[-1:]
        (t0, c0), (t1, c1) = before[-1], after[0]
        if t1 <= t0:
            return c0
        return c0 + (c1 - c0) * (when - t0) / (t1 - t0)

    def between(self, name: str, start: float, end: float) -> float:
        return self.at(name, end) - self.at(name, start)


# ---------------------------------------------------------------- workers


@dataclass
class Inserts:
    """The instrumented worker's insert log (see :mod:`benchmarks.worker_entry`)."""

    lines: list[dict[str, Any]]

    @classmethod
    def read(cls, path: Path) -> Inserts:
        if not path.exists():
            return cls([])
        return cls([json.loads(line) for line in path.read_text().splitlines() if line])

    def households(self) -> list[dict[str, Any]]:
        return [line for line in self.lines if line["table"] == "households"]

    def last_end(self) -> float:
        return max((float(line["end"]) for line in self.households()), default=0.0)

    def insert_seconds(self) -> float:
        return sum(float(line["end"]) - float(line["start"]) for line in self.lines)


@dataclass
class Fleet:
    """One or more workers of one consumer group, each with its own engine directory."""

    workers: list[WorkerProcess]

    @classmethod
    def create(
        cls, bootstrap: str, prefix: str, root: Path, count: int, env: dict[str, str]
    ) -> Fleet:
        workers = []
        for index in range(count):
            state = root / f"worker-{index}"
            extra = env | {LOG_ENV: str(state / "inserts.jsonl")}
            workers.append(WorkerProcess(bootstrap, prefix, state, extra, entry=WORKER_ENTRY))
        return cls(workers)

    def start(self) -> float:
        """Launch every worker at once and wait until all answer; returns the launch time."""
        launched = time.time()
        errors: list[BaseException] = []

        def start_one(worker: WorkerProcess) -> None:
            try:
                worker.start(ready_timeout_s=180.0)
            except (AssertionError, OSError) as exc:
                errors.append(exc)

        threads = [threading.Thread(target=start_one, args=(w,)) for w in self.workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            self.stop()
            raise BenchmarkError(f"a worker did not start: {str(errors[0])[-2000:]}")
        return launched

    @property
    def pids(self) -> dict[str, int]:
        return {f"worker-{i}": w.proc.pid for i, w in enumerate(self.workers) if w.proc}

    def sink_rows(self) -> int:
        """Household rows the workers say they wrote (0 for a worker that does not answer)."""
        total = 0
        for worker in self.workers:
            if worker.proc is not None and worker.proc.poll() is not None:
                raise BenchmarkError(f"worker died: {worker.log.read_text()[-3000:]}")
            stats = worker.page("/stats") or {}
            total += int((stats.get("sink_rows") or {}).get("households", 0))
        return total

    def stats(self) -> list[dict[str, Any]]:
        return [w.page("/stats") or {} for w in self.workers]

    def wait_rows(
        self, rows: int, timeout_s: float, poll_s: float = 0.1, *, required: bool = True
    ) -> bool:
        """Until the workers report ``rows`` household rows written.

        False on timeout when not ``required``; a BenchmarkError when it is.
        """
        deadline = time.monotonic() + timeout_s
        while self.sink_rows() < rows:
            if time.monotonic() > deadline:
                if not required:
                    return False
                raise BenchmarkError(
                    f"only {self.sink_rows()} of {rows} household rows after {timeout_s:.0f}s; "
                    f"worker stats: {self.stats()}"
                )
            time.sleep(poll_s)
        return True

    def wait_idle(self, timeout_s: float = 120.0) -> dict[str, int]:
        """Until the group's lag on the submissions topic (its only input) is 0; else what is left.

        The rows are counted in ClickHouse afterwards anyway: a group that has
        not committed everything in time (a late rebalance) is reported, not fatal.
        """
        first = self.workers[0]
        topics = [named(SUBMISSIONS, first.prefix)]
        group = f"{first.prefix}-worker"
        deadline = time.monotonic() + timeout_s
        while group_lag(first.bootstrap, group, topics) != 0:
            if time.monotonic() > deadline:
                return {topic: group_lag(first.bootstrap, group, [topic]) for topic in topics}
            time.sleep(0.5)
        return {}

    def peak_rss_mb(self, field: str = "VmHWM") -> list[float]:
        """Per worker, the sum of ``field`` over its process tree (itself and descendants)."""
        return [tree_rss_mb(pid, field)[0] for pid in self.pids.values()]

    def processes(self) -> list[int]:
        """Per worker, how many processes its tree has now."""
        return [1 + len(descendants(pid)) for pid in self.pids.values()]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()

    def inserts(self) -> list[Inserts]:
        return [Inserts.read(w.state_dir / "inserts.jsonl") for w in self.workers]

    def query(self, sql: str) -> list[list[dict[str, Any]]]:
        """The rows of ``sql`` from each worker's engine (the workers must be stopped)."""
        return [worker.query(sql) for worker in self.workers]

"""What the worker reports about itself, behind one small interface.

Agents call the observer; they never touch Prometheus. The default
:class:`WorkerStats` keeps the counters health and readiness need (and that
tests read); the Prometheus observer in ``monitoring`` implements the same
protocol with an injected registry, and :class:`Fanout` feeds both.

:func:`freshness` is here, not in ``monitoring``, because it reads the sink's
row blocks: it turns one insert into the ages of its household rows, so an
observer only sees plain numbers.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from monitoring.hooks import UNKNOWN_DISTRICT, BatchOutcome, Freshness, Partition, WorkerObserver
from processors.pipeline import Rejected
from sinks.rows import Block


def freshness(block: Block, written_at: datetime) -> Freshness | None:
    """Ages of a ``households`` block's rows at ``written_at``; None for any other table."""
    if block.table != "households" or not block.rows:
        return None
    return Freshness(
        _ages(block, "finished_at", written_at), _ages(block, "received_at", written_at)
    )


def _ages(block: Block, column: str, written_at: datetime) -> list[float]:
    if column not in block.columns:
        return []
    index = block.columns.index(column)
    ages: list[float] = []
    for row in block.rows:
        value = row[index]
        if isinstance(value, datetime):
            when = value if value.tzinfo else value.replace(tzinfo=UTC)
            ages.append(max((written_at - when).total_seconds(), 0.0))
    return ages


@dataclass
class WorkerStats:
    """In-process counters: what ``/readyz`` and the tests look at."""

    processed: int = 0
    valid: int = 0
    rejected: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    sink_rows: dict[str, int] = field(default_factory=dict)
    sink_batches: dict[str, int] = field(default_factory=dict)
    last_batch_rows: dict[str, int] = field(default_factory=dict)
    max_batch_rows: dict[str, int] = field(default_factory=dict)
    sink_failing: dict[str, str] = field(default_factory=dict)
    commits_stalled: dict[str, float] = field(default_factory=dict)
    last_activity: float = field(default_factory=time.monotonic)

    def on_processed(self, messages: int, outcome: BatchOutcome, seconds: float) -> None:
        del seconds
        self.processed += messages
        self.valid += outcome.valid
        self.rejected += outcome.rejected
        for verdict, count in outcome.dropped.items():
            self.dropped[verdict] = self.dropped.get(verdict, 0) + count
        self.last_activity = time.monotonic()

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None:
        del seconds, attempts
        self.sink_rows[table] = self.sink_rows.get(table, 0) + rows
        self.sink_batches[table] = self.sink_batches.get(table, 0) + 1
        self.last_batch_rows[table] = rows
        self.max_batch_rows[table] = max(rows, self.max_batch_rows.get(table, 0))
        self.sink_failing.pop(table, None)

    def on_sink_failure(self, table: str, error: str) -> None:
        self.sink_failing[table] = error

    def on_sink_recovered(self, table: str) -> None:
        self.sink_failing.pop(table, None)

    def on_consumed(self, topic: str, messages: int) -> None:
        """Not kept here: /stats counts decisions, Prometheus counts messages."""
        del topic, messages

    def on_written(self, freshness: Freshness) -> None:
        """Not kept here: latency lives in the Prometheus histograms."""
        del freshness

    def on_commits(self, stalled: Mapping[Partition, float]) -> None:
        """Partitions whose commit is stuck right now ("topic[partition]" -> seconds)."""
        self.commits_stalled = {f"{t}[{p}]": s for (t, p), s in sorted(stalled.items()) if s > 0}


class Fanout:
    """Several observers behind one (the stats and the Prometheus metrics)."""

    def __init__(self, *observers: WorkerObserver) -> None:
        self._observers = observers

    def on_processed(self, messages: int, outcome: BatchOutcome, seconds: float) -> None:
        for observer in self._observers:
            observer.on_processed(messages, outcome, seconds)

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None:
        for observer in self._observers:
            observer.on_sink_batch(table, rows, seconds, attempts)

    def on_sink_failure(self, table: str, error: str) -> None:
        for observer in self._observers:
            observer.on_sink_failure(table, error)

    def on_sink_recovered(self, table: str) -> None:
        for observer in self._observers:
            observer.on_sink_recovered(table)

    def on_consumed(self, topic: str, messages: int) -> None:
        for observer in self._observers:
            observer.on_consumed(topic, messages)

    def on_written(self, freshness: Freshness) -> None:
        for observer in self._observers:
            observer.on_written(freshness)

    def on_commits(self, stalled: Mapping[Partition, float]) -> None:
        for observer in self._observers:
            observer.on_commits(stalled)


def consumed_topics(events: Sequence[Any]) -> dict[str, int]:
    """Messages per topic in one ``take_events`` batch."""
    counts: dict[str, int] = {}
    for event in events:
        topic = event.message.topic
        counts[topic] = counts.get(topic, 0) + 1
    return counts


def reason_codes(rejected: Rejected) -> tuple[str, ...]:
    """A rejection's reason codes; decode failures carry theirs only in the record."""
    if rejected.reason_codes:
        return rejected.reason_codes
    reasons = rejected.record.get("reasons") or ()
    return tuple(dict.fromkeys(str(reason["code"]) for reason in reasons)) or ("UNKNOWN",)


def batch_outcome(
    valid: Iterable[str | None],
    rejected: Iterable[tuple[tuple[str, ...], str | None]],
    dropped: Mapping[str, int],
) -> BatchOutcome:
    """Counts for the observers from the valid households' districts and the rejections."""
    reasons: Counter[str] = Counter()
    districts: Counter[tuple[str, str]] = Counter()
    valid_count = rejected_count = 0
    for district in valid:
        valid_count += 1
        districts[(district or UNKNOWN_DISTRICT, "valid")] += 1
    for codes, district in rejected:
        rejected_count += 1
        reasons.update(codes)
        districts[(district or UNKNOWN_DISTRICT, "rejected")] += 1
    return BatchOutcome(valid_count, rejected_count, dict(dropped), dict(reasons), dict(districts))

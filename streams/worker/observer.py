"""What the worker reports about itself, behind one small interface.

Agents call the observer; they never touch Prometheus. The default
:class:`WorkerStats` keeps the counters health and readiness need (and that
tests read); the Prometheus observer in ``monitoring`` implements the same
protocol with an injected registry.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Protocol

from processors.pipeline import BatchResult


class WorkerObserver(Protocol):
    """Hooks the agents call; each must be cheap and never raise."""

    def on_processed(self, messages: int, result: BatchResult, seconds: float) -> None: ...

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None: ...

    def on_sink_failure(self, table: str, error: str) -> None: ...

    def on_sink_recovered(self, table: str) -> None: ...


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
    last_activity: float = field(default_factory=time.monotonic)

    def on_processed(self, messages: int, result: BatchResult, seconds: float) -> None:
        del seconds
        self.processed += messages
        self.valid += len(result.valid)
        self.rejected += len(result.rejected)
        for verdict, count in result.dropped.items():
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


class Fanout:
    """Several observers behind one (the stats and the Prometheus metrics)."""

    def __init__(self, *observers: WorkerObserver) -> None:
        self._observers = observers

    def on_processed(self, messages: int, result: BatchResult, seconds: float) -> None:
        for observer in self._observers:
            observer.on_processed(messages, result, seconds)

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None:
        for observer in self._observers:
            observer.on_sink_batch(table, rows, seconds, attempts)

    def on_sink_failure(self, table: str, error: str) -> None:
        for observer in self._observers:
            observer.on_sink_failure(table, error)

    def on_sink_recovered(self, table: str) -> None:
        for observer in self._observers:
            observer.on_sink_recovered(table)

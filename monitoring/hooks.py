"""The hooks a worker calls and the plain facts they carry: what monitoring observes.

Monitoring defines what it wants to hear and the worker (``streams``) calls
it; the facts are counts and numbers, not the pipeline's records, so this
package imports neither the rules nor the wiring, and a change of either
cannot break a dashboard without breaking this contract first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

#: The district label of a submission whose location did not resolve to a district.
UNKNOWN_DISTRICT = "unknown"

#: The ``sink`` label of a batch the worker holds: ClickHouse did not take its rows,
#: or the broker did not acknowledge its output records.
SINK_CLICKHOUSE = "households"
SINK_PUBLISH = "publish"
#: The paradata agent's batch (enumerator_events and its rejections) held for ClickHouse.
SINK_PARADATA = "paradata"
SINKS = (SINK_CLICKHOUSE, SINK_PUBLISH, SINK_PARADATA)

#: (topic, partition).
Partition = tuple[str, int]


@dataclass(frozen=True)
class BatchOutcome:
    """What one processing batch decided, in counts."""

    valid: int = 0
    rejected: int = 0
    #: Dropped submissions by dedup verdict (duplicate, stale, ...).
    dropped: Mapping[str, int] = field(default_factory=dict)
    #: Rejections by reason code (one rejection may count under several codes).
    reasons: Mapping[str, int] = field(default_factory=dict)
    #: Submissions by (district, "valid" | "rejected"); dropped ones are not counted.
    districts: Mapping[tuple[str, str], int] = field(default_factory=dict)


@dataclass(frozen=True)
class Freshness:
    """How old the household rows of one insert were when ClickHouse took them, in seconds.

    ``since_finished`` starts at the interview's end on the tablet's clock (offline
    days included: the field's delay); ``since_received`` starts at the Kafka
    record timestamp of the submission (the platform's own delay). Negative ages
    from tablet clocks running ahead count as 0.
    """

    since_finished: list[float]
    since_received: list[float]


class WorkerObserver(Protocol):
    """Hooks the worker calls; each must be cheap and never raise."""

    def on_processed(self, messages: int, outcome: BatchOutcome, seconds: float) -> None: ...

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None: ...

    def on_sink_failure(self, table: str, error: str) -> None: ...

    def on_sink_recovered(self, table: str) -> None: ...

    def on_consumed(self, topic: str, messages: int) -> None: ...

    def on_written(self, freshness: Freshness) -> None: ...

    def on_commits(self, stalled: Mapping[Partition, float]) -> None: ...


#: Outcomes of the worker's per-batch NIK lookup; all but ``ok`` fall back to memory.
NIK_LOOKUP_OUTCOMES = ("ok", "timeout", "error", "busy")


class NikLookupObserver(Protocol):
    """Told how each per-batch lookup of NIKs in ClickHouse went (cheap, never raises)."""

    def on_nik_lookup(self, outcome: str, seconds: float) -> None: ...


@dataclass(frozen=True)
class ParadataBatch:
    """What one batch of enumerator events became, in counts and instants.

    ``newest_event`` and ``newest_sync`` are the latest device times (epoch
    seconds) of any stored event and of a SYNC in the batch, None when none:
    their age on a dashboard says whether the field still reports at all.
    """

    stored: Mapping[str, int] = field(default_factory=dict)  # by event type
    rejected: Mapping[str, int] = field(default_factory=dict)  # by reason code
    newest_event: float | None = None
    newest_sync: float | None = None


class ParadataObserver(Protocol):
    """Told what each paradata batch stored and refused (cheap, never raises)."""

    def on_paradata(self, batch: ParadataBatch) -> None: ...

"""The worker's Prometheus observer: the ``WorkerObserver`` hooks as metric updates.

The worker calls the same hooks whatever observes them (:mod:`monitoring.hooks`
defines them and the facts they carry; the worker's runtime fans each call out
to the in-process stats and to this class). Every hook is a handful of counter increments, so it
stays cheap on the hot path; the per-row latency observations run in the sink's
ClickHouse thread, not in the event loop.

Series an alert or a dashboard needs before anything happened (a sink that has
never failed, a district that has sent nothing yet) are created at 0 up front:
``absent`` would otherwise be the only way to see them, and a district that
never sends would never raise "no submissions from a district".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping

from monitoring.hooks import NIK_LOOKUP_OUTCOMES, SINKS, BatchOutcome, Freshness
from monitoring.metrics import OUTCOMES, SINK_TABLES, WorkerMetrics


class PrometheusObserver:
    """Implements :class:`monitoring.hooks.WorkerObserver` on :class:`WorkerMetrics`."""

    def __init__(
        self,
        metrics: WorkerMetrics,
        *,
        valid_topic: str,
        rejected_topic: str,
        districts: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.metrics = metrics
        self._valid_topic = valid_topic
        self._rejected_topic = rejected_topic
        self._clock = clock
        self._watched: set[tuple[str, str]] = set()
        self._initialise(sorted(set(districts)))

    def _initialise(self, districts: list[str]) -> None:
        m = self.metrics
        for topic in (self._valid_topic, self._rejected_topic):
            m.events_out.labels(topic)
        for outcome in OUTCOMES:
            m.submissions.labels(outcome)
        for sink in SINKS:
            m.sink_failing.labels(sink).set(0)
            m.sink_failures.labels(sink)
        for table in SINK_TABLES:
            m.sink_rows.labels(table)
            m.sink_batches.labels(table)
        for district in districts:
            for outcome in ("valid", "rejected"):
                m.district_submissions.labels(district, outcome)
        for outcome in NIK_LOOKUP_OUTCOMES:
            m.nik_lookups.labels(outcome)

    def on_processed(self, messages: int, outcome: BatchOutcome, seconds: float) -> None:
        """One processing batch: outcomes, reasons, verdicts, districts, duration."""
        m = self.metrics
        m.process_seconds.observe(seconds)
        m.process_messages.observe(messages)
        m.events_out.labels(self._valid_topic).inc(outcome.valid)
        m.events_out.labels(self._rejected_topic).inc(outcome.rejected)
        m.submissions.labels("valid").inc(outcome.valid)
        m.submissions.labels("rejected").inc(outcome.rejected)
        m.submissions.labels("dropped").inc(sum(outcome.dropped.values()))
        for verdict, count in outcome.dropped.items():
            m.duplicates.labels(verdict).inc(count)
        for reason, count in outcome.reasons.items():
            m.rejections.labels(reason).inc(count)
        for (district, decided), count in outcome.districts.items():
            m.district_submissions.labels(district, decided).inc(count)
        m.last_processed.set(self._clock())

    def on_consumed(self, topic: str, messages: int) -> None:
        """Messages an agent took from ``topic``."""
        self.metrics.events_in.labels(topic).inc(messages)

    def on_sink_batch(self, table: str, rows: int, seconds: float, attempts: int) -> None:
        """One insert into ``table`` went in (empty blocks are not inserts: skipped)."""
        del attempts
        if rows <= 0:
            return
        m = self.metrics
        m.sink_rows.labels(table).inc(rows)
        m.sink_batches.labels(table).inc()
        m.sink_batch_rows.labels(table).observe(rows)
        m.sink_seconds.labels(table).observe(seconds)
        m.sink_last_write.labels(table).set(self._clock())

    def on_sink_failure(self, table: str, error: str) -> None:
        """A sink's batch was refused; ``table`` is the sink's name (households, rejections)."""
        del error  # the log has it; an error text is not a label
        self.metrics.sink_failures.labels(table).inc()
        self.metrics.sink_failing.labels(table).set(1)

    def on_sink_recovered(self, table: str) -> None:
        """The held batch went in after all."""
        self.metrics.sink_failing.labels(table).set(0)

    def on_written(self, freshness: Freshness) -> None:
        """Latency of every household row of one insert."""
        for age in freshness.since_finished:
            self.metrics.interview_to_row.observe(age)
        for age in freshness.since_received:
            self.metrics.kafka_to_row.observe(age)

    def on_commits(self, stalled: Mapping[tuple[str, int], float]) -> None:
        """Stalled seconds per assigned partition; revoked partitions lose their series."""
        gauge = self.metrics.commit_stalled
        now = {(topic, str(partition)): seconds for (topic, partition), seconds in stalled.items()}
        for labels in self._watched - set(now):
            gauge.remove(*labels)
        for labels, seconds in now.items():
            gauge.labels(*labels).set(seconds)
        self._watched = set(now)

    def on_nik_lookup(self, outcome: str, seconds: float) -> None:
        """One batch's NIK lookup (:class:`monitoring.hooks.NikLookupObserver`)."""
        self.metrics.nik_lookups.labels(outcome).inc()
        if outcome == "ok":
            self.metrics.nik_lookup_seconds.observe(seconds)

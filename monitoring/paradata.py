"""Metric families of the paradata agent, and its observer (hooks.ParadataObserver).

Apart from :mod:`monitoring.metrics` because the families belong to one agent:
what the field apps report about their own work. No label per enumerator (4,000
in one regency): per-enumerator figures are ClickHouse's views
(``enumerator_activity``); Prometheus gets the field as a whole, by event type.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from monitoring.hooks import ParadataBatch

#: EnumeratorEventType symbols (schema v2); their series exist at 0 from the start.
EVENT_TYPES = (
    "LOGIN",
    "SYNC",
    "HEARTBEAT",
    "ASSIGNMENT_ACCEPTED",
    "ASSIGNMENT_FINISHED",
    "INTERVIEW_STARTED",
    "INTERVIEW_FINISHED",
)


@dataclass(frozen=True)
class ParadataMetrics:
    """Events stored and refused, and how recent the field's last event and sync are."""

    events: Counter
    rejections: Counter
    last_event: Gauge
    last_sync: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ParadataMetrics:
        """Register the families on ``registry`` (once per registry)."""
        return cls(
            events=Counter(
                "regsosek_paradata_events",
                "Enumerator events (paradata) stored in enumerator_events, per event type.",
                ["event_type"],
                registry=registry,
            ),
            rejections=Counter(
                "regsosek_paradata_rejections",
                "Enumerator events refused (undecodable or unplaceable), per reason code.",
                ["reason"],
                registry=registry,
            ),
            last_event=Gauge(
                "regsosek_paradata_last_event_timestamp_seconds",
                "Device time of the newest enumerator event stored (clocks ahead of the "
                "worker's ignored); 0 before the first.",
                registry=registry,
            ),
            last_sync=Gauge(
                "regsosek_paradata_last_sync_timestamp_seconds",
                "Device time of the newest SYNC event stored, any enumerator; 0 before the "
                "first. time() minus it: how long no tablet has synchronised.",
                registry=registry,
            ),
        )


class PrometheusParadataObserver:
    """Implements :class:`monitoring.hooks.ParadataObserver` on :class:`ParadataMetrics`."""

    def __init__(self, metrics: ParadataMetrics) -> None:
        self.metrics = metrics
        self._newest = {"event": 0.0, "sync": 0.0}
        for event_type in EVENT_TYPES:
            metrics.events.labels(event_type)

    def on_paradata(self, batch: ParadataBatch) -> None:
        """Counts of one batch; the timestamps only ever move forward."""
        m = self.metrics
        for event_type, count in batch.stored.items():
            m.events.labels(event_type).inc(count)
        for reason, count in batch.rejected.items():
            m.rejections.labels(reason).inc(count)
        self._advance("event", m.last_event, batch.newest_event)
        self._advance("sync", m.last_sync, batch.newest_sync)

    def _advance(self, name: str, gauge: Gauge, value: float | None) -> None:
        """Set ``gauge`` to ``value`` when it is newer (a replayed old batch leaves it)."""
        if value is not None and value > self._newest[name]:
            self._newest[name] = value
            gauge.set(value)

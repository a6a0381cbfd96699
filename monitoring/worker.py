"""Instrument one worker's Faust app: one registry, one ``/metrics`` page.

Faust's own Prometheus sensor (``faust.sensors.prometheus``) and the platform's
families share the registry the caller injects, and Faust's
``setup_prometheus_sensors`` serves that registry on the app's web server, so
operators scrape a single page. The sensor costs a few counter updates per
event (about 10 microseconds), next to Faust's own per-event overhead.

Also wired here, because they hang off the Faust app rather than off the
agents: the rebalance counter (``on_partitions_assigned`` signal), the
``worker_up`` gauge (0 on ``on_before_shutdown``) and the consumer-lag refresh
timer.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry

from monitoring.lag import REFRESH_SECONDS, ConsumerLag, KafkaOffsets, OffsetSource
from monitoring.metrics import FAUST_PREFIX, WorkerMetrics, add_process_collectors
from monitoring.observer import PrometheusObserver
from monitoring.paradata import ParadataMetrics, PrometheusParadataObserver
from schemas.frame import Frame
from schemas.regions import Level, RegionMaster


@dataclass(frozen=True)
class WorkerTopics:
    """The worker's consumer group and the topics it reads and writes."""

    group: str
    submissions: str
    valid: str
    rejected: str
    #: The enumerator-events topic, when the worker consumes paradata.
    paradata: str | None = None

    @property
    def inputs(self) -> list[str]:
        """What the group consumes: submissions and paradata (the outputs are for others)."""
        return [self.submissions, *([self.paradata] if self.paradata else [])]


@dataclass
class WorkerMonitoring:
    """What :func:`instrument_worker` set up; ``observer`` goes to the agents."""

    registry: CollectorRegistry
    metrics: WorkerMetrics
    observer: PrometheusObserver
    lag: ConsumerLag
    paradata: PrometheusParadataObserver


def instrument_worker(
    app: Any,
    topics: WorkerTopics,
    *,
    bootstrap: str,
    districts: Iterable[str] = (),
    registry: CollectorRegistry | None = None,
    offsets: OffsetSource | None = None,
    kafka_options: Mapping[str, Any] | None = None,
) -> WorkerMonitoring:
    """Metrics, Faust's sensor, the lag collector and the app signals, on one registry.

    ``kafka_options`` are the lag reader's kafka-python security arguments.
    """
    from faust.sensors.prometheus import setup_prometheus_sensors  # noqa: PLC0415 - heavy

    registry = registry if registry is not None else CollectorRegistry()
    add_process_collectors(registry)
    metrics = WorkerMetrics.create(registry)
    setup_prometheus_sensors(app, pattern="/metrics", registry=registry, name_prefix=FAUST_PREFIX)
    observer = PrometheusObserver(
        metrics, valid_topic=topics.valid, rejected_topic=topics.rejected, districts=districts
    )
    lag = ConsumerLag(
        offsets or KafkaOffsets(bootstrap, kafka_options),
        topics.group,
        topics.inputs,
        metrics.lag_refresh_errors,
    )
    registry.register(lag)
    _connect(app, metrics, lag)
    metrics.worker_up.set(1)
    paradata = PrometheusParadataObserver(ParadataMetrics.create(registry))
    return WorkerMonitoring(registry, metrics, observer, lag, paradata)


def _connect(app: Any, metrics: WorkerMetrics, lag: ConsumerLag) -> None:
    """Signals and the lag timer; Faust keeps strong references to these closures."""
    shown: set[str] = set()

    async def on_assigned(sender: Any, assigned: Any, **kwargs: Any) -> None:
        del sender, kwargs
        metrics.rebalances.inc()
        update_assignment(metrics, shown, [(tp.topic, tp.partition) for tp in assigned])

    async def on_shutdown(sender: Any, **kwargs: Any) -> None:
        del sender, kwargs
        metrics.worker_up.set(0)
        await asyncio.to_thread(lag.close)

    async def refresh_lag() -> None:
        await asyncio.to_thread(lag.refresh)

    app.on_partitions_assigned.connect(on_assigned)
    app.on_before_shutdown.connect(on_shutdown)
    # Faust's timer first fires one interval after the app started: refresh once at start
    # too (Faust runs tasks once the worker is ready), so the gauge comes with the first scrape.
    app.task(refresh_lag)
    app.timer(interval=REFRESH_SECONDS, name="regsosek-consumer-lag")(refresh_lag)


def update_assignment(
    metrics: WorkerMetrics, shown: set[str], assigned: Sequence[tuple[str, int]]
) -> None:
    """Partitions per topic now; topics no longer assigned lose their series."""
    counts: dict[str, int] = {}
    for topic, _partition in assigned:
        counts[topic] = counts.get(topic, 0) + 1
    for topic in shown - set(counts):
        metrics.assigned_partitions.remove(topic)
    for topic, count in counts.items():
        metrics.assigned_partitions.labels(topic).set(count)
    shown.clear()
    shown.update(counts)


def frame_districts(frame: Frame, regions: RegionMaster) -> set[str]:
    """Districts the enumeration frame assigns work in (their series start at 0)."""
    villages = {village for cells in frame.assignments.values() for village, _ in cells}
    villages |= {village for village, _ in frame.targets}
    districts: set[str] = set()
    for code in villages:
        region = regions.get(code)
        if region is not None and region.level is Level.VILLAGE and region.parent_code:
            districts.add(region.parent_code)
            continue
        # A BPS village code (10 digits): its first 7 are the district, which the
        # master knows through the BPS bridge.
        district = regions.from_bps(code[:7]) if code.isdigit() else None
        if district is not None and district.level is Level.DISTRICT:
            districts.add(district.code)
    return districts

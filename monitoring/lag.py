"""Consumer lag per topic and partition, as the broker sees it, for the worker's group.

Lag = the partition's end offset minus the group's committed offset (the log
start when the group has committed nothing yet): the messages the pipeline has
still to take. It is read from the broker, not from the worker's own consumer,
so it covers every partition of the group, including those of a worker that
died, and it keeps rising while the worker is stuck.

Reading offsets is network I/O, so it never runs at scrape time in the event
loop: the worker refreshes a snapshot on a timer in a thread
(:data:`REFRESH_SECONDS`), and the collector hands out the last snapshot. One
admin client and one group-less consumer are kept open between refreshes and
rebuilt after an error.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

log = logging.getLogger(__name__)

#: How often the worker asks the broker; alerts look at minutes, so seconds are plenty.
REFRESH_SECONDS = 5.0
TIMEOUT_MS = 5000
LAG_FAMILY = "regsosek_consumer_lag_messages"
#: When the snapshot was read: a lag of 0 read before the last batch arrived is not "caught
#: up", and a refresh that keeps failing leaves an old figure that only this age reveals.
SNAPSHOT_FAMILY = "regsosek_consumer_lag_snapshot_timestamp_seconds"

Partition = tuple[str, int]


class OffsetSource(Protocol):
    """Where offsets come from (the broker; a stub in unit tests)."""

    def log_offsets(
        self, topics: Sequence[str]
    ) -> tuple[dict[Partition, int], dict[Partition, int]]:
        """(log start offsets, end offsets) of every partition of ``topics``."""
        ...

    def committed(self, group: str) -> dict[Partition, int]:
        """Offsets ``group`` has committed."""
        ...

    def close(self) -> None:
        """Release connections (they are rebuilt on the next call)."""
        ...


def compute_lag(
    starts: Mapping[Partition, int],
    ends: Mapping[Partition, int],
    committed: Mapping[Partition, int],
) -> dict[Partition, int]:
    """Messages not yet committed, per partition; never negative."""
    lag: dict[Partition, int] = {}
    for partition, end in ends.items():
        done = committed.get(partition)
        if done is None or done < 0:
            done = starts.get(partition, 0)
        lag[partition] = max(end - done, 0)
    return lag


class ConsumerLag(Collector):
    """A cached lag snapshot: :meth:`refresh` in a thread, :meth:`collect` at scrape time."""

    def __init__(
        self, source: OffsetSource, group: str, topics: Sequence[str], errors: Counter
    ) -> None:
        self._source = source
        self._group = group
        self._topics = list(topics)
        self._errors = errors
        self._lag: dict[Partition, int] = {}
        self._read_at: float | None = None
        # One refresh at a time: the clients are not thread-safe, and a slow refresh that
        # finished after a newer one would put an old snapshot back.
        self._refreshing = threading.Lock()

    @property
    def snapshot(self) -> dict[Partition, int]:
        return dict(self._lag)

    @property
    def read_at(self) -> float | None:
        """Unix time of the last successful read; ``None`` before the first one."""
        return self._read_at

    def refresh(self) -> None:
        """Ask the broker once; on failure keep the last snapshot and count the error."""
        with self._refreshing:
            self._refresh()

    def _refresh(self) -> None:
        try:
            starts, ends = self._source.log_offsets(self._topics)
            committed = self._source.committed(self._group)
        except Exception as exc:  # any broker or network failure: try again next round
            self._errors.inc()
            log.warning("consumer lag of %s not refreshed: %s", self._group, exc)
            self._source.close()
            return
        read_at = time.time()
        self._lag = compute_lag(starts, ends, committed)  # one reference swap: thread-safe
        self._read_at = read_at

    def close(self) -> None:
        """Close the broker connections."""
        self._source.close()

    def describe(self) -> Iterator[Metric]:
        """The families without samples, so registering does not read offsets."""
        yield self._family()
        yield self._snapshot_family()

    def collect(self) -> Iterator[Metric]:
        """The last snapshot, without I/O."""
        family = self._family()
        for (topic, partition), lag in sorted(self._lag.items()):
            family.add_metric([topic, str(partition)], lag)
        yield family
        read_at = self._snapshot_family()
        if self._read_at is not None:
            read_at.add_metric([], self._read_at)
        yield read_at

    @staticmethod
    def _snapshot_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            SNAPSHOT_FAMILY, "Unix time the consumer lag snapshot was read from the broker."
        )

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            LAG_FAMILY,
            "Messages on the topic not yet committed by the worker group, per partition.",
            labels=["topic", "partition"],
        )


class KafkaOffsets:
    """:class:`OffsetSource` over kafka-python: an admin client and a group-less consumer.

    ``client_options`` are extra kafka-python keyword arguments, ready-made by the
    wiring (security protocol, SCRAM login, CA file): monitoring does not read settings.
    """

    def __init__(self, bootstrap: str, client_options: Mapping[str, Any] | None = None) -> None:
        self._bootstrap = bootstrap
        self._options = dict(client_options or {})
        self._consumer: Any = None
        self._admin: Any = None

    def _clients(self) -> tuple[Any, Any]:
        from kafka import KafkaAdminClient, KafkaConsumer  # noqa: PLC0415 - only when used

        if self._consumer is None:
            self._consumer = KafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id="regsosek-lag",
                enable_auto_commit=False,
                request_timeout_ms=TIMEOUT_MS * 2,
                **self._options,
            )
        if self._admin is None:
            self._admin = KafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id="regsosek-lag",
                request_timeout_ms=TIMEOUT_MS,
                **self._options,
            )
        return self._consumer, self._admin

    def log_offsets(
        self, topics: Sequence[str]
    ) -> tuple[dict[Partition, int], dict[Partition, int]]:
        from kafka import TopicPartition  # noqa: PLC0415

        consumer, _ = self._clients()
        tps = [
            TopicPartition(topic, partition)
            for topic in topics
            for partition in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not tps:
            return {}, {}
        starts = consumer.beginning_offsets(tps, timeout_ms=TIMEOUT_MS)
        ends = consumer.end_offsets(tps, timeout_ms=TIMEOUT_MS)
        return (
            {(tp.topic, tp.partition): int(offset) for tp, offset in starts.items()},
            {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()},
        )

    def committed(self, group: str) -> dict[Partition, int]:
        _, admin = self._clients()
        offsets = admin.list_group_offsets(group).get(group, {})
        return {(tp.topic, tp.partition): int(meta.offset) for tp, meta in offsets.items()}

    def close(self) -> None:
        for client in (self._consumer, self._admin):
            if client is not None:
                try:
                    client.close()
                except Exception as exc:  # closing a broken client must not raise
                    log.debug("closing a lag client failed: %s", exc)
        self._consumer = self._admin = None

"""The Prometheus observers on fresh registries: each hook moves the counters it should.

Issue #7: processing outcomes, rejections by reason, duplicates by verdict,
districts, sink rows and failures, end-to-end latency, the consumer-lag
collector, rebalances, and the gateway's request and submission counters,
without a broker or an engine.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry
from prometheus_client import Counter as PromCounter

from monitoring.gateway import PrometheusGatewayObserver, status_class
from monitoring.hooks import UNKNOWN_DISTRICT, Freshness
from monitoring.hooks import BatchOutcome as Outcome
from monitoring.lag import ConsumerLag, Partition, compute_lag
from monitoring.metrics import WorkerMetrics
from monitoring.observer import PrometheusObserver
from monitoring.worker import frame_districts, update_assignment
from processors.pipeline import Accepted, Rejected
from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import Level, Region, RegionMaster
from sinks.rows import Block
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.sdk import BatchOutcome, Receipt
from streams.worker.observer import (
    Fanout,
    WorkerStats,
    batch_outcome,
    consumed_topics,
    freshness,
    reason_codes,
)

VALID, REJECTED = "p.submissions.valid", "p.submissions.rejected"


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def observer(registry: CollectorRegistry) -> PrometheusObserver:
    return PrometheusObserver(
        WorkerMetrics.create(registry),
        valid_topic=VALID,
        rejected_topic=REJECTED,
        districts=["35.09.02"],
        clock=lambda: 1_700_000_000.0,
    )


def value(registry: CollectorRegistry, name: str, **labels: str) -> float:
    found = registry.get_sample_value(name, labels)
    return 0.0 if found is None else found


def accepted(district: str | None) -> Accepted:
    return Accepted("h", {}, district, ())


def rejected(codes: tuple[str, ...], district: str | None, record: Any = None) -> Rejected:
    return Rejected("h", record or {}, codes, district)


def batch() -> Outcome:
    """The counts the worker hands the observers for three accepted and two rejected."""
    valid = [accepted("35.09.02"), accepted("35.09.02"), accepted(None)]
    refused = [
        rejected(("AGE_RANGE", "NIK_LENGTH"), "35.09.03"),
        rejected((), None, {"reasons": [{"code": "DECODE_BAD_MAGIC_BYTE"}]}),
    ]
    return batch_outcome(
        [a.district for a in valid],
        [(reason_codes(r), r.district) for r in refused],
        Counter({"duplicate": 2, "stale_revision": 1}),
    )


def test_series_exist_before_anything_happens(
    registry: CollectorRegistry, observer: PrometheusObserver
) -> None:
    del observer
    assert registry.get_sample_value("regsosek_sink_failing", {"sink": "households"}) == 0
    assert registry.get_sample_value("regsosek_sink_failing", {"sink": "publish"}) == 0
    labels = {"district": "35.09.02", "outcome": "valid"}
    assert registry.get_sample_value("regsosek_district_submissions_total", labels) == 0
    for outcome in ("valid", "rejected", "dropped"):
        labels = {"outcome": outcome}
        assert registry.get_sample_value("regsosek_submissions_processed_total", labels) == 0


def test_processed_batch_moves_outcomes_reasons_verdicts_and_districts(
    registry: CollectorRegistry, observer: PrometheusObserver
) -> None:
    observer.on_processed(8, batch(), 0.2)
    total = "regsosek_submissions_processed_total"
    assert value(registry, total, outcome="valid") == 3
    assert value(registry, total, outcome="rejected") == 2
    assert value(registry, total, outcome="dropped") == 3
    assert value(registry, "regsosek_events_out_total", topic=VALID) == 3
    assert value(registry, "regsosek_events_out_total", topic=REJECTED) == 2
    assert value(registry, "regsosek_rejections_total", reason="AGE_RANGE") == 1
    assert value(registry, "regsosek_rejections_total", reason="NIK_LENGTH") == 1
    assert value(registry, "regsosek_rejections_total", reason="DECODE_BAD_MAGIC_BYTE") == 1
    assert value(registry, "regsosek_duplicates_dropped_total", verdict="duplicate") == 2
    assert value(registry, "regsosek_duplicates_dropped_total", verdict="stale_revision") == 1
    district = "regsosek_district_submissions_total"
    assert value(registry, district, district="35.09.02", outcome="valid") == 2
    assert value(registry, district, district=UNKNOWN_DISTRICT, outcome="valid") == 1
    assert value(registry, district, district="35.09.03", outcome="rejected") == 1
    assert value(registry, district, district=UNKNOWN_DISTRICT, outcome="rejected") == 1
    assert value(registry, "regsosek_process_batch_duration_seconds_count") == 1
    assert value(registry, "regsosek_process_batch_duration_seconds_sum") == pytest.approx(0.2)
    assert value(registry, "regsosek_process_batch_messages_sum") == 8
    assert value(registry, "regsosek_last_processed_timestamp_seconds") == 1_700_000_000.0
    observer.on_consumed("p.submissions", 8)
    assert value(registry, "regsosek_events_in_total", topic="p.submissions") == 8


def test_a_rejection_without_codes_is_still_counted() -> None:
    assert reason_codes(rejected((), None, {"reasons": []})) == ("UNKNOWN",)
    assert reason_codes(rejected(("A", "B"), None)) == ("A", "B")


def test_sink_hooks(registry: CollectorRegistry, observer: PrometheusObserver) -> None:
    observer.on_sink_batch("households", 1200, 0.4, 1)
    observer.on_sink_batch("members", 4800, 0.4, 1)
    observer.on_sink_batch("rejection_payloads", 0, 0.4, 1)  # an empty block is no insert
    assert value(registry, "regsosek_sink_rows_total", table="households") == 1200
    assert value(registry, "regsosek_sink_batches_total", table="members") == 1
    assert value(registry, "regsosek_sink_batches_total", table="rejection_payloads") == 0
    assert value(registry, "regsosek_sink_batch_rows_bucket", table="households", le="1000.0") == 0
    assert value(registry, "regsosek_sink_batch_rows_bucket", table="households", le="2500.0") == 1
    assert value(registry, "regsosek_sink_flush_duration_seconds_count", table="households") == 1
    last = "regsosek_sink_last_write_timestamp_seconds"
    assert value(registry, last, table="households") == 1_700_000_000.0

    observer.on_sink_failure("households", "Connection refused")
    observer.on_sink_failure("households", "Connection refused")
    assert value(registry, "regsosek_sink_failures_total", sink="households") == 2
    assert value(registry, "regsosek_sink_failing", sink="households") == 1
    observer.on_sink_recovered("households")
    assert value(registry, "regsosek_sink_failing", sink="households") == 0


def test_written_rows_feed_both_latency_histograms(
    registry: CollectorRegistry, observer: PrometheusObserver
) -> None:
    written = dt.datetime(2022, 10, 20, 3, 0, 2, tzinfo=dt.UTC)
    block = Block(
        "households",
        ["household_id", "finished_at", "received_at"],
        [
            [
                "a",
                dt.datetime(2022, 10, 20, 2, 0, tzinfo=dt.UTC),
                written - dt.timedelta(seconds=1),
            ],
            # naive means UTC (as clickhouse-connect returns it); no Kafka timestamp
            ["b", dt.datetime(2022, 10, 19, 3, 0, tzinfo=dt.UTC).replace(tzinfo=None), None],
            ["c", written + dt.timedelta(minutes=5), written],  # tablet clock ahead: 0
        ],
    )
    ages = freshness(block, written)
    assert ages == Freshness([3602.0, 86402.0, 0.0], [1.0, 0.0])
    assert freshness(Block("members", ["finished_at"], [[written]]), written) is None
    assert freshness(Block("households", [], []), written) is None

    observer.on_written(ages)
    assert value(registry, "regsosek_interview_to_row_seconds_count") == 3
    assert value(registry, "regsosek_interview_to_row_seconds_bucket", le="3600.0") == 1
    assert value(registry, "regsosek_interview_to_row_seconds_bucket", le="86400.0") == 2
    assert value(registry, "regsosek_kafka_to_row_seconds_count") == 2
    assert value(registry, "regsosek_kafka_to_row_seconds_bucket", le="1.0") == 2


def test_fanout_feeds_stats_and_prometheus(
    registry: CollectorRegistry, observer: PrometheusObserver
) -> None:
    stats = WorkerStats()
    fanout = Fanout(stats, observer)
    fanout.on_processed(8, batch(), 0.1)
    fanout.on_sink_batch("households", 3, 0.1, 1)
    fanout.on_sink_failure("publish", "down")
    fanout.on_consumed("t", 2)
    fanout.on_written(Freshness([1.0], [1.0]))
    assert (stats.processed, stats.valid, stats.rejected) == (8, 3, 2)
    assert stats.sink_failing == {"publish": "down"}
    fanout.on_sink_recovered("publish")
    assert stats.sink_failing == {}
    assert value(registry, "regsosek_sink_rows_total", table="households") == 3
    assert value(registry, "regsosek_events_in_total", topic="t") == 2


class FakeMessage:
    def __init__(self, topic: str) -> None:
        self.topic = topic


class FakeEvent:
    def __init__(self, topic: str) -> None:
        self.message = FakeMessage(topic)


def test_consumed_topics_counts_a_batch() -> None:
    events = [FakeEvent("a"), FakeEvent("b"), FakeEvent("a")]
    assert consumed_topics(events) == {"a": 2, "b": 1}


# --- consumer lag ----------------------------------------------------------------------


class StubOffsets:
    def __init__(self) -> None:
        self.fail = False
        self.closed = 0
        self.starts = {("t", 0): 0, ("t", 1): 100}
        self.ends = {("t", 0): 50, ("t", 1): 150}
        self.commits = {("t", 0): 20}

    def log_offsets(
        self, topics: Sequence[str]
    ) -> tuple[dict[Partition, int], dict[Partition, int]]:
        if self.fail:
            raise ConnectionError("broker gone")
        return self.starts, self.ends

    def committed(self, group: str) -> dict[Partition, int]:
        return self.commits

    def close(self) -> None:
        self.closed += 1


def test_lag_is_end_minus_committed_or_log_start() -> None:
    assert compute_lag({("t", 0): 5}, {("t", 0): 9, ("t", 1): 3}, {("t", 1): 7}) == {
        ("t", 0): 4,  # nothing committed yet: from the log start
        ("t", 1): 0,  # never negative
    }


def test_lag_collector_serves_its_snapshot_and_survives_errors(registry: CollectorRegistry) -> None:
    errors = PromCounter("errors", "errors", registry=registry)
    source = StubOffsets()
    lag = ConsumerLag(source, "g", ["t"], errors)
    registry.register(lag)
    assert (
        registry.get_sample_value(
            "regsosek_consumer_lag_messages", {"topic": "t", "partition": "0"}
        )
        is None
    )
    lag.refresh()
    sample = registry.get_sample_value
    assert sample("regsosek_consumer_lag_messages", {"topic": "t", "partition": "0"}) == 30
    assert sample("regsosek_consumer_lag_messages", {"topic": "t", "partition": "1"}) == 50
    read_at = sample("regsosek_consumer_lag_snapshot_timestamp_seconds")
    assert read_at is not None and abs(read_at - time.time()) < 60
    source.fail = True
    lag.refresh()  # keeps the last snapshot and its time, counts the error, rebuilds its clients
    assert sample("regsosek_consumer_lag_messages", {"topic": "t", "partition": "1"}) == 50
    assert sample("regsosek_consumer_lag_snapshot_timestamp_seconds") == read_at
    assert sample("errors_total") == 1 and source.closed == 1


def test_assigned_partitions_follow_rebalances(registry: CollectorRegistry) -> None:
    metrics = WorkerMetrics.create(registry)
    shown: set[str] = set()
    update_assignment(metrics, shown, [("a", 0), ("a", 1), ("b", 0)])
    assert registry.get_sample_value("regsosek_worker_assigned_partitions", {"topic": "a"}) == 2
    update_assignment(metrics, shown, [("b", 0), ("b", 1)])
    assert registry.get_sample_value("regsosek_worker_assigned_partitions", {"topic": "a"}) is None
    assert registry.get_sample_value("regsosek_worker_assigned_partitions", {"topic": "b"}) == 2


def test_frame_districts_from_master_and_bps_village_codes() -> None:
    regions = RegionMaster.from_regions(
        [
            Region(Level.DISTRICT, "35.09.02", "35.09", "Kencong", "3509010"),
            Region(Level.VILLAGE, "35.09.02.2001", "35.09.02", "Cakru"),
            Region(Level.DISTRICT, "35.09.03", "35.09", "Jombang", "3509020"),
        ]
    )
    frame = Frame.build(
        [Enumerator("E1", "S1", "35.09")],
        [Assignment("E1", "35.09.02.2001", "0001")],
        [Target("3509020005", "0001", 3), Target("99.99.99.9999", "0001", 1)],
    )
    assert frame_districts(frame, regions) == {"35.09.02", "35.09.03"}


# --- the gateway -----------------------------------------------------------------------


class Publisher:
    topic = "regsosek.submissions"

    def publish(self, record: Any) -> Receipt:
        return Receipt(self.topic, 0, 0, record["submission_id"])

    def publish_batch(self, records: Sequence[Any]) -> list[BatchOutcome]:
        return [self.publish(record) for record in records]

    def close(self) -> None:
        return None


def test_status_class() -> None:
    assert [status_class(s) for s in (202, 207, 404, 503)] == ["2xx", "2xx", "4xx", "5xx"]


def test_gateway_counts_requests_and_submissions() -> None:
    observer = PrometheusGatewayObserver.create(CollectorRegistry())
    app = create_app(
        GatewayConfig(bootstrap="127.0.0.1:1"),
        TokenStore.from_mapping({"gateway-unit-token-0123": "0412"}),
        Publisher(),
        observer,
    )

    async def go() -> tuple[int, str, str]:
        async with TestClient(TestServer(app)) as client:
            assert (await client.post("/v1/submissions", json={})).status == 401
            assert (await client.get("/no/such/path/123")).status == 404
            assert (await client.get("/healthz")).status == 200
            page = await client.get("/metrics")
            return page.status, page.headers["Content-Type"], await page.text()

    status, content_type, text = asyncio.run(go())
    assert status == 200 and content_type.startswith("text/plain")
    sample = observer.registry.get_sample_value
    requests = "regsosek_gateway_requests_total"
    labels = {"route": "/v1/submissions", "method": "POST", "status_class": "4xx"}
    assert sample(requests, labels) == 1
    assert sample(requests, {"route": "unmatched", "method": "GET", "status_class": "4xx"}) == 1
    assert sample("regsosek_gateway_submissions_refused_total", {"status": "401"}) == 1
    assert 'route="/healthz"' in text  # the earlier request is on the page


def test_gateway_observer_sorts_submission_outcomes() -> None:
    observer = PrometheusGatewayObserver.create(CollectorRegistry())
    observer.on_submissions([202, 202, 503, 400, 403, 400])
    sample = observer.registry.get_sample_value
    assert sample("regsosek_gateway_submissions_accepted_total") == 2
    assert sample("regsosek_gateway_kafka_publish_failures_total") == 1
    assert sample("regsosek_gateway_submissions_refused_total", {"status": "400"}) == 2
    assert sample("regsosek_gateway_submissions_refused_total", {"status": "403"}) == 1


def test_gateway_without_observer_has_no_metrics_route() -> None:
    app = create_app(GatewayConfig(bootstrap="127.0.0.1:1"), TokenStore(), Publisher())
    assert "/metrics" not in {r.resource.canonical for r in app.router.routes() if r.resource}


def test_gateway_observer_counts_throttles_and_token_reloads() -> None:
    observer = PrometheusGatewayObserver.create(CollectorRegistry())
    observer.on_throttled("rate_limited")
    observer.on_throttled("rate_limited")
    observer.on_throttled("overloaded")
    observer.on_token_reload("loaded", 40)
    observer.on_token_reload("failed", 40)
    observer.on_token_reload("reloaded", 39)
    sample = observer.registry.get_sample_value
    throttled = "regsosek_gateway_throttled_requests_total"
    assert sample(throttled, {"reason": "rate_limited"}) == 2
    assert sample(throttled, {"reason": "overloaded"}) == 1
    reloads = "regsosek_gateway_token_reloads_total"
    assert [sample(reloads, {"outcome": o}) for o in ("loaded", "failed", "reloaded")] == [1, 1, 1]
    assert sample("regsosek_gateway_tokens") == 39


def test_gateway_outcomes_that_alerts_watch_exist_at_zero_from_the_start() -> None:
    observer = PrometheusGatewayObserver.create()
    value = observer.registry.get_sample_value
    assert value("regsosek_gateway_token_reloads_total", {"outcome": "failed"}) == 0
    assert value("regsosek_gateway_throttled_requests_total", {"reason": "rate_limited"}) == 0
    observer.on_token_reload("failed", 3)
    assert value("regsosek_gateway_token_reloads_total", {"outcome": "failed"}) == 1

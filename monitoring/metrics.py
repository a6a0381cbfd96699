"""Every Prometheus metric family of the platform, created on an injected registry.

One place for names, help texts, label sets and buckets, so the README's list,
the dashboards and the alert rules have one source to agree with (a unit test
checks the README names every family created here). Each process builds its
own :class:`~prometheus_client.CollectorRegistry` and passes it in: tests get a
fresh registry each, and nothing lands on prometheus_client's global one.

Labels stay low in cardinality on purpose: a Prometheus series per household
or per enumerator (800,000 and 4,000 in one regency) would swamp the server.
The labels used are topic, partition, table, sink, reason code, dedup verdict,
outcome, HTTP route/method/status class, and district, the last only on one
counter (about 31 districts per regency deployment, 7,285 nationally: a
national deployment should drop it or shard Prometheus per province).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)

#: Prefix of Faust's own sensor families (``faust.sensors.prometheus``); fixed, not
#: the app id, so dashboards do not depend on REGSOSEK_TOPIC_PREFIX.
FAUST_PREFIX = "faust"

#: Tables the sinks write (the label of rows and batches).
SINK_TABLES = ("households", "members", "rejection_payloads")
OUTCOMES = ("valid", "rejected", "dropped")

#: Seconds: a processing batch or a ClickHouse insert.
BATCH_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
#: Rows per insert: the sink aims at thousands (DESIGN: Faust's per-event cost).
BATCH_ROWS = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000, 20_000, 50_000)
#: Messages per processing batch.
BATCH_MESSAGES = (1, 10, 50, 100, 500, 1000, 2500, 5000, 10_000)
#: Kafka record timestamp -> row written: the platform's own freshness, seconds to minutes.
FRESHNESS_SECONDS = (0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0)
HOUR = 3600.0
DAY = 24 * HOUR
#: Interview finished -> row written: includes the hours or days a tablet was offline.
INTERVIEW_SECONDS = (
    60.0,
    300.0,
    900.0,
    1800.0,
    HOUR,
    3 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    3 * DAY,
    7 * DAY,
    14 * DAY,
    30 * DAY,
)
#: Gateway requests: one Kafka acknowledgement (acks=all) is usually milliseconds.
REQUEST_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@dataclass(frozen=True)
class WorkerMetrics:
    """The worker's families: processing, sinks, freshness, the worker itself."""

    events_in: Counter
    events_out: Counter
    submissions: Counter
    rejections: Counter
    duplicates: Counter
    district_submissions: Counter
    process_seconds: Histogram
    process_messages: Histogram
    last_processed: Gauge
    sink_rows: Counter
    sink_batches: Counter
    sink_batch_rows: Histogram
    sink_seconds: Histogram
    sink_failures: Counter
    sink_failing: Gauge
    sink_last_write: Gauge
    interview_to_row: Histogram
    kafka_to_row: Histogram
    worker_up: Gauge
    rebalances: Counter
    assigned_partitions: Gauge
    lag_refresh_errors: Counter
    commit_stalled: Gauge
    nik_lookups: Counter
    nik_lookup_seconds: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> WorkerMetrics:
        """Register the families on ``registry`` (once per registry)."""
        r = registry
        return cls(
            events_in=Counter(
                "regsosek_events_in",
                "Messages the worker's agents consumed, per input topic.",
                ["topic"],
                registry=r,
            ),
            events_out=Counter(
                "regsosek_events_out",
                "Messages the processing stage published, per output topic (valid, rejected).",
                ["topic"],
                registry=r,
            ),
            submissions=Counter(
                "regsosek_submissions_processed",
                "Submissions decided by the processing stage: valid, rejected or dropped.",
                ["outcome"],
                registry=r,
            ),
            rejections=Counter(
                "regsosek_rejections",
                "Rejected submissions per reason code (one with two reasons counts under both).",
                ["reason"],
                registry=r,
            ),
            duplicates=Counter(
                "regsosek_duplicates_dropped",
                "Submissions dropped by deduplication, per verdict.",
                ["verdict"],
                registry=r,
            ),
            district_submissions=Counter(
                "regsosek_district_submissions",
                "Valid and rejected submissions per district (kecamatan, region-master code).",
                ["district", "outcome"],
                registry=r,
            ),
            process_seconds=Histogram(
                "regsosek_process_batch_duration_seconds",
                "Time to decide, publish and acknowledge one processing batch.",
                buckets=BATCH_SECONDS,
                registry=r,
            ),
            process_messages=Histogram(
                "regsosek_process_batch_messages",
                "Messages per processing batch.",
                buckets=BATCH_MESSAGES,
                registry=r,
            ),
            last_processed=Gauge(
                "regsosek_last_processed_timestamp_seconds",
                "Unix time the processing stage finished its last batch.",
                registry=r,
            ),
            sink_rows=Counter(
                "regsosek_sink_rows",
                "Rows written to ClickHouse, per table.",
                ["table"],
                registry=r,
            ),
            sink_batches=Counter(
                "regsosek_sink_batches",
                "Inserts (batches) written to ClickHouse, per table.",
                ["table"],
                registry=r,
            ),
            sink_batch_rows=Histogram(
                "regsosek_sink_batch_rows",
                "Rows per ClickHouse insert, per table.",
                ["table"],
                buckets=BATCH_ROWS,
                registry=r,
            ),
            sink_seconds=Histogram(
                "regsosek_sink_flush_duration_seconds",
                "Time to flush one sink batch into ClickHouse, retries included, per table.",
                ["table"],
                buckets=BATCH_SECONDS,
                registry=r,
            ),
            sink_failures=Counter(
                "regsosek_sink_failures",
                "Rounds in which ClickHouse refused a sink's batch (the batch is held, not lost).",
                ["sink"],
                registry=r,
            ),
            sink_failing=Gauge(
                "regsosek_sink_failing",
                "1 while a sink holds a batch ClickHouse refused, else 0.",
                ["sink"],
                registry=r,
            ),
            sink_last_write=Gauge(
                "regsosek_sink_last_write_timestamp_seconds",
                "Unix time of the last successful insert, per table.",
                ["table"],
                registry=r,
            ),
            interview_to_row=Histogram(
                "regsosek_interview_to_row_seconds",
                "Interview end (tablet clock) to household row written, offline time included.",
                buckets=INTERVIEW_SECONDS,
                registry=r,
            ),
            kafka_to_row=Histogram(
                "regsosek_kafka_to_row_seconds",
                "Kafka record timestamp of the submission to household row written: freshness.",
                buckets=FRESHNESS_SECONDS,
                registry=r,
            ),
            worker_up=Gauge(
                "regsosek_worker_up",
                "1 while the worker process runs its agents.",
                registry=r,
            ),
            rebalances=Counter(
                "regsosek_worker_rebalances",
                "Consumer-group rebalances this worker went through (partitions assigned).",
                registry=r,
            ),
            assigned_partitions=Gauge(
                "regsosek_worker_assigned_partitions",
                "Partitions currently assigned to this worker, per topic.",
                ["topic"],
                registry=r,
            ),
            lag_refresh_errors=Counter(
                "regsosek_consumer_lag_refresh_errors",
                "Failed attempts to read end and committed offsets from the broker.",
                registry=r,
            ),
            commit_stalled=Gauge(
                "regsosek_commit_stalled_seconds",
                "Seconds the commit of an assigned partition has not moved while processed "
                "offsets waited behind it (0 normally): an event lost inside the worker.",
                ["topic", "partition"],
                registry=r,
            ),
            nik_lookups=Counter(
                "regsosek_nik_lookups",
                "Per-batch ClickHouse lookups of the batch's NIKs in other households, per "
                "outcome: ok, or timeout/error/busy (the batch was ruled with the in-memory "
                "index only).",
                ["outcome"],
                registry=r,
            ),
            nik_lookup_seconds=Histogram(
                "regsosek_nik_lookup_duration_seconds",
                "Time of an answered per-batch NIK lookup in ClickHouse.",
                buckets=REQUEST_SECONDS,
                registry=r,
            ),
        )


@dataclass(frozen=True)
class GatewayMetrics:
    """The HTTP gateway's families."""

    requests: Counter
    request_seconds: Histogram
    accepted: Counter
    refused: Counter
    publish_failures: Counter
    throttled: Counter
    token_reloads: Counter
    tokens: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> GatewayMetrics:
        """Register the families on ``registry`` (once per registry)."""
        r = registry
        return cls(
            requests=Counter(
                "regsosek_gateway_requests",
                "HTTP requests answered, per route, method and status class (2xx, 4xx, 5xx).",
                ["route", "method", "status_class"],
                registry=r,
            ),
            request_seconds=Histogram(
                "regsosek_gateway_request_duration_seconds",
                "Time to answer an HTTP request, per route (Kafka acknowledgement included).",
                ["route"],
                buckets=REQUEST_SECONDS,
                registry=r,
            ),
            accepted=Counter(
                "regsosek_gateway_submissions_accepted",
                "Submissions Kafka acknowledged (answered 202, or 202 inside a batch).",
                registry=r,
            ),
            refused=Counter(
                "regsosek_gateway_submissions_refused",
                "Submissions or requests refused for their content or caller, per HTTP status.",
                ["status"],
                registry=r,
            ),
            publish_failures=Counter(
                "regsosek_gateway_kafka_publish_failures",
                "Submissions Kafka did not acknowledge in time (answered 503; the app retries).",
                registry=r,
            ),
            throttled=Counter(
                "regsosek_gateway_throttled_requests",
                "Requests refused before their body was read: rate_limited (429, a token over "
                "its rate) or overloaded (503, the gateway at its in-flight limit).",
                ["reason"],
                registry=r,
            ),
            token_reloads=Counter(
                "regsosek_gateway_token_reloads",
                "Bearer-token loads: loaded at start, reloaded after the file changed, failed "
                "(the file did not load; the last good tokens stay in force).",
                ["outcome"],
                registry=r,
            ),
            tokens=Gauge(
                "regsosek_gateway_tokens",
                "Bearer tokens in force (after the last successful load).",
                registry=r,
            ),
        )


def add_process_collectors(registry: CollectorRegistry) -> None:
    """Memory, CPU, open files, GC and Python version of this process (process_*, python_*)."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)

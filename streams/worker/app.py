"""Build the worker's Faust app, topics and dedup table from the settings.

Topics carry raw bytes (``value_serializer="raw"``): decoding is the
processors' job, where a bad message becomes a rejection instead of a Faust
serializer crash. The dedup table uses the key partitioner (``use_partitioner``)
so that each household's changelog record lands on the partition its
submissions live on, whatever batch it was written from; Faust's recovery then
restores exactly the households of the partitions a worker is assigned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust

from schemas.limits import MAX_RECORD_BYTES
from streams import topics as names
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings
from streams.worker import faust_fixes
from streams.worker.auth import OperatorTokens, middleware

DEDUP_TABLE = "household-dedup"


@dataclass
class WorkerApp:
    """The Faust app and the channels the agents are attached to."""

    app: Any
    submissions: Any
    valid: Any
    rejected: Any
    dedup: Any


def broker_url(bootstrap: str) -> str:
    """Faust's broker URL for a comma-separated bootstrap list."""
    return ";".join(f"kafka://{server.strip()}" for server in bootstrap.split(",") if server)


def changelog_spec(wapp: WorkerApp, settings: Settings) -> names.TopicSpec:
    """The dedup table's changelog topic as Faust would declare it (compacted, table partitions).

    The worker creates it before Faust starts: Faust declares it while its consumer
    already subscribes, and on a fresh cluster the group's first assignment can miss
    a topic created a moment earlier ("Ignoring missing topic"), leaving the table
    without partitions until the next metadata refresh, minutes later. Seen with the
    secure broker under load.
    """
    return names.TopicSpec(
        name=wapp.dedup.changelog_topic.get_topic_name(),
        partitions=settings.topic_partitions,
        replication=names.replication_of(settings),
        configs=names.compacted_configs(settings),
        purpose="the worker's dedup table (Faust changelog)",
    )


def build_app(settings: Settings) -> WorkerApp:
    """The Faust app of one worker process."""
    faust_fixes.apply()
    app = faust.App(
        f"{settings.topic_prefix}-worker",
        broker=broker_url(settings.kafka_bootstrap),
        store="memory://",
        datadir=str(settings.state_dir / "faust"),
        web_enabled=True,
        # web_host only names the URL Faust advertises; web_bind is the address it listens on
        # (Faust's default: every interface).
        web_host=settings.web_host,
        web_bind=settings.web_host,
        web_port=settings.web_port,
        # Faust's own pages (table contents by key, agent graph, internals) are not served;
        # every remaining page but health and /metrics asks for an operator token.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_graph_enabled=False,
        web_stats_enabled=False,
        web_metrics_enabled=False,
        web_application_options={
            "middlewares": [middleware(OperatorTokens.from_settings(settings))]
        },
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=names.replication_of(settings),
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_batch_size=1_048_576,
        # on purpose, not by default: every record the worker publishes is cut to fit it
        producer_max_request_size=MAX_RECORD_BYTES,
        stream_buffer_maxsize=settings.process_batch * 2,
        broker_commit_every=settings.process_batch,
        broker_commit_interval=1.0,
        # stream_wait_empty stays on (Faust's default): without it a rebalance clears the
        # stream buffers without rewinding, and the dropped events leave a gap that Faust
        # never commits past (seen as a valid-topic lag that never drains). A SIGTERM while
        # a sink holds a batch through a ClickHouse outage ends the process with status 75
        # and the batch unacknowledged (runtime.unacked_on_failure); it is read again.
        stream_wait_empty=True,
        # A worker that died (SIGKILL, OOM) leaves the group after 10 s, not Kafka's 45 s,
        # so its replacement gets the partitions back quickly.
        broker_session_timeout=10.0,
        broker_heartbeat_interval=2.0,
        consumer_max_fetch_size=8 * 1024 * 1024,
        table_standby_replicas=0,
        # SCRAM login and TLS for every client Faust makes: group consumer, producer (the
        # worker's record batches too) and the client that creates the changelog topic.
        **KafkaSecurity.from_settings(settings).faust(),
    )
    prefix = settings.topic_prefix
    raw: dict[str, Any] = {
        "key_type": bytes,
        "value_type": bytes,
        "key_serializer": "raw",
        "value_serializer": "raw",
    }
    dedup = app.Table(
        DEDUP_TABLE,
        default=None,
        partitions=settings.topic_partitions,
        use_partitioner=True,
        # bytes keys (Faust then uses the raw codec, in recovery too), as the submissions
        # topic's: the same bytes hash to the same partition
        key_type=bytes,
    )
    return WorkerApp(
        app=app,
        submissions=app.topic(names.named(names.SUBMISSIONS, prefix), **raw),
        valid=app.topic(names.named(names.SUBMISSIONS_VALID, prefix), **raw),
        rejected=app.topic(names.named(names.SUBMISSIONS_REJECTED, prefix), **raw),
        dedup=dedup,
    )

"""Wire one worker process: settings → codecs, master data, ClickHouse, agents, pages.

Everything that can fail for a reason an operator can fix (ClickHouse not
reachable, a malformed frame file) fails here, before Faust starts, with one
clear error, instead of inside an agent.

Monitoring is always on: the agents report to a :class:`Fanout` of the
in-process stats (health pages, tests) and the Prometheus observer from
``monitoring``, whose registry Faust serves at ``/metrics``. The sink's writer
is an :class:`ObservedWriter`, which reports each household row's age once
ClickHouse has taken it (end-to-end latency), without the sink knowing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from monitoring.hooks import WorkerObserver
from monitoring.lag import KafkaOffsets
from monitoring.worker import WorkerMonitoring, WorkerTopics, frame_districts, instrument_worker
from schemas.frame import load_frame
from schemas.regions import DEFAULT_REGIONS_FILE, load_regions
from schemas.registry import registry_from_url
from sinks.clickhouse import Client, client_from_dsn, describe
from sinks.migrations import migrate
from sinks.retention import apply_payload_retention
from sinks.rows import Block, reference_blocks
from sinks.writer import ClickHouseWriter, RetryPolicy, WriteResult
from streams import topics as names
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings
from streams.topics import desired_topics, ensure_topics, resolve_replication
from streams.worker import diagnostics, web
from streams.worker.app import WorkerApp, build_app, changelog_spec
from streams.worker.board_page import install_board
from streams.worker.commits import CommitWatch
from streams.worker.console import install_console
from streams.worker.diagnostics import commit_progress
from streams.worker.erasure import install_erasure_from_settings
from streams.worker.feedback import install_feedback
from streams.worker.inserting import BatchInserter
from streams.worker.nik_lookup import NikLookup
from streams.worker.observer import Fanout, WorkerStats, consumed_topics, freshness
from streams.worker.paradata import install_paradata, paradata_topic
from streams.worker.pool import ComputePool, ComputeSetup, encoder
from streams.worker.processing import Batch, ProcessingStage
from streams.worker.publishing import BatchPublisher
from streams.worker.reads import READ_ONLY, Reads
from streams.worker.redrive import RedriveSetup, redrive_key
from streams.worker.replay import ReplayRunner, install_replay
from streams.worker.reprocess_page import Redriver
from streams.worker.reprocess_page import install as install_reprocess
from streams.worker.reviews import install_reviews

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How often the commit watch looks; stalls that matter last minutes.
COMMIT_WATCH_SECONDS = 5.0


@dataclass
class Worker:
    """A configured worker, ready for ``faust.Worker(worker.app).execute_from_commandline()``."""

    wapp: WorkerApp
    stats: WorkerStats
    client: Client
    processing: ProcessingStage
    pool: ComputePool
    monitoring: WorkerMonitoring

    @property
    def app(self) -> Any:
        return self.wapp.app


def compute_setup(settings: Settings) -> ComputeSetup:
    """What the compute process needs from the settings (secrets as plain values)."""
    url = settings.schema_registry_url
    return ComputeSetup(
        regions_file=settings.regions_file,
        frame_dir=settings.frame_directory,
        fieldwork_start=settings.fieldwork_start,
        fieldwork_end=settings.fieldwork_end,
        registry_url=url.get_secret_value() if url else None,
        nik_key=settings.nik_key(),
        extents_file=settings.regency_extents_file,
    )


class ObservedWriter(ClickHouseWriter):
    """The sink's writer, telling the observer how old each household row was when written.

    Runs in the sink's ClickHouse thread, so the per-row latency observations
    stay out of the event loop.
    """

    def __init__(self, *args: Any, observer: WorkerObserver, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._observer = observer

    def write(self, blocks: Sequence[Block], token: str) -> WriteResult:
        result = super().write(blocks, token)
        written_at = datetime.now(UTC)
        for block in blocks:
            ages = freshness(block, written_at)
            if ages is not None:
                self._observer.on_written(ages)
        return result


def clickhouse_writable(client: Client) -> None:
    """Readiness probe: ClickHouse answers and lets this user write (``readonly`` = 0).

    Whether inserts really go in is the sinks' news: a sink holding a refused
    batch makes ``/readyz`` fail on its own.
    """
    readonly = client.query("SELECT getSetting('readonly')").result_rows[0][0]
    if int(readonly):
        raise PermissionError(f"the ClickHouse user is read-only (readonly={readonly})")


def submission_offsets(
    settings: Settings, security: KafkaSecurity
) -> Callable[[], tuple[dict[int, int], dict[int, int]]]:
    """End offsets of the submissions topic and the group's committed ones, by partition.

    For reviews that wait for their submissions (streams.worker.review_wait); its
    own clients, used under a lock (kafka-python clients are not thread-safe), closed
    after a failure and rebuilt at the next call, as the lag collector does.
    """
    offsets = KafkaOffsets(settings.kafka_bootstrap, security.kafka_python())
    topic = names.named(names.SUBMISSIONS, settings.topic_prefix)
    group = f"{settings.topic_prefix}-worker"
    lock = threading.Lock()

    def read() -> tuple[dict[int, int], dict[int, int]]:
        with lock:
            try:
                _, ends = offsets.log_offsets([topic])
                committed = offsets.committed(group)
            except Exception:
                offsets.close()  # a client broken by a broker's death is rebuilt next call
                raise
        return (
            {partition: offset for (name, partition), offset in ends.items() if name == topic},
            {partition: offset for (name, partition), offset in committed.items() if name == topic},
        )

    return read


def worker_topics(settings: Settings) -> WorkerTopics:
    """The group and topics of this worker (as ``build_app`` names them)."""
    prefix = settings.topic_prefix
    return WorkerTopics(
        group=f"{prefix}-worker",
        submissions=names.named(names.SUBMISSIONS, prefix),
        valid=names.named(names.SUBMISSIONS_VALID, prefix),
        rejected=names.named(names.SUBMISSIONS_REJECTED, prefix),
        paradata=paradata_topic(settings),
    )


def create_worker(
    settings: Settings,
    extra_observer: WorkerObserver | None = None,
    *,
    registry: CollectorRegistry | None = None,
) -> Worker:
    """Build every part of the worker; raises RegsosekError subclasses on setup problems.

    ``registry`` receives the worker's metrics (a fresh one when not given).
    """
    setup = compute_setup(settings)  # refuses a missing or weak NIK key before anything starts
    security = KafkaSecurity.from_settings(settings)
    settings = resolve_replication(settings, security)
    regions = load_regions(settings.regions_file or DEFAULT_REGIONS_FILE)
    frame = load_frame(settings.frame_directory)
    if frame.empty:
        log.warning(
            "no enumeration frame in %s: assignment rules are off", settings.frame_directory
        )
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    database = settings.clickhouse_database
    applied = migrate(client, database=database, cluster=settings.clickhouse_cluster)
    apply_payload_retention(
        client,
        settings.rejection_payload_retention_days,
        database=database,
        cluster=settings.clickhouse_cluster,
    )
    log.info("ClickHouse: %s; migrations applied: %s", describe(client, dsn), applied or "none")
    # Topics must exist before the group joins: Faust notices topics created later only at
    # its next metadata refresh, minutes after the first submissions arrived.
    ensure_topics(settings.kafka_bootstrap, desired_topics(settings), security=security)
    wapp = build_app(settings)
    ensure_topics(settings.kafka_bootstrap, [changelog_spec(wapp, settings)], security=security)
    stats = WorkerStats()
    monitoring = instrument_worker(
        wapp.app,
        worker_topics(settings),
        bootstrap=settings.kafka_bootstrap,
        districts=frame_districts(frame, regions),
        registry=registry,
        kafka_options=security.kafka_python(),
    )
    observers: list[WorkerObserver] = [stats, monitoring.observer]
    observer = Fanout(*observers, *([extra_observer] if extra_observer else []))
    writer = ObservedWriter(
        client,
        database,
        retry=RetryPolicy(max_elapsed_s=settings.sink_retry_max_seconds),
        distributed=settings.clickhouse_cluster is not None,
        observer=observer,
    )
    writer.write(
        reference_blocks(regions, frame), token=f"reference:{datetime.now(UTC):%Y%m%d%H%M%S}"
    )

    url = settings.schema_registry_url
    schemas = registry_from_url(url.get_secret_value() if url else None)
    pool = ComputePool(setup, child=settings.process_in_child)
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    nik_lookup = None
    if settings.nik_lookup_timeout_seconds > 0:  # its own read-only client and thread
        nik_lookup = NikLookup(
            client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file, settings=READ_ONLY),
            database,
            timeout_s=settings.nik_lookup_timeout_seconds,
            observer=monitoring.observer,
        )
    processing = ProcessingStage(
        pool=pool,
        inserter=BatchInserter(writer, encoder(schemas, "Rejection")),
        executor=executor,
        table=wapp.dedup,
        publisher=BatchPublisher(wapp.app.producer._ensure_producer),
        valid_topic=worker_topics(settings).valid,
        rejected_topic=worker_topics(settings).rejected,
        changelog_topic=wapp.dedup.changelog_topic.get_topic_name(),
        observer=observer,
        should_stop=lambda: bool(wapp.app.should_stop),
        nik_lookup=nik_lookup,
        redrive=RedriveSetup(redrive_key(setup.nik_key), writer.write),
    )
    _attach_agents(wapp, settings, processing, observer)
    install_paradata(
        wapp,
        settings,
        writer=writer,
        executor=executor,
        observer=observer,
        paradata_observer=monitoring.paradata,
        registry=schemas,
        guard=unacked_on_failure,
    )
    install_reviews(
        wapp,
        settings,
        frame=frame,
        processing=processing,
        writer=writer,
        executor=executor,
        publisher=BatchPublisher(wapp.app.producer._ensure_producer),
        encode_rejection=encoder(schemas, "Rejection"),
        observer=observer,
        registry=schemas,
        guard=unacked_on_failure,
        submission_offsets=submission_offsets(settings, security),
    )
    # the pages' reads: a client and thread of their own, read-only (streams/worker/reads.py)
    reads = Reads(client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file, settings=READ_ONLY))
    web.install(
        wapp.app,
        stats=stats,
        reads=reads,
        database=database,
        executor=executor,
        bootstrap=settings.kafka_bootstrap,
        security=security,
        ping=lambda: clickhouse_writable(client),
        commit_stall_s=settings.commit_stall_seconds,
    )
    _watch_commits(wapp.app, observer)
    install_board(wapp.app, stats=stats, reads=reads, database=database)
    install_console(
        wapp.app,
        stats=stats,
        reads=reads,
        database=database,
        lag=monitoring.lag,
        commit_stall_s=settings.commit_stall_seconds,
    )
    install_feedback(
        wapp.app,
        reads=reads,
        database=database,
        topic=worker_topics(settings).submissions,
        settle_ms=int(settings.feedback_settle_seconds * 1000),
    )
    _install_reprocess(wapp, settings, reads=reads, writer=writer, executor=executor)
    install_erasure_from_settings(wapp.app, settings, setup.nik_key)
    install_replay(
        wapp.app,
        ReplayRunner(
            settings,
            setup,
            producer=wapp.app.producer._ensure_producer,
            rules_version=pool.rules_version,
        ),
    )
    diagnostics.install(wapp.app)
    return Worker(wapp, stats, client, processing, pool, monitoring)


def _install_reprocess(
    wapp: WorkerApp,
    settings: Settings,
    *,
    reads: Reads,
    writer: ClickHouseWriter,
    executor: ThreadPoolExecutor,
) -> None:
    """``/rejections/reprocess``: re-drives published by this worker (reprocess_page.py)."""
    redriver = Redriver(
        reads=reads,
        write=writer.write,
        executor=executor,
        producer=wapp.app.producer._ensure_producer,
        topic=worker_topics(settings).submissions,
        key=redrive_key(settings.nik_key()),
        database=settings.clickhouse_database,
    )
    install_reprocess(wapp.app, redriver, reads, settings.clickhouse_database)


def _watch_commits(app: Any, observer: WorkerObserver) -> None:
    """Every few seconds: how long each partition's commit has been stuck (commits.py)."""
    watch = CommitWatch()

    async def watch_commits() -> None:
        observer.on_commits(watch.observe(time.monotonic(), commit_progress(app.consumer)))

    app.timer(interval=COMMIT_WATCH_SECONDS, name="regsosek-commit-watch")(watch_commits)


#: Exit status of a worker that stopped because a batch could not be finished: restart it.
EXIT_BATCH_UNFINISHED = 75


async def unacked_on_failure(agent: str, batch: Awaitable[T]) -> T:
    """Finish one batch, or end the process before Faust can acknowledge it.

    An exception must not let the stream go on: a later acknowledgement could
    let the commit pass events that were never written or published. Bad
    input never raises here (it becomes a rejection) and transient faults are
    held and retried inside the batch, so a failure is a bug, or a held batch
    given up because the worker is stopping; either way the only safe move is
    to exit without committing. The orchestrator restarts the worker, which
    reads the batch again from the committed offset.
    """
    try:
        return await batch
    except Exception:
        log.critical(
            "%s could not finish a batch; exiting (status %d) so that it is not "
            "acknowledged: it is read again after the restart",
            agent,
            EXIT_BATCH_UNFINISHED,
            exc_info=True,
        )
        logging.shutdown()
        os._exit(EXIT_BATCH_UNFINISHED)


def _attach_agents(
    wapp: WorkerApp,
    settings: Settings,
    processing: ProcessingStage,
    observer: WorkerObserver,
) -> None:
    """One agent: batches computed one after the other, each written while the next computes.

    Faust's ``take_events`` acknowledges a batch when the agent asks for the
    next one; here a batch is still being written then. So every message
    gets one more reference before it is handed on (``incref``): Faust's ack
    only drops that to one, and the writer's ack after the batch's effects
    is the one that lets the offset be committed.
    """
    app = wapp.app

    async def write(stream: Any, queue: asyncio.Queue[tuple[Sequence[Any], Batch]]) -> None:
        while True:
            events, batch = await queue.get()
            await unacked_on_failure("process-submissions", processing.finish(batch))
            for event in events:
                await stream.ack(event)

    async def process(stream: Any) -> None:
        # one batch waiting while one is written: the next computes meanwhile
        queue: asyncio.Queue[tuple[Sequence[Any], Batch]] = asyncio.Queue(maxsize=1)
        writer = asyncio.ensure_future(write(stream, queue))
        try:
            async for events in stream.take_events(
                settings.process_batch, within=settings.process_batch_seconds
            ):
                for event in events:
                    event.message.incref()
                for topic, count in consumed_topics(events).items():
                    observer.on_consumed(topic, count)
                batch = await unacked_on_failure("process-submissions", processing.compute(events))
                await queue.put((events, batch))
                if writer.done():
                    writer.result()
        finally:
            writer.cancel()

    # concurrency 1: batches must be computed in order (dedup states, NIK index)
    app.agent(wapp.submissions, name="process-submissions", concurrency=1)(process)

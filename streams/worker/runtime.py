"""Wire one worker process: settings → codecs, master data, ClickHouse, agents, pages.

Everything that can fail for a reason an operator can fix (ClickHouse not
reachable, a malformed frame file) fails here, before Faust starts, with one
clear error, instead of inside an agent.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from processors.frame import Frame, load_frame
from processors.pipeline import Pipeline
from processors.regions import DEFAULT_REGIONS_FILE, RegionMaster, load_regions
from processors.rules import InMemoryNikIndex, RuleContext
from schemas.catalog import subject_for
from schemas.registry import registry_from_url
from schemas.serde import AvroDeserializer, AvroSerializer
from sinks.clickhouse import client_from_dsn, describe
from sinks.migrations import migrate
from sinks.rows import reference_blocks
from sinks.writer import ClickHouseWriter, RetryPolicy
from streams.settings import Settings
from streams.worker import web
from streams.worker.app import WorkerApp, build_app
from streams.worker.observer import Fanout, WorkerObserver, WorkerStats
from streams.worker.processing import ProcessingStage
from streams.worker.sinking import SinkStage

log = logging.getLogger(__name__)


@dataclass
class Worker:
    """A configured worker, ready for ``faust.Worker(worker.app).execute_from_commandline()``."""

    wapp: WorkerApp
    stats: WorkerStats
    client: Any
    processing: ProcessingStage
    sink: SinkStage

    @property
    def app(self) -> Any:
        return self.wapp.app


def rule_context(
    settings: Settings, regions: RegionMaster, frame: Frame, niks: InMemoryNikIndex
) -> RuleContext:
    """The rules' view of the world; ``now`` is replaced per batch."""
    return RuleContext(
        regions=regions,
        frame=frame,
        fieldwork_start=settings.fieldwork_start,
        fieldwork_end=settings.fieldwork_end,
        now=datetime.now(UTC),
        seen_niks=niks,
    )


def create_worker(settings: Settings, extra_observer: WorkerObserver | None = None) -> Worker:
    """Build every part of the worker; raises RegsosekError subclasses on setup problems."""
    regions = load_regions(settings.regions_file or DEFAULT_REGIONS_FILE)
    frame = load_frame(settings.frame_directory)
    if frame.empty:
        log.warning(
            "no enumeration frame in %s: assignment rules are off", settings.frame_directory
        )
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn)
    database = settings.clickhouse_database
    applied = migrate(client, database=database, cluster=settings.clickhouse_cluster)
    log.info("ClickHouse: %s; migrations applied: %s", describe(client, dsn), applied or "none")
    writer = ClickHouseWriter(
        client,
        database,
        retry=RetryPolicy(max_elapsed_s=settings.sink_retry_max_seconds),
        distributed=settings.clickhouse_cluster is not None,
    )
    writer.write(
        reference_blocks(regions, frame), token=f"reference:{datetime.now(UTC):%Y%m%d%H%M%S}"
    )

    url = settings.schema_registry_url
    registry = registry_from_url(url.get_secret_value() if url else None)
    stats = WorkerStats()
    observer: WorkerObserver = Fanout(stats, extra_observer) if extra_observer else stats
    wapp = build_app(settings)
    niks = InMemoryNikIndex()
    context = rule_context(settings, regions, frame, niks)
    submissions = AvroDeserializer(registry, "HouseholdSubmission")
    processing = ProcessingStage(
        pipeline=Pipeline(decode=submissions.decode_with_id, context=context),
        table=wapp.dedup,
        valid_topic=wapp.valid,
        rejected_topic=wapp.rejected,
        encode_valid=_encoder(registry, "ValidatedSubmission"),
        encode_rejected=_encoder(registry, "Rejection"),
        observer=observer,
        nik_index=niks,
    )
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse")
    sink = SinkStage(
        writer=writer,
        executor=executor,
        decode_valid=AvroDeserializer(registry, "ValidatedSubmission").decode,
        decode_rejection=AvroDeserializer(registry, "Rejection").decode,
        nik_key=settings.nik_hmac_key.get_secret_value().encode(),
        observer=observer,
        regions=regions,
        should_stop=lambda: bool(wapp.app.should_stop),
    )
    _attach_agents(wapp, settings, processing, sink)
    web.install(
        wapp.app,
        stats=stats,
        client=client,
        executor=executor,
        bootstrap=settings.kafka_bootstrap,
        ping=lambda: client.query("SELECT 1"),
    )
    return Worker(wapp, stats, client, processing, sink)


def _encoder(registry: Any, name: str) -> Any:
    serializer = AvroSerializer(registry, subject_for(name), name)

    def encode(record: dict[str, Any]) -> bytes:
        return serializer.encode(record, validate=False)

    return encode


def _attach_agents(
    wapp: WorkerApp, settings: Settings, processing: ProcessingStage, sink: SinkStage
) -> None:
    app = wapp.app

    async def process(stream: Any) -> None:
        async for events in stream.take_events(
            settings.process_batch, within=settings.process_batch_seconds
        ):
            await processing.handle(events)

    async def sink_valid(stream: Any) -> None:
        async for events in stream.take_events(
            settings.sink_batch_rows, within=settings.sink_batch_seconds
        ):
            await sink.handle_valid(events)

    async def sink_rejected(stream: Any) -> None:
        async for events in stream.take_events(
            settings.sink_batch_rows, within=settings.sink_batch_seconds
        ):
            await sink.handle_rejected(events)

    # concurrency 1 per agent: faust-streaming can commit past unprocessed messages otherwise
    app.agent(wapp.submissions, name="process-submissions", concurrency=1)(process)
    app.agent(wapp.valid, name="sink-households", concurrency=1)(sink_valid)
    app.agent(wapp.rejected, name="sink-rejections", concurrency=1)(sink_rejected)

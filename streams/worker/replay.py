"""``regsosek replay`` inside the live worker: recompute the derived tables, then swap them in.

Why inside the worker and not a second worker process: with the embedded
engine (chdb, the default) only one process may open ClickHouse, so the
process that owns the engine must write the shadow tables and run the swap.
One place serves a ClickHouse server too. The replay is a second consumer in
the worker's process, apart from the live one in everything that matters:

* its own consumer group, ``<prefix>-replay-<run id>``, reading the
  submissions topic from the earliest offsets (assigned, not subscribed: no
  rebalance with the live group);
* its own compute process (its own NIK index) and its own dedup state, kept
  in a compacted topic of its own (``<prefix>-replay-<run id>-household-dedup-
  changelog``) and read back on resume, as Faust restores the live table;
* the live stage's code (:class:`ProcessingStage`): same decode, rules,
  dedup, enrichment and rows, inserted by a :class:`ShadowWriter` into
  ``<table>__replay``; it publishes nothing to ``.valid``/``.rejected`` (those
  are contracts for other consumers: a replay must not emit twice), only its
  dedup changelog;
* its own ClickHouse client and thread, so live inserts do not queue behind it.

Phases (``replay_runs`` keeps them): *catching_up* until the replay group's
committed offsets reach the live group's on every partition; *swapping*: one
``EXCHANGE TABLES`` (:mod:`sinks.replay`), the topic's end offsets noted, the
writer turned to the live names; *finishing* until the replay reaches those end
offsets, so that what the live worker wrote into the old tables between the
catch-up and the swap is in the new ones too; *done*. A worker that dies mid-run
leaves the phase unfinished: the next ``POST /replay/start`` resumes it from the
group's committed offsets, the shadow tables and the changelog.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import faust
from aiokafka import AIOKafkaConsumer, TopicPartition
from kafka import KafkaAdminClient

from sinks import replay as ch
from sinks.clickhouse import Client, client_from_dsn
from sinks.writer import RetryPolicy
from streams import topics as names
from streams.kafka_admin import delete_group
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings
from streams.topics import TopicSpec, delete_topics, ensure_topics
from streams.worker.inserting import BatchInserter
from streams.worker.observer import WorkerStats
from streams.worker.pool import ComputePool, ComputeSetup
from streams.worker.processing import ProcessingStage
from streams.worker.replay_consumer import (
    FETCH_TIMEOUT_MS,
    ChangelogOnly,
    Cursor,
    DedupStore,
    Progress,
    caught_up,
    no_encoding,
    topic_partitions,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

#: How often the live group's committed offsets are asked for while catching up.
LIVE_CHECK_SECONDS = 2.0


class ReplayConflict(RuntimeError):
    """A replay cannot start now (one is running, or old tables wait for ``--drop-old``)."""


class ReplayRunner:
    """Owns one replay at a time in the worker's process."""

    def __init__(
        self,
        settings: Settings,
        setup: ComputeSetup,
        *,
        producer: Callable[[], Any],
        rules_version: Callable[[], str],
    ) -> None:
        self._settings = settings
        self._rules_version = rules_version
        self._setup = setup
        self._producer = producer
        self._security = KafkaSecurity.from_settings(settings)
        self._database = settings.clickhouse_database
        self._topic = names.named(names.SUBMISSIONS, settings.topic_prefix)
        self._live_group = f"{settings.topic_prefix}-worker"
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="replay")
        self._client: Client | None = None
        self._task: asyncio.Task[None] | None = None
        self.progress = Progress()

    # -- requests -------------------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        """Start a run, or resume the unfinished one; raises ReplayConflict."""
        if self._settings.clickhouse_cluster:
            raise ReplayConflict("replay swaps tables on one node; a cluster is not supported")
        if self._task is not None and not self._task.done():
            return self.progress.json()
        state, resumed = await self._in_thread(self._begin)
        self.progress = Progress(
            run_id=state.run_id,
            phase=state.phase,
            rules_version=state.rules_version,
            started_at=state.started_at.isoformat(),
            resumed=resumed,
        )
        self._task = asyncio.ensure_future(self._guarded(state))
        return self.progress.json()

    async def status(self) -> dict[str, Any]:
        if self._task is None:  # nothing started here: say what the table says
            state = await self._in_thread(lambda c: ch.latest_run(c, self._database))
            old = await self._in_thread(lambda c: ch.old_tables(c, self._database))
            if state is not None:
                self.progress = replace(
                    self.progress,
                    run_id=state.run_id,
                    phase=state.phase,
                    rules_version=state.rules_version,
                    started_at=state.started_at.isoformat(),
                    error=state.detail if state.phase == "failed" else "",
                )
            self.progress.old_tables = old
        return self.progress.json()

    async def drop_old(self) -> list[str]:
        """The old tables dropped, and the finished runs' changelog topics and groups deleted."""
        if self._task is not None and not self._task.done():
            raise ReplayConflict("a replay is running; drop the old tables after it is done")
        dropped = await self._in_thread(lambda c: ch.drop_old(c, self._database))
        finished = await self._in_thread(lambda c: ch.finished_runs(c, self._database))
        try:
            await asyncio.to_thread(self._forget, finished)
        except Exception:  # the tables are gone; the leftovers can be deleted another day
            log.warning(
                "replay: could not delete the finished runs' topics or groups", exc_info=True
            )
        return dropped

    def _forget(self, runs: list[str]) -> None:
        """Kafka's leftovers of finished runs: their dedup changelogs and consumer groups."""
        prefix, bootstrap = self._settings.topic_prefix, self._settings.kafka_bootstrap
        groups = [f"{prefix}-replay-{run}" for run in runs]
        delete_topics(
            bootstrap,
            [f"{group}-household-dedup-changelog" for group in groups],
            security=self._security,
        )
        for group in groups:
            delete_group(bootstrap, group, security=self._security, wait_s=5.0)

    def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
        self._executor.shutdown(wait=False, cancel_futures=True)

    # -- ClickHouse, in the replay's thread ------------------------------------------------

    def _connected(self) -> Client:
        if self._client is None:
            dsn = self._settings.clickhouse_dsn.get_secret_value()
            self._client = client_from_dsn(dsn, ca_file=self._settings.clickhouse_ca_file)
        return self._client

    async def _in_thread(self, work: Callable[[Client], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, lambda: work(self._connected()))

    def _begin(self, client: Client) -> tuple[ch.RunState, bool]:
        """The unfinished run, or a new one with fresh shadow tables."""
        latest = ch.latest_run(client, self._database)
        if latest is not None and not latest.finished:
            return latest, True
        old = ch.old_tables(client, self._database)
        if old:
            raise ReplayConflict(
                f"{len(old)} old tables of the last replay remain ({old[0]}, ...): "
                "run `regsosek replay --drop-old` first"
            )
        ch.drop_shadows(client, self._database)  # an abandoned run's copies
        state = ch.RunState(
            run_id=secrets.token_hex(4),
            started_at=datetime.now(UTC),
            rules_version=self._rules_version(),
        )
        ch.create_shadows(client, self._database, ch.discover(client, self._database))
        ch.save_run(client, self._database, state)
        return state, False

    # -- the run ---------------------------------------------------------------------------

    async def _guarded(self, state: ch.RunState) -> None:
        try:
            await self._run(state)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("replay %s failed", state.run_id)
            self.progress.phase, self.progress.error = "failed", str(exc)[:500]
            failed = replace(state, phase="failed", detail=str(exc))
            await self._in_thread(lambda c: ch.save_run(c, self._database, failed))

    async def _run(self, state: ch.RunState) -> None:
        settings = self._settings
        group = f"{settings.topic_prefix}-replay-{state.run_id}"
        changelog = f"{group}-household-dedup-changelog"
        bootstrap = settings.kafka_bootstrap
        ensure_topics(
            bootstrap,
            [
                TopicSpec(
                    changelog,
                    settings.topic_partitions,
                    names.replication_of(settings),
                    configs=names.compacted_configs(settings),
                    purpose="a replay's dedup table",
                )
            ],
            security=self._security,
        )
        log.info("replay %s (%s): group %s", state.run_id, state.phase, group)
        store = DedupStore()
        store.data = await self._restore(changelog)
        derived = await self._in_thread(lambda c: ch.discover(c, self._database))
        writer = ch.ShadowWriter(
            self._connected(),
            self._database,
            retry=RetryPolicy(max_elapsed_s=settings.sink_retry_max_seconds),
        )
        if state.phase in ("swapping", "finishing"):
            state = await self._swap(state, derived, writer, resumed=True)
        pool = ComputePool(self._setup, child=settings.process_in_child)
        stats = WorkerStats()
        stage = ProcessingStage(
            pool=pool,
            inserter=BatchInserter(writer, no_encoding),
            executor=self._executor,
            table=store,
            publisher=ChangelogOnly(self._producer, changelog),
            valid_topic="",
            rejected_topic="",
            changelog_topic=changelog,
            observer=stats,
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            client_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
            **self._security.aiokafka(),
        )
        await consumer.start()
        log.info("replay %s: consuming %s", state.run_id, self._topic)
        try:
            await self._consume(
                state, consumer, stage=stage, stats=stats, derived=derived, writer=writer
            )
        finally:
            await consumer.stop()
            pool.close()

    async def _consume(
        self,
        state: ch.RunState,
        consumer: AIOKafkaConsumer,
        *,
        stage: ProcessingStage,
        stats: WorkerStats,
        derived: ch.Derived,
        writer: ch.ShadowWriter,
    ) -> None:
        partitions = await topic_partitions(self._producer(), self._topic)
        if not partitions:
            raise RuntimeError(f"topic {self._topic} has no partitions the replay can read")
        cursor = Cursor(consumer, stage, [TopicPartition(self._topic, p) for p in partitions])
        await cursor.open()
        last_live_check = last_report = 0.0
        try:
            while True:
                fetched = await cursor.step(self._settings.process_batch)
                now = time.monotonic()
                if now - last_report >= 1.0 or not fetched:
                    last_report = now
                    self.progress = replace(
                        self.progress, phase=state.phase, processed=stats.processed
                    )
                    await cursor.report(self.progress)
                if state.phase == "catching_up":
                    if now - last_live_check < LIVE_CHECK_SECONDS:
                        continue
                    last_live_check = now
                    await cursor.drained()
                    live = await asyncio.to_thread(self._live_offsets, cursor.tps)
                    if caught_up(cursor.committed, live, cursor.partitions):
                        state = replace(state, end_offsets=await cursor.ends())
                        state = await self._swap(state, derived, writer, resumed=False)
                        self.progress.swapped_at = datetime.now(UTC).isoformat()
                elif cursor.fetched_past(state.end_offsets):
                    await cursor.drained()
                    await self._done(state, cursor.done)
                    return
        finally:
            cursor.cancel()

    async def _done(self, state: ch.RunState, done: int) -> None:
        finished = replace(state, phase="done", detail=f"{done} messages replayed")
        await self._in_thread(partial(ch.save_run, database=self._database, state=finished))
        old = await self._in_thread(lambda c: ch.old_tables(c, self._database))
        self.progress = replace(self.progress, phase="done", done=done, old_tables=old)
        log.info("replay %s done: %d messages", state.run_id, done)

    async def _swap(
        self,
        state: ch.RunState,
        derived: ch.Derived,
        writer: ch.ShadowWriter,
        *,
        resumed: bool,
    ) -> ch.RunState:
        """Exchange the tables (once, even across a crash), then aim the writer at live names."""
        database = self._database

        def swap(client: Client) -> ch.RunState:
            current = ch.table_uuid(client, database, "households")
            noted = state
            if state.phase == "catching_up":
                noted = replace(state, phase="swapping", live_uuid=current)
                ch.save_run(client, database, noted)
            if current == noted.live_uuid:  # not exchanged yet
                ch.swap(client, database, derived)
                log.info("replay %s: tables swapped", state.run_id)
            ch.retire(client, database, derived)
            finishing = replace(noted, phase="finishing")
            ch.save_run(client, database, finishing)
            return finishing

        if not resumed and not state.end_offsets:  # pragma: no cover - set by the caller
            raise RuntimeError("end offsets must be noted before the swap")
        state = await self._in_thread(swap)
        if not state.end_offsets:  # a run that died between its two records: take them now
            state = replace(state, end_offsets=await self._end_offsets())
            saved = state
            await self._in_thread(lambda c: ch.save_run(c, database, saved))
        writer.suffix = ""
        self.progress.phase = state.phase
        return state

    async def _end_offsets(self) -> dict[int, int]:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap, **self._security.aiokafka()
        )
        await consumer.start()
        try:
            partitions = await topic_partitions(self._producer(), self._topic)
            tps = [TopicPartition(self._topic, p) for p in partitions]
            return {tp.partition: o for tp, o in (await consumer.end_offsets(tps)).items()}
        finally:
            await consumer.stop()

    def _live_offsets(self, tps: list[TopicPartition]) -> dict[int, int]:
        """The live group's committed offsets (kafka-python's admin, in a thread)."""
        admin = KafkaAdminClient(
            bootstrap_servers=self._settings.kafka_bootstrap,
            client_id="regsosek-replay",
            **self._security.kafka_python(),
        )
        try:
            offsets = admin.list_group_offsets(self._live_group).get(self._live_group, {})
        finally:
            admin.close()
        return {
            tp.partition: int(meta.offset)
            for tp, meta in offsets.items()
            if tp.topic == self._topic and meta.offset >= 0
        }

    async def _restore(self, changelog: str) -> dict[bytes, Any]:
        """The replay's dedup state from its changelog (empty for a new run)."""
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._settings.kafka_bootstrap,
            enable_auto_commit=False,
            **self._security.aiokafka(),
        )
        await consumer.start()
        data: dict[bytes, Any] = {}
        try:
            partitions = await topic_partitions(self._producer(), changelog)
            tps = [TopicPartition(changelog, p) for p in partitions]
            if not tps:
                return data
            consumer.assign(tps)
            await consumer.seek_to_beginning(*tps)
            ends = await consumer.end_offsets(tps)
            remaining = {tp for tp in tps if ends[tp] > 0}
            while remaining:
                fetched = await consumer.getmany(timeout_ms=FETCH_TIMEOUT_MS)
                for batch in fetched.values():
                    for record in batch:
                        if record.key is not None and record.value is not None:
                            data[record.key] = json.loads(record.value)
                for tp in list(remaining):
                    if await consumer.position(tp) >= ends[tp]:
                        remaining.discard(tp)
        finally:
            await consumer.stop()
        log.info("replay dedup state restored: %d households from %s", len(data), changelog)
        return data


def install_replay(app: Any, runner: ReplayRunner) -> None:
    """``POST /replay/start``, ``GET /replay/status``, ``POST /replay/drop-old`` (operators)."""

    async def start(view: Any, request: Any) -> Any:
        del request
        try:
            return view.json(await runner.start())
        except ReplayConflict as exc:
            return view.json({"error": str(exc)}, status=409)

    async def status(view: Any, request: Any) -> Any:
        del request
        return view.json(await runner.status())

    async def drop_old(view: Any, request: Any) -> Any:
        del request
        try:
            return view.json({"dropped": await runner.drop_old()})
        except ReplayConflict as exc:
            return view.json({"error": str(exc)}, status=409)

    def post(handler: Callable[..., Any]) -> type[Any]:
        return type(handler.__name__, (faust.web.View,), {"post": handler})

    app.page("/replay/start")(post(start))
    app.page("/replay/drop-old")(post(drop_old))
    app.page("/replay/status")(status)

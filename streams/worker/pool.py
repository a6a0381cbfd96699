"""Where :class:`~streams.worker.compute.BatchComputer` runs: a child process, or a thread.

A child process by default, so the pure stages (decode, rules, enrichment,
rows, encode) use the second core while the worker's own process fetches,
inserts and publishes. The child loads the master data once; batches go to
it one at a time, in order, so its NIK index sees every accepted household
exactly as a single process would.

A child that dies (killed, out of memory, a crash in native code) is replaced.
If the same batch kills it again, the batch is split and the halves computed
in order, down to the one submission that kills it, which is quarantined:
a record that crashes the decoder on every try must not stop the partition.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from processors.pipeline import Pipeline, RawSubmission, failed
from processors.rules import RuleContext
from processors.rules.version import rules_version
from schemas.catalog import subject_for
from schemas.extents import DEFAULT_EXTENTS_FILE, load_extents
from schemas.frame import load_frame
from schemas.regions import DEFAULT_REGIONS_FILE, load_regions
from schemas.registry import SchemaRegistry, registry_from_url
from schemas.serde import AvroDeserializer, AvroSerializer, EnvelopeSerializer
from streams.worker.compute import BatchComputer, Computed, Encoder
from streams.worker.nik_index import Durable, WorkerNikIndex

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ComputeSetup:
    """What a process needs to build its :class:`BatchComputer` (picklable)."""

    regions_file: Path | None
    frame_dir: Path
    fieldwork_start: datetime
    fieldwork_end: datetime
    registry_url: str | None
    nik_key: bytes
    extents_file: Path | None = None


def encoder(registry: SchemaRegistry, name: str) -> Encoder:
    """Avro wire bytes of a record the pipeline built (validated by the pipeline already)."""
    serializer = AvroSerializer(registry, subject_for(name), name)

    def encode(record: dict[str, Any]) -> bytes:
        return serializer.encode(record, validate=False)

    return encode


def build_computer(setup: ComputeSetup) -> BatchComputer:
    """The computer of one process: master data, regency extents, frame, codecs, a NIK index."""
    regions = load_regions(setup.regions_file or DEFAULT_REGIONS_FILE)
    frame = load_frame(setup.frame_dir)
    registry = registry_from_url(setup.registry_url)
    niks = WorkerNikIndex(setup.nik_key)
    context = RuleContext(
        regions=regions,
        frame=frame,
        fieldwork_start=setup.fieldwork_start,
        fieldwork_end=setup.fieldwork_end,
        now=datetime.now(UTC),
        seen_niks=niks,
        regency_extents=load_extents(setup.extents_file or DEFAULT_EXTENTS_FILE),
    )
    decoder = AvroDeserializer(registry, "HouseholdSubmission")
    return BatchComputer(
        pipeline=Pipeline(decode=decoder.decode_with_id, context=context),
        encode_valid=EnvelopeSerializer(
            registry, subject_for("ValidatedSubmission"), "ValidatedSubmission"
        ).encode,
        encode_rejected=encoder(registry, "Rejection"),
        nik_key=setup.nik_key,
        regions=regions,
        nik_index=niks,
        rules_version=rules_version(context),
    )


_computer: BatchComputer | None = None


def _init_child(setup: ComputeSetup) -> None:
    global _computer  # noqa: PLW0603 - one computer per child process, built once
    _computer = build_computer(setup)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int) -> None:
    """End this child when the worker is gone (SIGKILL, os._exit): no orphan keeps running."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(0)


def _compute_in_child(
    messages: Sequence[RawSubmission],
    states: Mapping[str, list[Any] | None],
    now: datetime,
    known: Durable | None,
) -> Computed:
    if _computer is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("compute child not initialised")
    return _computer.compute(messages, states, now, known)


def _nik_keys_in_child(messages: Sequence[RawSubmission]) -> list[int]:
    if _computer is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("compute child not initialised")
    return _computer.nik_keys(messages)


def _ready() -> bool:
    return _computer is not None


def _rules_version_in_child() -> str:
    if _computer is None:  # pragma: no cover - the initializer always ran
        raise RuntimeError("compute child not initialised")
    return _computer.rules_version


States = Mapping[str, list[Any] | None]


class ComputePool:
    """Computes batches in one child process (``child=True``) or in a thread of this one."""

    def __init__(self, setup: ComputeSetup, *, child: bool = True) -> None:
        self._setup = setup
        self._child = child
        self._local: BatchComputer | None = None if child else build_computer(setup)
        self._executor: ProcessPoolExecutor | None = None
        self._fallback: BatchComputer | None = None
        if child:
            self._executor = self._start()

    def _start(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=1,
            # spawn: the worker has threads (Faust, the ClickHouse engine) a fork would copy
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_child,
            initargs=(self._setup,),
        )
        executor.submit(_ready).result()  # set-up errors surface here, at start
        return executor

    def rules_version(self) -> str:
        """The version of the rules this pool judges by (asked of the compute process)."""
        if self._local is not None:
            return self._local.rules_version
        if self._executor is None:  # pragma: no cover - a pool has one or the other
            raise RuntimeError("no compute process")
        return self._executor.submit(_rules_version_in_child).result()

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def nik_keys(self, messages: Sequence[RawSubmission]) -> list[int]:
        """The batch's NIK keys (the compute process decodes it now and keeps it)."""
        if self._local is not None:
            return await asyncio.to_thread(self._local.nik_keys, messages)
        if self._executor is None:  # pragma: no cover - a pool has one or the other
            raise RuntimeError("no compute process")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, _nik_keys_in_child, messages)
        except BrokenProcessPool:  # the culprit is found and quarantined by compute()
            log.error("the compute process died scanning a batch's NIKs; restarting it")
            self._restart()
            return []

    async def compute(
        self,
        messages: Sequence[RawSubmission],
        states: States,
        now: datetime,
        known: Durable | None = None,
    ) -> Computed:
        """One batch; a child that dies on it is replaced and the culprit quarantined."""
        if self._local is not None:
            return await asyncio.to_thread(self._local.compute, messages, states, now, known)
        try:
            return await self._once(messages, states, now, known)
        except BrokenProcessPool:
            log.error("the compute process died on a batch of %d; restarting it", len(messages))
            self._restart()
        return await self._split(messages, states, now, known)

    async def _once(
        self,
        messages: Sequence[RawSubmission],
        states: States,
        now: datetime,
        known: Durable | None = None,
    ) -> Computed:
        if self._executor is None:  # pragma: no cover - only called with a child
            raise RuntimeError("no compute process")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, _compute_in_child, messages, states, now, known
        )

    def _restart(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._start()

    async def _split(
        self,
        messages: Sequence[RawSubmission],
        states: States,
        now: datetime,
        known: Durable | None = None,
    ) -> Computed:
        """Compute again; on another death, halves in order, down to the killing record."""
        try:
            return await self._once(messages, states, now, known)
        except BrokenProcessPool:
            self._restart()
        if len(messages) == 1:
            log.critical("submission %s kills the compute process: quarantined", messages[0])
            return self._quarantine(messages[0], now)
        middle = len(messages) // 2
        first = await self._split(messages[:middle], states, now, known)
        if first.missing:
            return first
        later = {**states, **first.states}
        second = await self._split(messages[middle:], later, now, known)
        return merge(first, second)

    def _quarantine(self, message: RawSubmission, now: datetime) -> Computed:
        rejected = failed(message, now, RuntimeError("the compute process died on this record"))
        if self._fallback is None:  # built here only when it is needed: rare and costly
            self._fallback = build_computer(self._setup)
        return self._fallback.rejections_only([rejected], now)


def merge(first: Computed, second: Computed) -> Computed:
    """Two computed halves of one batch, in order, as one."""
    if second.missing:
        return second
    return Computed(
        households=first.households + second.households,
        household_columns=first.household_columns or second.household_columns,
        member_columns=first.member_columns or second.member_columns,
        rejected=first.rejected + second.rejected,
        rejection_columns=first.rejection_columns or second.rejection_columns,
        rejection_rows=first.rejection_rows + second.rejection_rows,
        rejection_facts=first.rejection_facts + second.rejection_facts,
        dropped=first.dropped + second.dropped,
        states={**first.states, **second.states},
        rules_version=first.rules_version or second.rules_version,
    )

"""Paradata without a broker: checks, rows, the batch's decisions and counts, the metrics."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from monitoring.hooks import ParadataBatch
from monitoring.paradata import EVENT_TYPES, ParadataMetrics, PrometheusParadataObserver
from processors.paradata import event_findings, event_problems
from processors.pipeline import RawSubmission
from schemas import catalog
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from sinks.migrations import SQL_DIR
from sinks.paradata import (
    ACTIVE_MINUTES,
    COLUMNS,
    VERY_SHORT_INTERVIEW_SECONDS,
    bps_district,
    event_row,
)
from sinks.rows import Block
from sinks.writer import SinkUnavailable, WriteResult
from streams.worker.observer import WorkerStats
from streams.worker.paradata import ParadataStage, decide, summary
from tests.builders import enumerator_event

UTC = dt.UTC
NOW = dt.datetime(2022, 10, 20, 6, 0, tzinfo=UTC)
TOPIC = "t.enumerator-events"


def encode(**overrides: Any) -> bytes:
    serializer = AvroSerializer(
        LocalRegistry(), catalog.subject_for("EnumeratorEvent"), "EnumeratorEvent"
    )
    return serializer.encode(enumerator_event(**overrides))


def raw(value: bytes, offset: int) -> RawSubmission:
    return RawSubmission(TOPIC, 0, offset, b"0412", value, NOW)


def test_storable_events_have_no_problems() -> None:
    assert event_problems(enumerator_event()) == []
    started = enumerator_event(event_type="INTERVIEW_STARTED", household_id="3509010001000300101")
    assert event_problems(started) == []


def test_unplaceable_events_are_named() -> None:
    record = enumerator_event(enumerator_id="  ", event_type="INTERVIEW_FINISHED")
    assert event_problems(record) == [
        "enumerator_id is blank",
        "INTERVIEW_FINISHED without household_id",
    ]
    findings = event_findings(record)
    assert [f.code for f in findings] == ["PARADATA_EVENT_INVALID"] * 2
    assert [f.field_path for f in findings] == ["enumerator_id", "household_id"]


def test_row_coarsens_gps_and_derives_the_bps_district() -> None:
    record = enumerator_event(latitude=-8.283649, longitude=113.371951)
    row = dict(zip(COLUMNS, event_row(record, (TOPIC, 2, 41), NOW, NOW), strict=True))
    assert (row["latitude"], row["longitude"]) == (-8.284, 113.372)
    assert row["bps_district_code"] == "3509010"
    assert (row["source_topic"], row["source_partition"], row["source_offset"]) == (TOPIC, 2, 41)
    assert row["household_id"] is None and row["pending_count"] == 3
    assert bps_district("35.09.02.2001") == "" and bps_district(None) == ""


def test_the_views_use_the_named_thresholds() -> None:
    sql = (SQL_DIR / "0009_paradata.sql").read_text()
    assert re.search(rf"\b{ACTIVE_MINUTES} AS active_minutes\b", sql)
    assert re.search(rf"\b{VERY_SHORT_INTERVIEW_SECONDS} AS very_short_seconds\b", sql)


def test_event_types_are_the_schema_symbols() -> None:
    schema = catalog.load_schema("EnumeratorEvent")
    field = next(f for f in schema["fields"] if f["name"] == "event_type")
    assert tuple(field["type"]["symbols"]) == EVENT_TYPES


def decoder() -> AvroDeserializer:
    return AvroDeserializer(LocalRegistry(), "EnumeratorEvent")


def test_decide_stores_good_events_and_rejects_the_rest() -> None:
    messages = [
        raw(encode(), 0),
        raw(b"not avro", 1),
        raw(encode(event_type="INTERVIEW_STARTED"), 2),  # no household
        raw(encode(event_type="LOGIN"), 3),
    ]
    decided = decide(messages, decoder(), NOW)
    assert [row[COLUMNS.index("source_offset")] for row in decided.rows] == [0, 3]
    codes = {r["source_offset"]: [x["code"] for x in r["reasons"]] for r in decided.rejections}
    assert codes == {1: ["DECODE_BAD_MAGIC_BYTE"], 2: ["PARADATA_EVENT_INVALID"]}
    assert all(r["household_id"] is None and r["enumerator_id"] is None for r in decided.rejections)
    assert decided.rejections[0]["original"] == b"not avro"


def test_summary_counts_and_ignores_clocks_ahead() -> None:
    at = dt.datetime(2022, 10, 20, 5, 0, tzinfo=UTC)
    ahead = dt.datetime(2030, 1, 1, tzinfo=UTC)
    messages = [
        raw(encode(event_type="SYNC", at=at), 0),
        raw(encode(event_type="HEARTBEAT", at=at + dt.timedelta(minutes=10)), 1),
        raw(encode(event_type="SYNC", at=ahead), 2),
        raw(b"\x00", 3),
    ]
    batch = summary(decide(messages, decoder(), NOW), NOW)
    assert batch.stored == {"SYNC": 2, "HEARTBEAT": 1}
    assert batch.rejected == {"DECODE_TRUNCATED": 1}
    assert batch.newest_sync == at.timestamp()
    assert batch.newest_event == (at + dt.timedelta(minutes=10)).timestamp()


def test_prometheus_observer_counts_and_never_moves_back() -> None:
    registry = CollectorRegistry()
    observer = PrometheusParadataObserver(ParadataMetrics.create(registry))
    assert registry.get_sample_value("regsosek_paradata_events_total", {"event_type": "LOGIN"}) == 0
    observer.on_paradata(ParadataBatch({"LOGIN": 2}, {"DECODE_TRUNCATED": 1}, 200.0, 100.0))
    observer.on_paradata(ParadataBatch({"LOGIN": 1}, {}, 150.0, None))  # a replayed older batch
    assert registry.get_sample_value("regsosek_paradata_events_total", {"event_type": "LOGIN"}) == 3
    rejected = {"reason": "DECODE_TRUNCATED"}
    assert registry.get_sample_value("regsosek_paradata_rejections_total", rejected) == 1
    assert registry.get_sample_value("regsosek_paradata_last_event_timestamp_seconds") == 200
    assert registry.get_sample_value("regsosek_paradata_last_sync_timestamp_seconds") == 100


class RefusingWriter:
    """Refuses for good any events block holding a row from ``bad_offsets``; records the rest."""

    def __init__(self, bad_offsets: set[int]) -> None:
        self.bad = bad_offsets
        self.written: list[tuple[str, int, str]] = []

    def write(self, blocks: Sequence[Block], token: str) -> WriteResult:
        for block in blocks:
            if block.table == "enumerator_events":
                offsets = {row[COLUMNS.index("source_offset")] for row in block.rows}
                if offsets & self.bad:
                    raise SinkUnavailable(
                        "Code: 53. bad", table=block.table, attempts=1, permanent=True
                    )
            self.written.append((block.table, len(block.rows), token))
        return WriteResult()


class Quiet:
    def on_paradata(self, batch: ParadataBatch) -> None:
        self.batch = batch


def test_a_row_the_engine_refuses_becomes_an_insert_refused_rejection() -> None:
    writer = RefusingWriter({2})
    stage = ParadataStage(
        writer=writer,  # type: ignore[arg-type]
        decoder=decoder(),
        executor=ThreadPoolExecutor(1),
        observer=WorkerStats(),
        paradata_observer=Quiet(),
        clock=lambda: NOW,
    )
    decided = stage._write([raw(encode(), offset) for offset in range(4)], "tok")
    assert [row[COLUMNS.index("source_offset")] for row in decided.rows] == [0, 1, 3]
    assert [r["reasons"][0]["code"] for r in decided.rejections] == ["INSERT_REFUSED"]
    assert decided.rejections[0]["source_offset"] == 2
    events = sum(rows for table, rows, _ in writer.written if table == "enumerator_events")
    assert events == 3
    assert ("rejection_payloads", 1, "tok/rejections") in writer.written


def test_a_transient_refusal_is_raised_for_the_hold() -> None:
    class Away(RefusingWriter):
        def write(self, blocks: Sequence[Block], token: str) -> WriteResult:
            raise SinkUnavailable("down", table="x", attempts=3, permanent=False)

    stage = ParadataStage(
        writer=Away(set()),  # type: ignore[arg-type]
        decoder=decoder(),
        executor=ThreadPoolExecutor(1),
        observer=WorkerStats(),
        paradata_observer=Quiet(),
        clock=lambda: NOW,
    )
    with pytest.raises(SinkUnavailable):
        stage._write([raw(encode(), 0)], "tok")

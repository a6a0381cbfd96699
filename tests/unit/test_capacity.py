"""The capacity model: its arithmetic on small inputs, its inputs' traceability, the doc's drift."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from benchmarks import capacity_report
from benchmarks.capacity import (
    Area,
    Inputs,
    Mode,
    duration,
    fmt,
    plan,
    replay_hours,
    round_up,
    with_measured_scaling,
)
from benchmarks.capacity_inputs import (
    MEASURED,
    RESULTS_DIR,
    Measured,
    assumptions,
    lookup,
    read_measured,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "capacity.md"


def small_inputs(**changes: float) -> Inputs:
    """Round numbers, so every expected figure can be worked out by hand."""
    base = Inputs(
        worker_rate=1000, worker_cpu_ms=1.0, bare_cpu_ms=0.5, broker_cpu_ms=0.1,
        worker_rss_mb=500, two_worker_speedup=1.5, fresh_rate=400, fresh_p99_ms=500,
        bench_cores=2, bench_households=10_000, insert_seconds=2.0, replay_rate=1000,
        key_bytes=0, submission_bytes=1000, validated_bytes=1000, storage_bytes=1000,
        nation_households=0, province_households=0, regency_households=0,
        fieldwork_days=10, peak_day_factor=2.0, peak_hour_share=0.1, peak_minute_factor=1.8,
        submissions_per_household=1.0, side_events_per_household=2.0, side_event_bytes=500,
        changelog_bytes=0, live_utilisation=0.5, scaling_efficiency=1.0, spare_workers=1,
        partition_growth=2.0, min_partitions=6, partition_ceiling_mb=1.0,
        replication_factor=3, topics=5, readers_per_byte=2, broker_write_mb=10,
        max_replicas_per_broker=4000, insert_utilisation=0.5, shard_storage_gb=1,
        clickhouse_replicas=2, replay_hours=1,
    )  # fmt: skip
    return dataclasses.replace(base, **changes)


def test_peak_rate_load_and_workers_follow_the_stated_arithmetic() -> None:
    # 9,000,000 households / 10 days = 900,000 a day; x2 = 1,800,000; x0.1 = 180,000 an hour;
    # / 3,600 x 1.8 = 90 households/s
    p = plan(small_inputs(), Area("A", 9_000_000), Mode.PEAK)
    assert p.households_per_s == pytest.approx(90)
    # 90 submissions + 180 side events at half a submission's CPU = 180
    assert p.load_per_s == pytest.approx(180)
    # min(1,000 x 0.5, 400 fresh) = 400: freshness binds; ceil(180 / 400) + 1 spare = 2
    assert p.per_worker == 400
    assert p.workers == 2
    assert any("freshness binds" in step for step in p.steps)


def test_throughput_binds_when_freshness_was_measured_higher() -> None:
    p = plan(small_inputs(fresh_rate=2000), Area("A", 9_000_000), Mode.PEAK)
    assert p.per_worker == 500
    assert any("throughput binds" in step for step in p.steps)


def test_a_bigger_peak_needs_more_workers_partitions_brokers_and_shards() -> None:
    # 100x the households: 9,000 households/s, load 18,000/s, 45 + 1 workers
    p = plan(small_inputs(), Area("A", 900_000_000), Mode.PEAK)
    assert p.workers == 46
    # writes: 9,000 x 2,000 bytes + 18,000 x 500 bytes = 27 MB/s; partitions max(6, 92, 27) -> 96
    assert p.write_mb_s == pytest.approx(27)
    assert p.partitions == 96
    # brokers: max(3, 81 MB/s / 10 = 8.1 -> 9, 96 x 5 x 3 = 1,440 replicas / 4,000 -> 1) = 9
    assert p.brokers == 9
    # shards: ceil(9,000 / (5,000 x 0.5)) = 4 by inserts; 900 GB / 1 GB = 900 by storage
    assert p.shards == 900
    assert p.worker_memory_gb == pytest.approx(46 * 0.5)


def test_replay_needs_workers_by_the_measured_replay_rate_and_writes_nothing() -> None:
    # 10,800,000 messages in 1 h = 3,000/s; / 1,000 per worker = 3 workers
    p = plan(small_inputs(shard_storage_gb=1000), Area("A", 10_800_000), Mode.REPLAY)
    assert p.load_per_s == pytest.approx(3000)
    assert p.workers == 3
    assert p.write_mb_s == 0
    assert p.read_mb_s == pytest.approx(3.0)  # 3,000/s x 1,000 bytes
    # inserts: ceil(3,000 / 2,500) = 2; storage: 10.8 GB x 2 copies (shadow tables) / 1,000 -> 1
    assert p.shards == 2
    assert p.storage_gb == pytest.approx(21.6)


def test_replay_hours_scale_with_workers_and_efficiency() -> None:
    inputs = small_inputs(submissions_per_household=1.2)
    assert replay_hours(inputs, 3_000_000, 1) == pytest.approx(1.0)  # 3.6 M messages at 1,000/s
    assert replay_hours(inputs, 3_000_000, 4) == pytest.approx(0.25)
    slow = with_measured_scaling(inputs)
    assert slow.scaling_efficiency == pytest.approx(0.75)
    assert replay_hours(slow, 3_000_000, 4) == pytest.approx(1 / 3)


def test_round_up_and_formats() -> None:
    assert [round_up(v, 6) for v in (0.1, 6, 6.01, 13)] == [6, 6, 12, 18]
    assert [fmt(v) for v in (85_000_000, 1646.79, 51.64, 1.135, 0.0197)] == [
        "85,000,000", "1,647", "51.6", "1.135", "0.0197",
    ]  # fmt: skip
    assert [duration(h) for h in (0.001, 0.15, 16.52)] == ["< 1 min", "9 min", "16.5 h"]


def test_lookup_reads_dotted_keys_and_takes_the_median_over_runs() -> None:
    document = {"a": {"b": 2}, "runs": [{"x": {"s": 3.0}}, {"x": {"s": 1.0}}, {"x": {"s": 9.0}}]}
    assert lookup(document, "a.b") == 2
    assert lookup(document, "runs[*].x.s") == 3.0
    with pytest.raises(KeyError, match="no 'c'"):
        lookup(document, "a.c")
    with pytest.raises(KeyError, match="not a number"):
        lookup(document, "a")


@pytest.mark.parametrize("measured", MEASURED, ids=lambda m: m.name)
def test_every_measured_input_is_a_number_at_its_file_and_key(measured: Measured) -> None:
    document = json.loads((RESULTS_DIR / measured.file).read_text())
    assert lookup(document, measured.key) > 0


def test_inputs_cover_every_field_once() -> None:
    names = [m.name for m in MEASURED] + [a.name for a in assumptions()]
    assert len(names) == len(set(names))
    assert set(names) == {f.name for f in dataclasses.fields(Inputs)}
    assert all(a.source for a in assumptions())
    assert read_measured()["worker_rate"] == Inputs.load().worker_rate


def test_the_doc_is_in_sync_with_the_results() -> None:
    differences = capacity_report.check(DOC, Inputs.load())
    assert not differences, (
        "docs/capacity.md is stale: run python -m benchmarks.capacity --update docs/capacity.md\n"
        + "\n".join(differences[:5])
    )


def test_the_check_notices_a_changed_result(tmp_path: Path) -> None:
    doc = tmp_path / "capacity.md"
    inputs = Inputs.load()
    doc.write_text("prose\n\n" + capacity_report.markdown(inputs) + "\nmore prose\n")
    assert capacity_report.check(doc, inputs) == []
    faster = dataclasses.replace(inputs, replay_rate=inputs.replay_rate * 2)
    assert capacity_report.check(doc, faster)
    capacity_report.update(doc, faster)
    assert capacity_report.check(doc, faster) == []
    assert doc.read_text().startswith("prose\n") and doc.read_text().endswith("more prose\n")

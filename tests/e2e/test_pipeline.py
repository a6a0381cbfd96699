"""The whole pipeline on the real broker and the real ClickHouse engine, against ground truth.

A small frame (two Jember districts, tens of enumerators, a few thousand
households) simulated with every kind of bad input, published through the
SDK while `regsosek worker` runs as a child process, with supervisors
reviewing (approving, returning for a fix, rejecting for good) and the
tablets sending paradata; then ClickHouse's tables and progress views must
equal the simulator's ground truth exactly, rejections by reason, review
statuses and paradata events by type included.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from simulator.config import ErrorRates, ReviewConfig, SimulationConfig
from simulator.launch import RunOptions, prepare, simulate
from simulator.truth import GroundTruth
from simulator.verify import compare
from streams.settings import Settings
from streams.topics import ENUMERATOR_EVENTS, REVIEWS
from tests.backends import KafkaBackend
from tests.worker_harness import WorkerProcess

pytestmark = pytest.mark.e2e

CONFIG = SimulationConfig(
    scale=0.05,
    districts=("35.09.02", "35.09.21"),  # Kencong (rural) and Sumbersari (town)
    seed=2022,
    rates=ErrorRates(
        nik=0.01, area=0.01, age=0.01, duplicate=0.08, revision=0.04, corrupt=0.01, old_schema=0.03
    ),
    reviews=ReviewConfig(enabled=True, return_rate=0.1, reject_rate=0.01),
    paradata=True,
)


def test_simulated_fieldwork_equals_ground_truth_in_clickhouse(
    kafka: KafkaBackend, tmp_path: Path, unique_topic: Callable[[str], str]
) -> None:
    prefix = unique_topic("e2e").replace(".", "-")
    settings = Settings(
        state_dir=tmp_path, kafka_bootstrap=kafka.bootstrap, topic_prefix=prefix, topic_partitions=3
    )
    prepared = prepare(settings, CONFIG)  # frame files the worker reads at start
    worker = WorkerProcess(kafka.bootstrap, prefix, tmp_path)
    worker.start()
    try:
        _report, truth_path = simulate(
            settings,
            CONFIG,
            RunOptions(duration_s=15, progress=False, truth_path=tmp_path / "truth.json"),
            prepared=prepared,
        )
        worker.wait_idle(also=(REVIEWS, ENUMERATOR_EVENTS))
        board = worker.page("/board?window=3600")
    finally:
        worker.stop()
    truth = GroundTruth.read(truth_path)
    assert truth.complete and 2000 <= truth.households_sent <= 6000, truth.households_sent
    assert truth.duplicates_sent and truth.revisions_sent and truth.corrupt_sent
    assert truth.old_schema_sent and truth.rejections_by_reason
    decisions = truth.reviews_by_decision
    assert decisions["APPROVED"] and decisions["RETURNED"] and decisions["REJECTED_FINAL"]
    assert 0 < truth.fixes_sent <= decisions["RETURNED"]
    assert set(truth.events_by_type) >= {"LOGIN", "SYNC", "HEARTBEAT", "INTERVIEW_STARTED"}

    wrong = [check for check in compare(truth, board) if not check.ok]
    assert not wrong, "\n".join(
        f"{c.label}: truth {c.expected}, ClickHouse {c.actual}" for c in wrong
    )

    # Households by village and interview result, straight from the table.
    rows = worker.query(
        "SELECT village_code, form_village_code, result, count() AS n"
        " FROM regsosek.households FINAL GROUP BY village_code, form_village_code, result"
    )
    found: Counter[tuple[str, str]] = Counter()
    for row in rows:
        village = truth.bps_coded_villages.get(row["form_village_code"], row["village_code"])
        found[(village, row["result"])] += row["n"]
    expected = Counter(
        {
            (village, result): count
            for village, results in truth.households_by_village.items()
            for result, count in results.items()
            if count
        }
    )
    assert found == expected
    (current,) = worker.query(
        "SELECT count() AS n FROM regsosek.members_current"
        " WHERE presence IN ('LIVES_WITH_FAMILY', 'NEW_MEMBER')"
    )
    assert current["n"] == truth.accepted_members

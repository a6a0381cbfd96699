"""The chaos soak in short form: every kind of fault once or twice, then exactly the truth.

The same runner as ``python -m benchmarks.chaos`` (the issue's soak: 200,000
households, ten worker SIGKILLs, a 60 s ClickHouse outage), on about 1,200
households in 60 s of sending: a KRaft cluster of three with a broker
SIGKILLed and started again, two worker SIGKILLs, a 6 s ClickHouse outage and
a gateway SIGKILL, with supervisors reviewing and tablets sending paradata
through the gateway. Afterwards ClickHouse must equal the ground truth in every
figure the demo compares.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.chaos import run
from benchmarks.chaos_plan import ChaosPlan, FaultKind

pytestmark = pytest.mark.e2e

PLAN = ChaosPlan(
    households=1200,
    send_s=60,
    worker_kills=2,
    outage_s=6,
    broker_down_s=6,
    min_gap_s=6,
    seed=5,
)


def test_every_fault_and_clickhouse_still_equals_the_ground_truth(tmp_path: Path) -> None:
    report = run(PLAN, tmp_path, say=print)
    kinds = [fault["kind"] for fault in report["faults"]]
    assert kinds.count(FaultKind.WORKER_KILL) == 2
    assert {FaultKind.BROKER_KILL, FaultKind.ENGINE_OUTAGE, FaultKind.GATEWAY_RESTART} <= set(kinds)
    assert report["worker_restarts"] == 2
    assert report["replication"] == 3, "three brokers: every topic on three"
    assert report["checks"] > 50, "districts, reasons, review states and events were compared"
    assert report["equals_ground_truth"], report["checks_failed"]
    outage = next(f for f in report["faults"] if f["kind"] == FaultKind.ENGINE_OUTAGE)
    assert outage["worker_not_ready_s"] > 0, "the outage was seen by readiness"

"""Issue #17 item 2 end to end: a quarantined household fixed and re-driven once.

Real broker, real worker process, its own embedded ClickHouse engine. Enumerator
0412 sends a household from SLS 0004, which the frame gives to 0413 only:
OUTSIDE_ASSIGNMENT. Another household names an enumerator the frame does not
know (UNKNOWN_ENUMERATOR). The regency office then corrects the frame (0412
also holds SLS 0004) and restarts the worker; an operator runs
``regsosek rejections reprocess --reason OUTSIDE_ASSIGNMENT --by ...`` while the
worker runs. Afterwards the household is in ``households`` exactly once, the
audit says who re-drove it and that it was accepted, a second run re-drives
nothing, and a copy of the re-drive message published again is dropped.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.frame import Assignment, Frame, write_frame
from schemas.registry import LocalRegistry
from streams.sdk import SubmissionPublisher
from streams.topics import SUBMISSIONS
from streams.worker.redrive import HEADER_ID
from tests import builders as b
from tests.backends import KafkaBackend
from tests.topics import read_topic
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

FIXED = "35.09.02.2001-0004-0001-01"  # 0412 in SLS 0004: outside 0412's assignment at first
UNKNOWN = "35.09.02.2001-0003-0002-01"  # enumerator 0999: in no frame, before or after
OPERATOR = "Ani Rahayu (BPS Jember)"


def _submission(household: str, sls: str, enumerator: str) -> dict[str, Any]:
    record = b.kemendagri_submission(household_id=household, submission_id=str(uuid.uuid4()))
    record["location"] = b.kemendagri_location(sls_code=sls, sls_name=f"RT {sls[1:]} RW 001")
    record["enumeration"] = b.enumeration(enumerator_id=enumerator)
    return record


def _write_frame(directory: Any, *, fixed: bool) -> None:
    frame: Frame = b.rules_frame()
    cells = [
        Assignment(enumerator, village, sls)
        for enumerator, places in frame.assignments.items()
        for village, sls in sorted(places)
    ]
    if fixed:  # the office's correction: 0412 also works SLS 0004
        cells.append(Assignment("0412", b.CAKRU, "0004"))
    write_frame(directory, frame.enumerators.values(), cells, [])


def _cli(worker: WorkerProcess, *args: str) -> dict[str, Any]:
    """``regsosek rejections reprocess ... --json`` as an operator runs it, beside the worker."""
    out = worker.cli("rejections", "reprocess", *args, "--json")
    assert out.returncode == 0, out.stderr
    answer: dict[str, Any] = json.loads(out.stdout)
    return answer


@dataclass
class Outcome:
    dry_run: dict[str, Any]
    first: dict[str, Any]
    second: dict[str, Any]
    report: dict[str, Any]
    redrives: list[Any]  # the re-drive records on the submissions topic
    households: list[dict[str, Any]]  # every households row of FIXED (not FINAL)
    audit: list[dict[str, Any]]
    without_by: subprocess.CompletedProcess[str]


@pytest.fixture(scope="module")
def outcome(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    state_dir = tmp_path_factory.mktemp("reprocess")
    prefix = f"reprocess-{uuid.uuid4().hex[:8]}"
    topic = create_worker_topics(kafka.bootstrap, prefix, 3)[SUBMISSIONS]
    _write_frame(state_dir / "frame", fixed=False)
    worker = WorkerProcess(
        kafka.bootstrap, prefix, state_dir, {"REGSOSEK_FRAME_DIR": str(state_dir / "frame")}
    )
    sdk = SubmissionPublisher(kafka.bootstrap, LocalRegistry(), topic=topic)
    try:
        with running(worker):
            sdk.publish(_submission(FIXED, "0004", "0412"))
            sdk.publish(_submission(UNKNOWN, "0003", "0999"))
            worker.wait_idle()
        _write_frame(state_dir / "frame", fixed=True)
        with running(worker):  # the frame is read at start
            dry_run = _cli(worker, "--reason", "OUTSIDE_ASSIGNMENT", "--dry-run")
            without_by = worker.cli("rejections", "reprocess", timeout_s=120)
            first = _cli(worker, "--reason", "OUTSIDE_ASSIGNMENT", "--by", OPERATOR)
            worker.wait_idle()
            second = _cli(worker, "--reason", "OUTSIDE_ASSIGNMENT", "--by", OPERATOR)
            redrives = [
                r
                for r in read_topic(kafka.bootstrap, topic)
                if dict(r.headers or []).get(HEADER_ID)
            ]
            _publish_again(kafka.bootstrap, topic, redrives)
            worker.wait_idle()
            report = _cli(worker, "--report")
    finally:
        sdk.close()
    yield Outcome(
        dry_run=dry_run,
        first=first,
        second=second,
        report=report,
        redrives=redrives,
        households=worker.query(
            "SELECT household_id, revision, enumerator_id, sls_code, submission_id"
            f" FROM regsosek.households WHERE household_id = '{FIXED}'"
        ),
        audit=worker.query(
            "SELECT redrive_id, event, requested_by, outcome, reason_codes, source_offset,"
            " delivery_offset FROM regsosek.reprocess_audit FINAL ORDER BY event, delivery_offset"
        ),
        without_by=without_by,
    )


def _publish_again(bootstrap: str, topic: str, records: list[Any]) -> None:
    """A copy of each re-drive, headers and all: what a producer retry or a replayed send makes."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        for record in records:
            producer.send(topic, value=record.value, key=record.key, headers=list(record.headers))
        producer.flush(timeout=30)
    finally:
        producer.close()


def test_the_dry_run_lists_only_the_chosen_reason_and_publishes_nothing(outcome: Outcome) -> None:
    items = outcome.dry_run["items"]
    assert [(i["household_id"], i["reason_codes"]) for i in items] == [
        (FIXED, ["OUTSIDE_ASSIGNMENT"])
    ]
    assert outcome.dry_run["redriven"] == 0 and items[0]["redrive_id"] is None
    assert all("value" not in i and "original" not in i for i in items)  # no payload over HTTP


def test_who_redrives_is_required(outcome: Outcome) -> None:
    assert outcome.without_by.returncode != 0
    assert "--by" in outcome.without_by.stderr


def test_the_fixed_household_is_redriven_once_and_accepted_once(outcome: Outcome) -> None:
    assert outcome.first["redriven"] == 1
    assert outcome.first["items"][0]["household_id"] == FIXED
    assert len(outcome.redrives) == 1  # on the submissions topic before the copy
    assert [(h["household_id"], h["enumerator_id"], h["sls_code"]) for h in outcome.households] == [
        (FIXED, "0412", "0004")
    ]


def test_running_the_command_again_redrives_nothing(outcome: Outcome) -> None:
    assert (outcome.second["selected"], outcome.second["redriven"]) == (0, 0)


def test_the_audit_shows_who_when_and_the_outcome(outcome: Outcome) -> None:
    rows = outcome.report["rows"]
    assert len(rows) == 1
    row = rows[0]
    assert row["requested_by"] == OPERATOR and row["household_id"] == FIXED
    assert row["outcome"] == "accepted" and row["reason_codes"] == []
    assert row["redriven_at"] and row["judged_at"]
    assert json.loads(row["filter"])["reasons"] == ["OUTSIDE_ASSIGNMENT"]
    assert (row["deliveries"], row["redeliveries_dropped"]) == (2, 1)
    events = [(a["event"], a["outcome"]) for a in outcome.audit]
    assert events == [("judged", "accepted"), ("judged", "dropped"), ("redriven", "pending")]
    assert len({a["redrive_id"] for a in outcome.audit}) == 1
    assert {a["source_offset"] for a in outcome.audit} == {
        int(outcome.first["items"][0]["source"].rsplit("/", 1)[1])
    }

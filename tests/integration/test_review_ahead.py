"""A review read before the worker has its submission waits for it (found by the chaos soak).

The supervisor's review of household C is on the reviews topic while C's
submission still sits behind a thousand others that the worker cannot write
(ClickHouse down): the reviews agent reads the review first. Before the fix it
was rejected for good as REVIEW_UNKNOWN_HOUSEHOLD; now it waits until the
submissions agent has computed everything written before it, and is stored.
A review of a household that was never sent is still rejected, once the
submissions written before it are computed.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
from kafka import KafkaProducer

from schemas.frame import Assignment, write_frame
from schemas.registry import LocalRegistry
from streams.sdk import ReviewPublisher, SubmissionPublisher
from streams.topics import REVIEWS, SUBMISSIONS, TopicSpec, ensure_topics
from tests import builders as b
from tests.backends import KafkaBackend
from tests.integration.test_reviews import review, submission
from tests.worker_harness import FAULT_ENTRY, WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

HOUSEHOLD_C = "35.09.02.2001-0003-0007-01"
NEVER_SENT = "35.09.02.2001-0003-0009-01"
FILLERS = 1000


def test_a_review_ahead_of_its_submission_waits_instead_of_being_rejected(
    kafka: KafkaBackend, tmp_path: Path
) -> None:
    prefix = f"ahead-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 1)  # one partition: C is behind all
    topics[REVIEWS] = f"{prefix}.reviews"
    ensure_topics(kafka.bootstrap, [TopicSpec(topics[REVIEWS], 1, 1)])
    rules = b.rules_frame()
    assignments = [
        Assignment(enumerator, village, sls)
        for enumerator, cells in rules.assignments.items()
        for village, sls in sorted(cells)
    ]
    write_frame(tmp_path / "frame", list(rules.enumerators.values()), assignments, [])
    marker = tmp_path / "clickhouse-down"
    worker = WorkerProcess(
        kafka.bootstrap,
        prefix,
        tmp_path,
        {
            "REGSOSEK_FRAME_DIR": str(tmp_path / "frame"),
            "REGSOSEK_TEST_CLICKHOUSE_DOWN": str(marker),
            "REGSOSEK_PROCESS_BATCH": "100",
            "REGSOSEK_TOPIC_PARTITIONS": "1",
        },
        entry=FAULT_ENTRY,
    )
    registry = LocalRegistry()
    submissions = SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS])
    reviews = ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS])
    raw = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    try:
        with running(worker):
            marker.touch()  # the submissions agent holds its first batch from here on
            for i in range(FILLERS):  # undecodable: each a DECODE_* rejection, nothing else
                raw.send(topics[SUBMISSIONS], key=f"filler-{i}".encode(), value=b"\x00junk")
            raw.flush()
            c1 = submission(HOUSEHOLD_C, 1)
            submissions.publish(c1)
            approved = review(c1, "041", "APPROVED")
            reviews.publish(approved)
            ghost = review(submission(NEVER_SENT, 1), "041", "APPROVED")
            reviews.publish(ghost)
            time.sleep(6)  # the reviews agent has read both while C is behind the held batch
            marker.unlink()
            worker.wait_idle(also=(REVIEWS,))
    finally:
        submissions.close()
        reviews.close()
        raw.close()
    stored = worker.query("SELECT review_id FROM regsosek.reviews FINAL")
    assert [row["review_id"] for row in stored] == [approved["review_id"]]
    refused = worker.query(
        "SELECT submission_id, reason_codes FROM regsosek.rejections FINAL"
        f" WHERE source_topic = '{topics[REVIEWS]}'"
    )
    assert refused == [
        {"submission_id": ghost["review_id"], "reason_codes": ["REVIEW_UNKNOWN_HOUSEHOLD"]}
    ]

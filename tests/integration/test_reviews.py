"""Issue #15 item 2, supervisor review, end to end: real broker, real worker, real engine.

Enumerator 0412 (team of supervisor 041) sends households A and B. Supervisor
041 approves A and returns B with a comment through the gateway; 0412 sends
B's revision 2, which is awaiting review again. Supervisor 051 (another team)
is refused by the gateway (403) for A, and the same kind of review written to
Kafka directly (naming 051's own enumerator, so every field looks right) is
rejected by the worker with REVIEW_OUTSIDE_TEAM, as is 041's late review of
B's revision 1 (REVIEW_STALE_REVISION). The worker is restarted between
phases, so the dedup state the reviews are judged against comes back from its
changelog. Each phase is on the topics before the worker starts (it reads
both topics at once; a review read before its submission waits for it, see
streams/worker/review_wait.py and test_review_ahead.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.catalog import load_schema
from schemas.frame import Assignment, Enumerator, load_frame, write_frame
from schemas.jsonform import JsonForm, to_json
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.gateway.reviews import ReviewService
from streams.sdk import ReviewPublisher, SubmissionPublisher
from streams.topics import REVIEWS, SUBMISSIONS, SUBMISSIONS_REJECTED, TopicSpec, ensure_topics
from tests import builders as b
from tests.backends import KafkaBackend
from tests.integration.test_gateway import RunningGateway
from tests.topics import read_topic
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

HOUSEHOLD_A = "35.09.02.2001-0003-0001-01"
HOUSEHOLD_B = "35.09.02.2001-0003-0002-01"
TOKEN_041 = "gw-token-pml-041-abcdefgh"
TOKEN_051 = "gw-token-pml-051-abcdefgh"
TOKEN_0412 = "gw-token-0412-abcdefghijkl"
COMMENT = "Umur anggota ke-2 tidak sesuai tanggal lahirnya; mohon diperiksa."


def submission(household: str, revision: int) -> dict[str, Any]:
    return b.kemendagri_submission(
        household_id=household, revision=revision, submission_id=str(uuid.uuid4())
    )


def review(sent: dict[str, Any], supervisor: str, decision: str, **overrides: Any) -> Any:
    record = {
        "review_id": str(uuid.uuid4()),
        "household_id": sent["household_id"],
        "submission_id": sent["submission_id"],
        "revision": sent["revision"],
        "enumerator_id": sent["enumeration"]["enumerator_id"],
        "supervisor_id": supervisor,
        "decision": decision,
        "comment": None if decision == "APPROVED" else COMMENT,
        "decided_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
    }
    return record | overrides


@dataclass
class Story:
    """What was sent, what the gateway answered, and what the pipeline made of it."""

    answers: dict[str, int] = field(default_factory=dict)
    reviews: dict[str, dict[str, Any]] = field(default_factory=dict)
    status_after_return: dict[str, tuple[int, str]] = field(default_factory=dict)
    status: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    stored: list[dict[str, Any]] = field(default_factory=list)
    rejections: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture(scope="module")
def story(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    state_dir = tmp_path_factory.mktemp("reviews")
    prefix = f"reviews-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    topics[REVIEWS] = f"{prefix}.reviews"
    ensure_topics(kafka.bootstrap, [TopicSpec(topics[REVIEWS], 3, 1)])
    rules = b.rules_frame()
    enumerators = [*rules.enumerators.values(), Enumerator("0511", "051", "35.09")]
    assignments = [
        Assignment(enumerator, village, sls)
        for enumerator, cells in rules.assignments.items()
        for village, sls in sorted(cells)
    ]
    assignments.append(Assignment("0511", b.CAKRU, "0005"))
    write_frame(state_dir / "frame", enumerators, assignments, [])
    worker = WorkerProcess(
        kafka.bootstrap, prefix, state_dir, {"REGSOSEK_FRAME_DIR": str(state_dir / "frame")}
    )
    registry = LocalRegistry()
    submissions = SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS])
    direct = ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS])
    service = ReviewService(
        ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS]),
        JsonForm(load_schema("ReviewDecision")),
        load_frame(state_dir / "frame"),
        retry_after_s=5,
    )
    tokens = TokenStore.from_mapping({TOKEN_041: "041", TOKEN_051: "051", TOKEN_0412: "0412"})
    gateway = RunningGateway(
        create_app(
            GatewayConfig(bootstrap=kafka.bootstrap),
            tokens,
            SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS]),
            reviews=service,
        )
    )
    out = Story()

    def post(name: str, record: dict[str, Any], token: str) -> None:
        document = to_json(load_schema("ReviewDecision"), record)
        answer = gateway.request("POST", "/v1/reviews", document, token=token)
        out.answers[name] = answer.status
        out.reviews[name] = record

    def query_status() -> list[dict[str, Any]]:
        return worker.query(
            "SELECT household_id, revision, status, revised FROM regsosek.interview_status"
        )

    try:
        a1, b1 = submission(HOUSEHOLD_A, 1), submission(HOUSEHOLD_B, 1)
        submissions.publish(a1)
        submissions.publish(b1)
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
        post("approve A", review(a1, "041", "APPROVED"), TOKEN_041)
        post("return B", review(b1, "041", "RETURNED"), TOKEN_041)
        post("other team via gateway", review(a1, "051", "APPROVED"), TOKEN_051)
        post("enumerator's token", review(a1, "0412", "APPROVED"), TOKEN_0412)
        post("no comment", review(b1, "041", "RETURNED", comment=" "), TOKEN_041)
        crafted = review(a1, "051", "REJECTED_FINAL", enumerator_id="0511")
        direct.publish(crafted)
        out.reviews["other team via Kafka"] = crafted
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
        out.status_after_return = {
            r["household_id"]: (r["revision"], r["status"]) for r in query_status()
        }
        submissions.publish(submission(HOUSEHOLD_B, 2))
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
        stale = review(b1, "041", "APPROVED")  # revision 1, judged after revision 2: stale
        direct.publish(stale)
        out.reviews["stale"] = stale
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
    finally:
        gateway.stop()
        submissions.close()
        direct.close()
    out.status = {
        r["household_id"]: (r["revision"], r["status"], r["revised"]) for r in query_status()
    }
    out.stored = worker.query(
        "SELECT review_id, decision, comment FROM regsosek.reviews FINAL ORDER BY decision"
    )
    out.rejections = worker.query(
        "SELECT source_topic, submission_id, household_id, enumerator_id, reason_codes"
        " FROM regsosek.rejections FINAL"
    )
    decoder = AvroDeserializer(registry, "Rejection")
    out.rejected = [
        decoder.decode(r.value) for r in read_topic(kafka.bootstrap, topics[SUBMISSIONS_REJECTED])
    ]
    yield out


def test_the_gateway_takes_its_supervisors_reviews_and_refuses_the_rest(story: Story) -> None:
    assert story.answers == {
        "approve A": 202,
        "return B": 202,
        "other team via gateway": 403,
        "enumerator's token": 403,
        "no comment": 400,
    }


def test_approved_and_returned_then_the_revision_awaits_review_again(story: Story) -> None:
    assert story.status_after_return == {HOUSEHOLD_A: (1, "APPROVED"), HOUSEHOLD_B: (1, "RETURNED")}
    assert story.status == {
        HOUSEHOLD_A: (1, "APPROVED", 0),
        HOUSEHOLD_B: (2, "AWAITING_REVIEW", 1),
    }


def test_only_the_accepted_reviews_are_stored_with_the_comment(story: Story) -> None:
    assert story.stored == [
        {
            "review_id": story.reviews["approve A"]["review_id"],
            "decision": "APPROVED",
            "comment": None,
        },
        {
            "review_id": story.reviews["return B"]["review_id"],
            "decision": "RETURNED",
            "comment": COMMENT,
        },
    ]


def test_the_worker_rejects_a_review_outside_the_team_and_a_stale_one(story: Story) -> None:
    crafted = story.reviews["other team via Kafka"]["review_id"]
    stale = story.reviews["stale"]["review_id"]
    found = {
        r["submission_id"]: (r["household_id"], r["enumerator_id"], r["reason_codes"])
        for r in story.rejections
        if r["source_topic"].endswith(".reviews")
    }
    assert found == {
        crafted: (HOUSEHOLD_A, "", ["REVIEW_OUTSIDE_TEAM"]),
        stale: (HOUSEHOLD_B, "", ["REVIEW_STALE_REVISION"]),
    }
    on_topic = {
        r["submission_id"]: [reason["code"] for reason in r["reasons"]] for r in story.rejected
    }
    assert on_topic == {crafted: ["REVIEW_OUTSIDE_TEAM"], stale: ["REVIEW_STALE_REVISION"]}
    assert len(story.rejections) == 2, "no submission was rejected"

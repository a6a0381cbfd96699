"""Issue #15 item 1, feedback to the field, end to end: real broker, real worker, real engine.

Enumerator 0412 (team of supervisor 041) sends four households: one valid
(A), one with a warning (W), one the rules reject (R), and one (T) that
supervisor 041 returns through the gateway with a comment. 0413 (same team)
sends X; 0511 is in supervisor 051's team. Through the gateway (which asks the
worker's /feedback with an operator token), 0412 sees the four states with
the catalogue's messages and the comment; a second call with the returned
cursor gets nothing new; after T's revision 2 only T comes back, awaiting
review. 0413 sees only X and is refused (403) when naming 0412; supervisor 041
sees the team, 051 none of it. A gateway whose worker is away answers 503
with Retry-After. One worker runs throughout; each phase waits until it is idle.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pydantic import SecretStr

from schemas.catalog import load_schema
from schemas.frame import Assignment, Enumerator, load_frame, write_frame
from schemas.jsonform import JsonForm, to_json
from schemas.registry import LocalRegistry
from streams.gateway.app import GatewayConfig, create_app
from streams.gateway.auth import TokenStore
from streams.gateway.feedback import FeedbackService, WorkerLink
from streams.gateway.reviews import ReviewService
from streams.sdk import FeedbackClient, FeedbackPage, ReviewPublisher, SubmissionPublisher
from streams.topics import REVIEWS, SUBMISSIONS, TopicSpec, ensure_topics
from tests import builders as b
from tests.backends import KafkaBackend, free_port
from tests.integration.test_gateway import Answer, RunningGateway
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

TOKENS = {
    "fb-token-0412-abcdefghijkl": "0412",
    "fb-token-0413-abcdefghijkl": "0413",
    "fb-token-pml-041-abcdefgh": "041",
    "fb-token-pml-051-abcdefgh": "051",
}
BY_ID = {who: token for token, who in TOKENS.items()}
COMMENT = "Umur anggota ke-2 tidak sesuai tanggal lahirnya; mohon diperiksa."


def household(n: int, revision: int = 1, enumerator: str = "0412") -> dict[str, Any]:
    """A distinct household of Cakru (SLS 0003 for 0412, 0004 for 0413) with its own NIKs."""
    sls = "0003" if enumerator == "0412" else "0004"
    record = b.kemendagri_submission(
        household_id=f"35.09.02.2001-{sls}-{n:04d}-01",
        revision=revision,
        submission_id=str(uuid.uuid4()),
    )
    record["enumeration"]["enumerator_id"] = enumerator
    record["location"]["sls_code"] = sls
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    return record


@dataclass
class Story:
    """What each caller got back at each step."""

    sent: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, Answer] = field(default_factory=dict)
    sdk_pages: list[FeedbackPage] = field(default_factory=list)


@pytest.fixture(scope="module")
def story(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    state_dir = tmp_path_factory.mktemp("feedback")
    prefix = f"feedback-{uuid.uuid4().hex[:8]}"
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
    frame = load_frame(state_dir / "frame")
    worker = WorkerProcess(
        kafka.bootstrap,
        prefix,
        state_dir,
        {"REGSOSEK_FRAME_DIR": str(state_dir / "frame"), "REGSOSEK_FEEDBACK_SETTLE_SECONDS": "0"},
    )
    registry = LocalRegistry()
    submissions = SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS])

    def gateway_to(url: str) -> RunningGateway:
        return RunningGateway(
            create_app(
                GatewayConfig(bootstrap=kafka.bootstrap, retry_after_s=7),
                TokenStore.from_mapping(TOKENS),
                SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS]),
                reviews=ReviewService(
                    ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS]),
                    JsonForm(load_schema("ReviewDecision")),
                    frame,
                    retry_after_s=7,
                ),
                feedback=FeedbackService(
                    frame,
                    WorkerLink(url, SecretStr(worker.operator_token), timeout_s=5, retry_after_s=7),
                ),
            )
        )

    gateway = gateway_to(f"http://127.0.0.1:{worker.web_port}")
    orphan = gateway_to(f"http://127.0.0.1:{free_port()}")  # no worker listens there
    out = Story()

    def ask(name: str, who: str | None, query: str = "") -> Answer:
        answer = gateway.request("GET", f"/v1/feedback{query}", token=BY_ID.get(who or ""))
        out.answers[name] = answer
        return answer

    try:
        accepted, warned, rejected, returned = (household(n) for n in (1, 5, 4, 2))
        warned["members"][0]["nik"] = "3509025205800005"  # a woman's NIK on the head: warning
        rejected["members"][0]["age"] = 130  # AGE_RANGE: rejected
        other = household(6, enumerator="0413")
        out.sent = {"A": accepted, "W": warned, "R": rejected, "T": returned, "X": other}
        for record in out.sent.values():
            submissions.publish(record)
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
            review = {
                "review_id": str(uuid.uuid4()),
                "household_id": returned["household_id"],
                "submission_id": returned["submission_id"],
                "revision": 1,
                "enumerator_id": "0412",
                "supervisor_id": "041",
                "decision": "RETURNED",
                "comment": COMMENT,
                "decided_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
            }
            document = to_json(load_schema("ReviewDecision"), review)
            posted = gateway.request("POST", "/v1/reviews", document, token=BY_ID["041"])
            assert posted.status == 202, posted.body
            worker.wait_idle(also=(REVIEWS,))
            first = ask("0412 first", "0412")
            cursor = first.body["cursor"] if first.status == 200 else ""
            ask("0412 again", "0412", f"?cursor={cursor}")
            revised = household(2, revision=2)
            revised["household_id"] = returned["household_id"]
            submissions.publish(revised)
            out.sent["T2"] = revised
            worker.wait_idle(also=(REVIEWS,))
            ask("0412 after revision", "0412", f"?cursor={cursor}")
            ask("0412 names self", "0412", "?enumerator_id=0412&limit=2")
            ask("0413 own", "0413")
            ask("0413 names 0412", "0413", "?enumerator_id=0412")
            ask("041 team", "041")
            ask("041 one member", "041", "?enumerator_id=0413")
            ask("051 names 0412", "051", "?enumerator_id=0412")
            ask("051 own team", "051")
            tampered = cursor[:-1] + ("0" if cursor[-1:] != "0" else "1")
            ask("tampered cursor", "0412", f"?cursor={tampered}")
            ask("no token", None)
            gateway_url = f"http://127.0.0.1:{gateway.port}"
            with FeedbackClient(gateway_url, BY_ID["0412"]) as sdk:
                out.sdk_pages = list(sdk.sync(limit=3))
            out.answers["worker away"] = orphan.request("GET", "/v1/feedback", token=BY_ID["0412"])
    finally:
        gateway.stop()
        orphan.stop()
        submissions.close()
    yield out


def items(answer: Answer) -> dict[str, dict[str, Any]]:
    assert answer.status == 200, answer.body
    return {item["household_id"]: item for item in answer.body["items"]}


def test_the_enumerator_sees_the_four_states_with_messages_and_the_comment(story: Story) -> None:
    sent = story.sent
    got = items(story.answers["0412 first"])
    assert set(got) == {sent[k]["household_id"] for k in "AWRT"}
    status = {k: got[sent[k]["household_id"]]["status"] for k in "AWRT"}
    assert status == {
        "A": "accepted",
        "W": "accepted_with_warnings",
        "R": "rejected",
        "T": "returned",
    }
    a, w, r, t = (got[sent[k]["household_id"]] for k in "AWRT")
    assert a["reasons"] == [] and a["comment"] is None and a["revision"] == 1
    assert a["submission_id"] == sent["A"]["submission_id"]
    assert [x["code"] for x in w["reasons"]] == ["NIK_SEX_MISMATCH"]
    assert w["reasons"][0]["severity"] == "warning" and w["reasons"][0]["message_id"]
    assert "AGE_RANGE" in [x["code"] for x in r["reasons"]]
    age = next(x for x in r["reasons"] if x["code"] == "AGE_RANGE")
    assert age["field"] == "members[0].age" and age["severity"] == "error"
    assert age["message_en"] and age["message_id"] and age["message_en"] != age["message_id"]
    assert r["submission_id"] == sent["R"]["submission_id"]
    assert t["comment"] == COMMENT and t["revision"] == 1
    assert all(dt.datetime.fromisoformat(x["updated_at"]).tzinfo for x in got.values())


def test_the_cursor_brings_only_what_changed(story: Story) -> None:
    again = story.answers["0412 again"]
    assert again.status == 200 and again.body["items"] == []
    assert again.body["cursor"] == story.answers["0412 first"].body["cursor"]
    after = items(story.answers["0412 after revision"])
    (only,) = after.values()
    assert only["household_id"] == story.sent["T"]["household_id"]
    assert (only["revision"], only["status"], only["comment"]) == (2, "awaiting_review", None)
    paged = story.answers["0412 names self"]
    assert paged.status == 200 and len(paged.body["items"]) == 2 and paged.body["more"] is True
    assert story.answers["tampered cursor"].status == 400


def test_nobody_sees_another_enumerators_households(story: Story) -> None:
    assert set(items(story.answers["0413 own"])) == {story.sent["X"]["household_id"]}
    assert story.answers["0413 names 0412"].status == 403
    team = items(story.answers["041 team"])
    assert set(team) == {story.sent[k]["household_id"] for k in "AWRTX"}
    assert set(items(story.answers["041 one member"])) == {story.sent["X"]["household_id"]}
    assert story.answers["051 names 0412"].status == 403
    assert items(story.answers["051 own team"]) == {}
    assert story.answers["no token"].status == 401


def test_a_gateway_without_its_worker_answers_503_with_retry_after(story: Story) -> None:
    away = story.answers["worker away"]
    assert away.status == 503 and away.headers.get("retry-after") == "7"


def test_the_sdk_pages_through_everything_of_the_enumerator(story: Story) -> None:
    pages = story.sdk_pages
    assert [len(page.items) for page in pages] == [3, 1]
    assert [page.more for page in pages] == [True, False]
    statuses = {item["household_id"]: item["status"] for page in pages for item in page.items}
    assert statuses == {
        story.sent["A"]["household_id"]: "accepted",
        story.sent["W"]["household_id"]: "accepted_with_warnings",
        story.sent["R"]["household_id"]: "rejected",
        story.sent["T"]["household_id"]: "awaiting_review",
    }

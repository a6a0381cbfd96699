"""Issue #16, the worker's console pages: real broker, real worker, real engine.

A frame of two districts: Kencong (35.09.02, BPS 3509010), village Cakru, with
enumerators 0412 and 0413 (team 041) and 0511 (team 051); Jombang (35.09.01),
village Padomasan, with 0611 (team 061). Targets: Cakru 6 + 4 + 3 households in
SLS 0003/0004/0005, Padomasan 5 in SLS 0001. Sent: eight valid complete
households (0412: 3, 0413: 2, 0511: 1, 0611: 2) and two that are rejected,
both by 0412 (an age of 130; an SLS outside the assignment). Supervisor 041
then approves one of 0412's households and returns another with a comment.
Each page's numbers must equal what was sent; no answer may carry a name, a
NIK or the comment; the pages need the operator token.
"""

from __future__ import annotations

import datetime as dt
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from schemas.frame import Assignment, Enumerator, Target, write_frame
from schemas.registry import LocalRegistry
from streams.sdk import ReviewPublisher, SubmissionPublisher
from streams.topics import REVIEWS, SUBMISSIONS, TopicSpec, ensure_topics
from tests import builders as b
from tests.backends import KafkaBackend
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

PADOMASAN = "35.09.01.2001"
TEAMS = {"0412": "041", "0413": "041", "0511": "051", "0611": "061"}
SLS = {"0412": "0003", "0413": "0004", "0511": "0005", "0611": "0001"}
TARGETS = [
    Target(b.CAKRU, "0003", 6),
    Target(b.CAKRU, "0004", 4),
    Target(b.CAKRU, "0005", 3),
    Target(PADOMASAN, "0001", 5),
]
COMMENT = "Umur Siti Aminah tidak sesuai tanggal lahirnya; mohon diperiksa."


def household(n: int, enumerator: str, sls: str | None = None) -> dict[str, Any]:
    """Household ``n`` (unique NIKs) of ``enumerator``, in its assigned SLS unless told."""
    sls = sls or SLS[enumerator]
    village = PADOMASAN if enumerator == "0611" else b.CAKRU
    location = b.kemendagri_location(
        district_code=village.split(".")[2], village_code=village.split(".")[3], sls_code=sls
    )
    record = b.kemendagri_submission(
        household_id=f"{village}-{sls}-{n:04d}-01",
        submission_id=str(uuid.uuid4()),
        location=location,
        enumeration=b.enumeration(enumerator_id=enumerator, supervisor_id=TEAMS[enumerator]),
    )
    for member in record["members"]:
        member["nik"] = member["nik"][:12] + f"{n:04d}"
    return record


def review(sent: dict[str, Any], decision: str, comment: str | None) -> dict[str, Any]:
    return {
        "review_id": str(uuid.uuid4()),
        "household_id": sent["household_id"],
        "submission_id": sent["submission_id"],
        "revision": 1,
        "enumerator_id": sent["enumeration"]["enumerator_id"],
        "supervisor_id": sent["enumeration"]["supervisor_id"],
        "decision": decision,
        "comment": comment,
        "decided_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
    }


@dataclass
class Story:
    """What was sent and every page's answer (status, JSON body, raw text)."""

    valid: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    rejected: dict[str, dict[str, Any]] = field(default_factory=dict)
    answers: dict[str, tuple[int, Any, str]] = field(default_factory=dict)
    idle_at: float = 0.0
    started_at: float = 0.0


OWN = object()  # get()'s default: the worker's own operator token


def get(worker: WorkerProcess, path: str, token: object = OWN) -> tuple[int, Any, str]:
    """Status, JSON and text of one GET, with the worker's token, another one, or none."""
    request = urllib.request.Request(f"http://127.0.0.1:{worker.web_port}{path}")
    if token is not None:
        bearer = worker.operator_token if token is OWN else str(token)
        request.add_header("Authorization", f"Bearer {bearer}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - http:// above
            text = answer.read().decode()
            return answer.status, json.loads(text), text
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        return exc.code, json.loads(text or "null"), text


@pytest.fixture(scope="module")
def story(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    state_dir = tmp_path_factory.mktemp("console")
    prefix = f"console-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    topics[REVIEWS] = f"{prefix}.reviews"
    ensure_topics(kafka.bootstrap, [TopicSpec(topics[REVIEWS], 3, 1)])
    write_frame(
        state_dir / "frame",
        [Enumerator(e, s, "35.09") for e, s in TEAMS.items()],
        [Assignment(e, PADOMASAN if e == "0611" else b.CAKRU, sls) for e, sls in SLS.items()],
        TARGETS,
    )
    worker = WorkerProcess(
        kafka.bootstrap, prefix, state_dir, {"REGSOSEK_FRAME_DIR": str(state_dir / "frame")}
    )
    registry = LocalRegistry()
    submissions = SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS])
    reviews = ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS])
    out = Story()
    numbers = iter(range(1, 100))
    for enumerator, count in (("0412", 3), ("0413", 2), ("0511", 1), ("0611", 2)):
        out.valid[enumerator] = [household(next(numbers), enumerator) for _ in range(count)]
    too_old = household(next(numbers), "0412")
    too_old["members"][0]["age"] = 130  # AGE_RANGE
    elsewhere = household(next(numbers), "0412", sls="0009")  # OUTSIDE_ASSIGNMENT
    out.rejected = {"AGE_RANGE": too_old, "OUTSIDE_ASSIGNMENT": elsewhere}
    try:
        for record in [*(r for rows in out.valid.values() for r in rows), too_old, elsewhere]:
            submissions.publish(record)
        out.started_at = time.time()
        with running(worker):
            worker.wait_idle(also=(REVIEWS,))
            first, second = out.valid["0412"][:2]
            reviews.publish(review(first, "APPROVED", None))
            reviews.publish(review(second, "RETURNED", COMMENT))
            worker.wait_idle(also=(REVIEWS,))
            out.idle_at = idle_at = time.time()
            pages = {
                "overview": "/console/overview",
                "kencong": "/console/district?code=35.09.02",
                "kencong bps": "/console/district?code=3509010",
                "jombang": "/console/district?code=35.09.01",
                "rejections": "/console/rejections",
                "rejections one": "/console/rejections?limit=1",
                "rejections jombang": "/console/rejections?district=35.09.01",
                "rejections 0412": "/console/rejections?enumerator=0412&district=3509010",
                "reviews 041": "/console/reviews?enumerators=0412,0413",
                "reviews 051": "/console/reviews?enumerators=0511&limit=5",
                "reviews nobody": "/console/reviews?enumerators=",
                "reviews all": "/console/reviews",
                "bad code": "/console/district?code=Kencong",
                "no code": "/console/district",
                "bad limit": "/console/rejections?limit=0",
                "bad enumerator": "/console/reviews?enumerators=0412,x",
                "unknown parameter": "/console/health?verbose=1",
            }
            for name, path in pages.items():
                out.answers[name] = get(worker, path)
            out.answers["no token"] = get(worker, "/console/overview", token=None)
            out.answers["wrong token"] = get(worker, "/console/overview", token="x" * 24)
            deadline = time.monotonic() + 30  # the lag snapshot is refreshed every 5 s
            while time.monotonic() < deadline:
                out.answers["health"] = get(worker, "/console/health")
                read_at = out.answers["health"][1].get("lag_read_at")
                if read_at and dt.datetime.fromisoformat(read_at).timestamp() > idle_at:
                    break
                time.sleep(1.0)
    finally:
        submissions.close()
        reviews.close()
        answers = {name: body for name, (_, body, _) in out.answers.items()}
        (state_dir / "answers.json").write_text(json.dumps(answers, indent=1))  # post-mortem
    yield out


def ok(story: Story, name: str) -> Any:
    status, body, _ = story.answers[name]
    assert status == 200, (name, body)
    return body


def test_pages_need_the_operator_token(story: Story) -> None:
    assert story.answers["no token"][0] == 401
    assert story.answers["wrong token"][0] == 403


def test_bad_parameters_are_400s(story: Story) -> None:
    for name in ("bad code", "no code", "bad limit", "bad enumerator", "unknown parameter"):
        status, body, _ = story.answers[name]
        assert status == 400, (name, body)
        assert body["error"]


def test_no_answer_carries_a_name_a_nik_or_a_comment(story: Story) -> None:
    sent = [r for rows in story.valid.values() for r in rows] + list(story.rejected.values())
    secrets = {COMMENT, "Siti Aminah", "Kenanga"}
    for record in sent:
        for member in record["members"]:
            secrets |= {member["name"], member["nik"]}
    assert len(secrets) > 30
    for name, (_, _, text) in story.answers.items():
        leaked = [secret for secret in secrets if secret in text]
        assert not leaked, (name, leaked)


def test_overview_counts_what_was_sent(story: Story) -> None:
    body = ok(story, "overview")
    assert body["target_total"] == 18
    assert body["enumerated"] == 8
    assert body["enumerated_last_hour"] == 8 and body["enumerated_last_day"] == 8
    assert body["remaining"] == 10
    assert body["days_left"] == 1.2  # 10 remaining at 8 a day
    assert body["totals"]["households"] == 8 and body["totals"]["rejections"] == 2
    assert {row["district_code"]: row["enumerated"] for row in body["districts"]} == {
        "35.09.01": 2,
        "35.09.02": 6,
    }
    assert dt.datetime.fromisoformat(body["as_of"]).tzinfo is not None


def test_district_page_by_either_code(story: Story) -> None:
    body = ok(story, "kencong")
    assert ok(story, "kencong bps")["enumerators"] == body["enumerators"]
    district = body["district"]
    assert (district["target"], district["enumerated"], district["rejected"]) == (13, 6, 2)
    assert body["review"] == {
        "awaiting_review": 4,
        "approved": 1,
        "returned": 1,
        "rejected_final": 0,
    }
    assert [(v["village_code"], v["target"], v["enumerated"]) for v in body["villages"]] == [
        (b.CAKRU, 13, 6)
    ]
    assert [(s["sls_code"], s["target"], s["enumerated"], s["percent"]) for s in body["sls"]] == [
        ("0003", 6, 3, 50.0),
        ("0004", 4, 2, 50.0),
        ("0005", 3, 1, 33.3),
    ]


def test_district_enumerators_and_teams(story: Story) -> None:
    body = ok(story, "kencong")
    people = {row["enumerator_id"]: row for row in body["enumerators"]}
    assert set(people) == {"0412", "0413", "0511"}
    first = people["0412"]
    assert (first["visited"], first["enumerated"], first["rejected"]) == (3, 3, 2)
    assert first["rejection_rate"] == 0.4
    assert (first["awaiting_review"], first["approved"], first["returned"]) == (1, 1, 1)
    assert first["flags"] == ["HIGH_REJECTION_RATE"]  # 2 of 5 decided
    assert people["0413"]["visited"] == 2 and people["0413"]["flags"] == []
    assert people["0413"]["rejection_rate"] == 0.0
    assert people["0511"]["awaiting_review"] == 1
    teams = {row["supervisor_id"]: row for row in body["teams"]}
    assert set(teams) == {"041", "051"}
    team = teams["041"]
    assert (team["enumerators"], team["visited"], team["rejected"]) == (2, 5, 2)
    assert team["rejection_rate"] == round(2 / 7, 4)
    assert (team["awaiting_review"], team["approved"], team["returned"]) == (3, 1, 1)
    other = ok(story, "jombang")
    assert [row["enumerator_id"] for row in other["enumerators"]] == ["0611"]
    assert other["district"]["enumerated"] == 2 and other["district"]["target"] == 5
    assert [t["supervisor_id"] for t in other["teams"]] == ["061"]


def test_rejections_by_reason_district_and_enumerator(story: Story) -> None:
    body = ok(story, "rejections")
    assert body["total"] == 2
    assert body["by_district"] == {"35.09.02": 2}
    assert body["by_enumerator"] == {"0412": 2}
    assert {"AGE_RANGE", "OUTSIDE_ASSIGNMENT"} <= set(body["by_reason"])
    assert body["by_reason"]["AGE_RANGE"] == 1 and body["by_reason"]["OUTSIDE_ASSIGNMENT"] == 1
    recent = {item["household_id"]: item for item in body["recent"]}
    assert set(recent) == {r["household_id"] for r in story.rejected.values()}
    for code, record in story.rejected.items():
        item = recent[record["household_id"]]
        assert code in item["reason_codes"]
        assert item["enumerator_id"] == "0412" and item["district_code"] == "35.09.02"
        assert len(item["fields"]) == len(item["reason_codes"])
        assert dt.datetime.fromisoformat(item["at"]).tzinfo is not None
    assert len(ok(story, "rejections one")["recent"]) == 1
    assert ok(story, "rejections jombang")["total"] == 0
    assert ok(story, "rejections jombang")["recent"] == []
    assert ok(story, "rejections 0412")["total"] == 2


def test_review_queue_per_team(story: Story) -> None:
    team = ok(story, "reviews 041")
    third = story.valid["0412"][2]
    expected = {third["household_id"]} | {r["household_id"] for r in story.valid["0413"]}
    assert {item["household_id"] for item in team["awaiting"]} == expected
    assert team["counts"] == {
        "awaiting_review": 3,
        "approved": 1,
        "returned": 1,
        "rejected_final": 0,
    }
    item = next(i for i in team["awaiting"] if i["household_id"] == third["household_id"])
    assert item["submission_id"] == third["submission_id"]
    assert (item["enumerator_id"], item["sls_code"], item["revision"]) == ("0412", "0003", 1)
    assert (item["district_code"], item["village_code"]) == ("35.09.02", b.CAKRU)
    assert item["status"] == "AWAITING_REVIEW" and isinstance(item["warning_codes"], list)
    assert dt.datetime.fromisoformat(item["submitted_at"]).tzinfo is not None
    other = ok(story, "reviews 051")
    assert [i["household_id"] for i in other["awaiting"]] == [
        story.valid["0511"][0]["household_id"]
    ]
    nobody = ok(story, "reviews nobody")
    assert nobody["awaiting"] == [] and nobody["counts"]["awaiting_review"] == 0
    everyone = ok(story, "reviews all")
    assert len(everyone["awaiting"]) == 6 and everyone["counts"]["approved"] == 1


def test_health_after_idle(story: Story) -> None:
    body = ok(story, "health")
    assert body["lag"], body
    assert set(body["lag"].values()) == {0}, body["lag"]
    assert dt.datetime.fromisoformat(body["lag_read_at"]).timestamp() > story.idle_at
    assert body["valid"] == 8 and body["rejected"] == 2
    assert body["sink_failing"] is False and body["ready"] is True
    assert body["sink_rows"]["households"] == 8
    assert isinstance(body["insert_rows_per_s"], float)
    if dt.datetime.fromisoformat(body["as_of"]).timestamp() - story.started_at < 55:
        # 44 rows (8 households, 32 members, 2 rejections, 2 reviews) in the last minute
        assert body["insert_rows_per_s"] > 0.5, body
    freshness = body["freshness_ms"]
    assert set(freshness) == {"p50", "p95", "p99"}
    if freshness["p50"] is not None:  # None only when the rows are over a minute old
        assert 0 <= freshness["p50"] <= freshness["p95"] <= freshness["p99"]

"""Supervisor reviews without a broker: the checks, the worker's judging, the gateway's refusals."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from processors.dedup import HouseholdState, Owner
from processors.pipeline import RawSubmission
from processors.reviews import comment_problem, review_findings, supervisors
from schemas.catalog import load_schema, subject_for
from schemas.jsonform import JsonForm, to_json
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from streams.gateway.auth import Authenticated
from streams.gateway.payloads import Problem
from streams.gateway.reviews import ReviewService
from streams.worker.reviews import judge
from tests import builders as b

FRAME = b.rules_frame()  # 0412 and 0413 under supervisor 041
HOUSEHOLD = "35.09.02.2001-0003-0001-01"
NOW = dt.datetime(2022, 10, 21, 3, tzinfo=dt.UTC)


def review(**overrides: Any) -> dict[str, Any]:
    record = {
        "review_id": str(uuid.uuid4()),
        "household_id": HOUSEHOLD,
        "submission_id": str(uuid.uuid4()),
        "revision": 2,
        "enumerator_id": "0412",
        "supervisor_id": "041",
        "decision": "APPROVED",
        "comment": None,
        "decided_at": NOW,
    }
    return record | overrides


def state(revision: int = 2, owner: str = "0412") -> HouseholdState:
    return HouseholdState(revision, ("s",), Owner(owner, b.CAKRU, "0003"), revision)


def codes(record: dict[str, Any], current: HouseholdState | None) -> list[str]:
    return [finding.code for finding in review_findings(record, current, FRAME)]


def test_a_review_of_the_latest_revision_by_the_owners_supervisor_stands() -> None:
    assert codes(review(), state()) == []
    assert codes(review(decision="RETURNED", comment="umur salah"), state()) == []


@pytest.mark.parametrize("comment", [None, "", "   "])
@pytest.mark.parametrize("decision", ["RETURNED", "REJECTED_FINAL"])
def test_returning_or_rejecting_needs_a_comment(decision: str, comment: str | None) -> None:
    assert comment_problem(decision, comment) is not None
    assert codes(review(decision=decision, comment=comment), state()) == ["REVIEW_COMMENT_MISSING"]
    assert comment_problem("APPROVED", comment) is None


@pytest.mark.parametrize(
    ("overrides", "current", "expected"),
    [
        ({"supervisor_id": "099"}, state(), "REVIEW_OUTSIDE_TEAM"),  # not this team's PML
        ({"enumerator_id": "9999"}, state(), "REVIEW_OUTSIDE_TEAM"),  # not in the frame
        ({}, state(owner="0999"), "REVIEW_OUTSIDE_TEAM"),  # the owner is in another team
        ({}, None, "REVIEW_UNKNOWN_HOUSEHOLD"),
        ({}, HouseholdState(-1, ("s",), None, 1), "REVIEW_UNKNOWN_HOUSEHOLD"),  # only rejected
        ({"revision": 1}, state(), "REVIEW_STALE_REVISION"),
        ({"revision": 3}, state(), "REVIEW_UNKNOWN_REVISION"),
    ],
)
def test_each_failed_check_has_its_reason_code(
    overrides: dict[str, Any], current: HouseholdState | None, expected: str
) -> None:
    assert codes(review(**overrides), current) == [expected]


def test_a_review_older_than_the_revision_after_it_is_not_stale() -> None:
    """Judged by the Kafka timestamps, not by which topic the worker happened to read first."""
    newer_at = 1_700_000_060_000
    revised = HouseholdState(3, ("s",), Owner("0412", b.CAKRU, "0003"), 3, newer_at)
    older = review(revision=2, decision="RETURNED", comment="umur salah")
    made_before = review_findings(older, revised, FRAME, at_ms=newer_at - 5_000)
    made_after = review_findings(older, revised, FRAME, at_ms=newer_at + 5_000)
    assert [f.code for f in made_before] == []
    assert [f.code for f in made_after] == ["REVIEW_STALE_REVISION"]
    # a state from before timestamps were kept (or a review without one): the old rule
    assert [f.code for f in review_findings(older, state(3), FRAME, at_ms=1)] == [
        "REVIEW_STALE_REVISION"
    ]


def test_the_frames_supervisors_are_the_reviewers() -> None:
    assert supervisors(FRAME) == {"041"}


def raw(value: bytes, offset: int) -> RawSubmission:
    return RawSubmission("t.reviews", 1, offset, HOUSEHOLD.encode(), value, NOW)


def test_judge_stores_what_stands_and_rejects_the_rest_with_the_review_id() -> None:
    registry = LocalRegistry()
    serializer = AvroSerializer(registry, subject_for("ReviewDecision"), "ReviewDecision")
    good, stale = review(), review(revision=1)
    messages = [
        raw(serializer.encode(good), 7),
        raw(serializer.encode(stale), 8),
        raw(b"not avro", 9),
    ]
    decoder = AvroDeserializer(registry, "ReviewDecision")
    judged = judge(messages, decoder, lambda _household: state(), FRAME, NOW)
    assert [(r["review_id"], position[2]) for r, position in judged.accepted] == [
        (good["review_id"], 7)
    ]
    stale_rejection, undecodable = judged.rejections
    assert [reason["code"] for reason in stale_rejection["reasons"]] == ["REVIEW_STALE_REVISION"]
    assert stale_rejection["submission_id"] == stale["review_id"]
    assert stale_rejection["household_id"] == HOUSEHOLD
    assert stale_rejection["enumerator_id"] is None  # never an enumerator's rejection
    assert stale_rejection["source_offset"] == 8
    assert undecodable["reasons"][0]["code"] == "DECODE_BAD_MAGIC_BYTE"
    assert undecodable["household_id"] == HOUSEHOLD  # from the Kafka key


class Recording:
    topic = "t.reviews"

    def __init__(self) -> None:
        self.records: list[Any] = []

    def publish(self, record: Any) -> Any:
        self.records.append(record)
        return None

    def publish_batch(self, records: Any) -> Any:
        raise AssertionError("not used")

    def close(self) -> None:
        return None


def service() -> tuple[ReviewService, Recording]:
    publisher = Recording()
    form = JsonForm(load_schema("ReviewDecision"))
    return ReviewService(publisher, form, FRAME, retry_after_s=5), publisher


def as_json(record: dict[str, Any]) -> dict[str, Any]:
    return to_json(load_schema("ReviewDecision"), record)


@pytest.mark.parametrize(
    ("caller", "overrides", "status"),
    [
        ("0412", {}, 403),  # an enumerator's token
        ("041", {"supervisor_id": "042"}, 403),  # someone else's decision
        ("041", {"enumerator_id": "0999"}, 403),  # outside the team
        ("041", {"decision": "RETURNED"}, 400),  # no comment
        ("041", {"decision": "MAYBE"}, 400),  # the schema
    ],
)
def test_the_gateway_refuses(caller: str, overrides: dict[str, Any], status: int) -> None:
    reviews, publisher = service()
    document = as_json(review()) | overrides
    with pytest.raises(Problem) as refused:
        reviews.submit(Authenticated(caller), document)
    assert refused.value.status == status, refused.value.message
    assert publisher.records == []


def test_the_gateway_publishes_its_supervisors_review_of_their_team() -> None:
    reviews, publisher = service()
    record = review(decision="RETURNED", comment="Tanggal lahir anggota 2 salah")
    reviews.submit(Authenticated("041"), as_json(record))
    (sent,) = publisher.records
    assert sent["review_id"] == record["review_id"] and sent["decision"] == "RETURNED"

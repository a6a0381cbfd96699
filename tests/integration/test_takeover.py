"""Issue #14 item 2, "no takeover", end to end: real broker, real worker, real ClickHouse engine.

Enumerator 0412 holds SLS 0003 of Cakru, 0413 holds SLS 0004 (one team, one
supervisor). For one household per path: 0412 sends revision 1; 0413 sends
the same household id from its own SLS 0004 with revision 2**31-1, a record
that passes every rule; then 0412 sends revision 2. Once through the SDK
(which carries whatever enumerator id the record says) and once through the
gateway (which authenticates 0413 by its token). The worker is restarted
between revision 1 and the takeover, so the owner must come back from the
dedup table's changelog. Both takeovers must end as rejections with
HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT, and ClickHouse must hold 0412's revision 2.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from schemas.catalog import load_schema
from schemas.frame import Assignment, write_frame
from schemas.jsonform import to_json
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer
from streams.sdk import SubmissionPublisher
from streams.topics import SUBMISSIONS, SUBMISSIONS_REJECTED, SUBMISSIONS_VALID
from tests import builders as b
from tests.backends import KafkaBackend
from tests.integration.test_gateway import TOKEN_0412, TOKEN_0413, start_gateway
from tests.topics import read_topic
from tests.worker_harness import WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

VIA_SDK = "35.09.02.2001-0003-0001-01"
VIA_GATEWAY = "35.09.02.2001-0003-0002-01"
TAKEOVER_REVISION = 2**31 - 1


def by_0412(household: str, revision: int) -> dict[str, Any]:
    """0412's own household in 0412's SLS 0003."""
    return b.kemendagri_submission(
        household_id=household, revision=revision, submission_id=str(uuid.uuid4())
    )


def by_0413(household: str) -> dict[str, Any]:
    """0412's household id, sent by 0413 from 0413's own SLS 0004: every rule passes."""
    record = by_0412(household, TAKEOVER_REVISION)
    record["location"] = b.kemendagri_location(sls_code="0004", sls_name="RT 004 RW 001")
    record["enumeration"] = b.enumeration(enumerator_id="0413")
    return record


@dataclass
class Outcome:
    """What the pipeline made of both scenarios."""

    sent: dict[str, list[dict[str, Any]]]  # household -> records in sending order
    households: dict[str, dict[str, Any]]  # ClickHouse households FINAL by id
    rejections: list[dict[str, Any]]  # ClickHouse rejections
    valid: list[dict[str, Any]]  # decoded ValidatedSubmission records
    rejected: list[dict[str, Any]]  # decoded Rejection records


class Sender:
    """Both field-app paths onto the worker's submissions topic."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.sdk = SubmissionPublisher(bootstrap, LocalRegistry(), topic=topic)
        self.gateway = start_gateway(bootstrap, topic)
        self.sent: dict[str, list[dict[str, Any]]] = {VIA_SDK: [], VIA_GATEWAY: []}

    def send(self, household: str, record: dict[str, Any], token: str) -> None:
        """Through the SDK or the gateway (by household), acknowledged before returning."""
        if household == VIA_SDK:
            self.sdk.publish(record)
        else:
            document = to_json(load_schema("HouseholdSubmission"), record)
            answer = self.gateway.request("POST", "/v1/submissions", document, token=token)
            assert answer.status == 202, answer.body  # the gateway cannot know the owner
        self.sent[household].append(record)

    def close(self) -> None:
        self.sdk.close()
        self.gateway.stop()


@pytest.fixture(scope="module")
def outcome(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    """Both scenarios through one worker, restarted once: ~1 min of broker and engine."""
    state_dir = tmp_path_factory.mktemp("takeover")
    prefix = f"takeover-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    frame = b.rules_frame()
    assignments = [
        Assignment(enumerator, village, sls)
        for enumerator, cells in frame.assignments.items()
        for village, sls in sorted(cells)
    ]
    write_frame(state_dir / "frame", frame.enumerators.values(), assignments, [])
    worker = WorkerProcess(
        kafka.bootstrap, prefix, state_dir, {"REGSOSEK_FRAME_DIR": str(state_dir / "frame")}
    )
    sender = Sender(kafka.bootstrap, topics[SUBMISSIONS])
    try:
        # Each phase is sent while the worker runs: its first commit then follows records
        # that arrived during its start, the order that once kept that commit in flight
        # (a producer batch without a leader, streams/worker/faust_fixes.py).
        with running(worker):
            for household in (VIA_SDK, VIA_GATEWAY):
                sender.send(household, by_0412(household, 1), TOKEN_0412)
            worker.wait_idle()
        with running(worker):  # the dedup table comes back from its changelog
            for household in (VIA_SDK, VIA_GATEWAY):
                sender.send(household, by_0413(household), TOKEN_0413)
                sender.send(household, by_0412(household, 2), TOKEN_0412)
            worker.wait_idle()
    finally:
        sender.close()
    rows = worker.query(
        "SELECT household_id, revision, submission_id, enumerator_id, sls_code"
        " FROM regsosek.households FINAL"
    )
    registry = LocalRegistry()
    yield Outcome(
        sent=sender.sent,
        households={row["household_id"]: row for row in rows},
        rejections=worker.query(
            "SELECT household_id, submission_id, enumerator_id, reason_codes"
            " FROM regsosek.rejections FINAL"
        ),
        valid=_decoded(kafka, topics[SUBMISSIONS_VALID], registry, "ValidatedSubmission"),
        rejected=_decoded(kafka, topics[SUBMISSIONS_REJECTED], registry, "Rejection"),
    )


def _decoded(
    kafka: KafkaBackend, topic: str, registry: LocalRegistry, name: str
) -> list[dict[str, Any]]:
    decoder = AvroDeserializer(registry, name)
    return [decoder.decode(record.value) for record in read_topic(kafka.bootstrap, topic)]


def _assert_no_takeover(outcome: Outcome, household: str) -> None:
    first, takeover, genuine = outcome.sent[household]
    row = outcome.households[household]
    assert (row["revision"], row["submission_id"], row["enumerator_id"], row["sls_code"]) == (
        2,
        genuine["submission_id"],
        "0412",
        "0003",
    ), "ClickHouse holds 0412's revision 2, not the takeover"
    mine = [r for r in outcome.rejections if r["household_id"] == household]
    assert mine == [
        {
            "household_id": household,
            "submission_id": takeover["submission_id"],
            "enumerator_id": "0413",
            "reason_codes": ["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"],
        }
    ]
    on_topic = [r for r in outcome.rejected if r["household_id"] == household]
    assert [[reason["code"] for reason in r["reasons"]] for r in on_topic] == [
        ["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"]
    ]
    message = on_topic[0]["reasons"][0]["message"]
    assert f"SLS {b.CAKRU}/0003" in message and "'0413' does not hold" in message, message
    forwarded = [
        (v["submission"]["submission_id"], v["submission"]["revision"])
        for v in outcome.valid
        if v["submission"]["household_id"] == household
    ]
    assert sorted(forwarded, key=lambda item: item[1]) == [
        (first["submission_id"], 1),
        (genuine["submission_id"], 2),
    ], "the genuine revision 2 was not dropped as stale"


def test_a_takeover_through_the_sdk_is_rejected_and_the_owner_keeps_revising(
    outcome: Outcome,
) -> None:
    _assert_no_takeover(outcome, VIA_SDK)


def test_a_takeover_through_the_gateway_ends_as_the_same_rejection(outcome: Outcome) -> None:
    """The gateway authenticated 0413 and accepted the request; the worker refuses the record."""
    _assert_no_takeover(outcome, VIA_GATEWAY)


def test_nothing_else_was_rejected(outcome: Outcome) -> None:
    assert sorted(r["household_id"] for r in outcome.rejections) == [VIA_SDK, VIA_GATEWAY]

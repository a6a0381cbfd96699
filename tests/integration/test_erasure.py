"""Issue #17 item 4, erasure end to end: real broker, a real worker, its embedded engine.

Enumerator 0412 interviews families A and B in one village (Cakru, Kencong)
on one day. A also has a rejected correction (a bad NIK: a rejection_payloads
row with names in clear), a supervisor's decision with a comment, and
interview paradata; B has paradata. While the worker runs, A is erased
through ``POST /erase`` (a dry run first, which changes nothing); then the
command ``regsosek erase household`` asks for A again and finds nothing.
Afterwards, with the worker stopped, every MergeTree table with a
``household_id`` column is asked for A (none holds it) and B (intact), the
progress views count one household fewer in the village, district and
enumerator, and the audit has two rows, with the id only as an HMAC.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka import KafkaProducer

from schemas.catalog import subject_for
from schemas.frame import Assignment, write_frame
from schemas.registry import LocalRegistry
from schemas.serde import AvroSerializer
from sinks.erasure import HASH_DOMAIN
from streams.sdk import ReviewPublisher, SubmissionPublisher
from streams.topics import ENUMERATOR_EVENTS, REVIEWS, SUBMISSIONS, TopicSpec, ensure_topics, named
from tests import builders as b
from tests.backends import KafkaBackend
from tests.worker_harness import ROOT, WorkerProcess, create_worker_topics, running

pytestmark = pytest.mark.integration

A = "35.09.02.2001-0003-0301-01"
B = "35.09.02.2001-0003-0302-01"
VILLAGE, DISTRICT, ENUMERATOR = b.CAKRU, "35.09.02", "0412"
COMMENT = "Nama kepala keluarga Budi Santoso salah eja; mohon diperbaiki."


def submission(household: str, revision: int = 1) -> dict[str, Any]:
    return b.kemendagri_submission(
        household_id=household, revision=revision, submission_id=str(uuid.uuid4())
    )


def interview_events(household: str) -> list[dict[str, Any]]:
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    return [
        b.enumerator_event(
            event_type=kind,
            at=start + dt.timedelta(minutes=minutes),
            household_id=household,
            pending_count=None,
        )
        for kind, minutes in (("INTERVIEW_STARTED", 0), ("INTERVIEW_FINISHED", 40))
    ]


@dataclass
class Story:
    """What the worker answered, before and after, and what the tables held afterwards."""

    before: dict[str, dict[str, Any]] = field(default_factory=dict)
    after: dict[str, dict[str, Any]] = field(default_factory=dict)
    dry: dict[str, Any] = field(default_factory=dict)
    after_dry: dict[str, dict[str, Any]] = field(default_factory=dict)
    erased: dict[str, Any] = field(default_factory=dict)
    unauthenticated: int = 0
    again: subprocess.CompletedProcess[str] | None = None
    again_json: dict[str, Any] = field(default_factory=dict)
    holders: list[str] = field(default_factory=list)
    counts_a: dict[str, int] = field(default_factory=dict)
    counts_b: dict[str, int] = field(default_factory=dict)
    audit: list[dict[str, Any]] = field(default_factory=list)
    nik_key: str = ""
    payload_ttl: str = ""


def post_erase(worker: WorkerProcess, body: dict[str, Any], *, token: bool = True) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}/erase",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if token:
        request.add_header("Authorization", f"Bearer {worker.operator_token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as r:  # noqa: S310 - http:// above
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def progress(worker: WorkerProcess) -> dict[str, dict[str, Any]]:
    """The progress rows of A and B's village, district and enumerator."""
    rows = {}
    for by, key, value in (
        ("village", "village_code", VILLAGE),
        ("district", "district_code", DISTRICT),
        ("enumerator", "enumerator_id", ENUMERATOR),
    ):
        page = worker.page(f"/progress?by={by}")
        rows[by] = next(row for row in page["rows"] if row[key] == value)
    return rows


@pytest.fixture(scope="module")
def story(kafka: KafkaBackend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Story]:
    state_dir = tmp_path_factory.mktemp("erasure")
    prefix = f"erase-{uuid.uuid4().hex[:8]}"
    topics = create_worker_topics(kafka.bootstrap, prefix, 3)
    for base in (REVIEWS, ENUMERATOR_EVENTS):
        topics[base] = named(base, prefix)
        ensure_topics(kafka.bootstrap, [TopicSpec(topics[base], 3, 1)])
    frame = b.rules_frame()
    write_frame(
        state_dir / "frame",
        frame.enumerators.values(),
        [Assignment(e, v, s) for e, cells in frame.assignments.items() for v, s in sorted(cells)],
        [],
    )
    worker = WorkerProcess(
        kafka.bootstrap, prefix, state_dir, {"REGSOSEK_FRAME_DIR": str(state_dir / "frame")}
    )
    registry = LocalRegistry()
    submissions = SubmissionPublisher(kafka.bootstrap, registry, topic=topics[SUBMISSIONS])
    reviews = ReviewPublisher(kafka.bootstrap, registry, topic=topics[REVIEWS])
    events = AvroSerializer(registry, subject_for("EnumeratorEvent"), "EnumeratorEvent")
    producer = KafkaProducer(bootstrap_servers=kafka.bootstrap, acks="all")
    out = Story(nik_key=worker.nik_key)
    try:
        a1 = submission(A)
        bad = submission(A, revision=2)
        bad["members"][0]["nik"] = "35090212"  # rejected: its original keeps the names
        for record in (a1, submission(B), bad):
            submissions.publish(record)
        for event in interview_events(A) + interview_events(B):
            producer.send(topics[ENUMERATOR_EVENTS], key=b"0412", value=events.encode(event))
        producer.flush()
        with running(worker):
            worker.wait_idle(also=(ENUMERATOR_EVENTS,))
            reviews.publish(
                {
                    "review_id": str(uuid.uuid4()),
                    "household_id": A,
                    "submission_id": a1["submission_id"],
                    "revision": 1,
                    "enumerator_id": ENUMERATOR,
                    "supervisor_id": "041",
                    "decision": "RETURNED",
                    "comment": COMMENT,
                    "decided_at": dt.datetime.now(dt.UTC).replace(microsecond=0),
                }
            )
            worker.wait_idle(also=(ENUMERATOR_EVENTS, REVIEWS))
            out.before = progress(worker)
            asked = {"household_id": A, "request": "BPS-3509/ERASE/2022-17", "by": "Sri (ops)"}
            out.unauthenticated, _ = post_erase(worker, asked, token=False)
            status, out.dry = post_erase(worker, asked | {"dry_run": True})
            assert status == 200, out.dry
            out.after_dry = progress(worker)
            status, out.erased = post_erase(worker, asked)
            assert status == 200, out.erased
            out.after = progress(worker)
            out.again = subprocess.run(
                [sys.executable, "-m", "streams.cli", "erase", "household", A,
                 "--request", "BPS-3509/ERASE/2022-17", "--by", "Sri (ops)", "--json"],
                env=worker.env, capture_output=True, text=True, timeout=180, check=False,
                cwd=ROOT,
            )  # fmt: skip
    finally:
        submissions.close()
        reviews.close()
        producer.close()
    if out.again.returncode == 0:
        out.again_json = json.loads(out.again.stdout)
    out.holders = [
        row["table"]
        for row in worker.query(
            "SELECT c.table AS table FROM system.columns AS c INNER JOIN system.tables AS t"
            " ON t.database = c.database AND t.name = c.table"
            " WHERE c.database = 'regsosek' AND c.name = 'household_id'"
            " AND t.engine LIKE '%MergeTree' ORDER BY table"
        )
    ]
    for household, counts in ((A, out.counts_a), (B, out.counts_b)):
        union = " UNION ALL ".join(
            f"SELECT '{t}' AS table, count() AS n FROM regsosek.{t}"
            f" WHERE household_id = '{household}'"
            for t in out.holders
        )
        counts.update({row["table"]: int(row["n"]) for row in worker.query(union)})
    out.audit = worker.query("SELECT * FROM regsosek.erasures ORDER BY erased_at")
    (table,) = worker.query(
        "SELECT create_table_query FROM system.tables"
        " WHERE database = 'regsosek' AND name = 'rejection_payloads'"
    )
    out.payload_ttl = table["create_table_query"]
    yield out


def rows_of(report: dict[str, Any]) -> dict[str, int]:
    return {t["table"]: t["rows"] for t in report["tables"]}


def keys_of(report: dict[str, Any]) -> dict[str, int]:
    return {t["table"]: t["rebuilt_keys"] for t in report["tables"] if t["rebuilt_keys"]}


def test_the_endpoint_needs_an_operator_token(story: Story) -> None:
    assert story.unauthenticated == 401


def test_every_table_holding_a_household_is_covered_and_a_is_gone(story: Story) -> None:
    expected = {"households", "members", "rejection_payloads", "rejections", "reviews"}
    expected |= {"review_decisions", "enumerator_events", "nik_households"}
    assert expected <= set(story.holders)
    assert set(story.counts_a) == set(story.holders)
    assert all(n == 0 for n in story.counts_a.values()), story.counts_a
    reported = rows_of(story.erased)
    assert set(story.holders) <= set(reported)  # the erasure looked at each of them


def test_the_erasure_counted_what_it_removed(story: Story) -> None:
    removed = rows_of(story.erased)
    assert removed["households"] == 1
    assert removed["members"] == 4
    assert removed["rejection_payloads"] == 1 and removed["rejections"] == 1
    assert removed["reviews"] == 1 and removed["review_decisions"] == 1
    assert removed["enumerator_events"] == 2
    assert removed["nik_households"] == 4
    assert keys_of(story.erased) == {
        "progress_village_daily": 1,
        "progress_enumerator_daily": 1,
        "rejections_daily": 1,
    }
    assert story.erased["nothing"] is False and story.erased["dry_run"] is False


def test_the_dry_run_counted_the_same_and_changed_nothing(story: Story) -> None:
    assert rows_of(story.dry) == rows_of(story.erased)
    assert story.dry["dry_run"] is True
    assert story.after_dry == story.before


def test_b_is_intact(story: Story) -> None:
    for table in ("households", "members", "enumerator_events", "nik_households"):
        assert story.counts_b[table] > 0, table
    assert story.counts_b["households"] == 1 and story.counts_b["members"] == 4


def test_progress_counts_one_household_fewer(story: Story) -> None:
    for by in ("village", "district", "enumerator"):
        before, after = story.before[by], story.after[by]
        assert before["visited"] == 2 and after["visited"] == 1, by
        assert before["enumerated"] == 2 and after["enumerated"] == 1, by
    assert story.before["district"]["rejected"] == 1
    assert not story.after["district"]["rejected"]  # A's rejection went with it
    assert story.before["enumerator"]["rejected"] == 1
    assert not story.after["enumerator"]["rejected"]


def test_erasing_again_finds_nothing_and_says_what_kafka_keeps(story: Story) -> None:
    assert story.again is not None
    assert story.again.returncode == 0, story.again.stderr
    assert story.again_json["nothing"] is True
    assert all(t["rows"] == 0 for t in story.again_json["tables"])
    remains = "\n".join(story.again_json["kafka_remains"])
    for suffix in ("submissions", "submissions.valid", "submissions.rejected", "reviews"):
        assert f".{suffix}:" in remains
    assert "dedup" in remains and "90 days" in remains


def test_the_audit_keeps_an_hmac_and_never_the_id(story: Story) -> None:
    assert len(story.audit) == 2  # the erasure and the second request that found nothing
    expected = hmac.new(
        story.nik_key.encode(), HASH_DOMAIN + A.encode(), hashlib.sha256
    ).hexdigest()
    first, second = story.audit
    assert first["household_hmac"] == second["household_hmac"] == expected
    assert first["request_ref"] == "BPS-3509/ERASE/2022-17" and first["erased_by"] == "Sri (ops)"
    removed = dict(zip(first["tables"], first["rows"], strict=True))
    assert removed["households"] == 1 and sum(second["rows"]) == 0
    assert A not in json.dumps(story.audit, default=str)
    assert "0003-0301" not in json.dumps(story.audit, default=str)


def test_the_worker_gave_the_rejected_originals_their_retention(story: Story) -> None:
    """REGSOSEK_REJECTION_PAYLOAD_RETENTION_DAYS (default 180) became the table's TTL."""
    assert "TTL toDateTime(written_at) + toIntervalDay(180)" in story.payload_ttl

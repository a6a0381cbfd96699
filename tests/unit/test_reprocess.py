"""Re-drives (issue #17 item 2) without a broker: headers, the dedup bypass, outcomes, SQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from processors.pipeline import Pipeline, RawSubmission
from schemas.catalog import subject_for
from schemas.frame import Assignment, Enumerator, Frame
from schemas.regions import RegionMaster, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer, EnvelopeSerializer
from sinks.reprocess import (
    ACCEPTED,
    DROPPED,
    REJECTED,
    ReprocessFilter,
    report_sql,
    selection_sql,
)
from streams.cli.rejections import parse_time
from streams.worker.compute import BatchComputer, Computed
from streams.worker.pool import encoder
from streams.worker.redrive import HEADER_ID, headers, judgements, mark, redrive_key, verified
from streams.worker.reprocess_page import reprocess_request
from streams.worker.web import BadParameter
from tests import builders as b

TOPIC = "regsosek.submissions"
HOUSEHOLD = "35.09.02.2001-0004-0001-01"
OTHER = "35.09.02.2001-0003-0009-01"
KEY = redrive_key(b"k" * 32)


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


def _frame(*, fixed: bool) -> Frame:
    """0412 holds SLS 0003; once the frame is fixed, also 0004 (where the household is)."""
    cells = [Assignment("0412", b.CAKRU, "0003"), Assignment("0413", b.CAKRU, "0004")]
    if fixed:
        cells.append(Assignment("0412", b.CAKRU, "0004"))
    enumerators = [Enumerator("0412", "041", "35.09"), Enumerator("0413", "041", "35.09")]
    return Frame.build(enumerators, cells, [])


def _computer(regions: RegionMaster, *, fixed: bool) -> BatchComputer:
    registry = LocalRegistry()
    return BatchComputer(
        pipeline=Pipeline(
            decode=AvroDeserializer(registry, "HouseholdSubmission").decode_with_id,
            context=b.rule_context(regions, frame=_frame(fixed=fixed)),
        ),
        encode_valid=EnvelopeSerializer(
            registry, subject_for("ValidatedSubmission"), "ValidatedSubmission"
        ).encode,
        encode_rejected=encoder(registry, "Rejection"),
        nik_key=b"test-key",
        regions=regions,
    )


def _encoded(record: dict[str, Any]) -> bytes:
    serializer = AvroSerializer(
        LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
    )
    return serializer.encode(record)


def _original() -> bytes:
    """0412's household in SLS 0004, which the first frame gives to 0413 only."""
    record = b.kemendagri_submission(household_id=HOUSEHOLD)
    record["location"] = b.kemendagri_location(sls_code="0004", sls_name="RT 004 RW 001")
    return _encoded(record)


def _message(offset: int, value: bytes, redrive_id: str | None = None) -> RawSubmission:
    return RawSubmission(TOPIC, 0, offset, HOUSEHOLD.encode(), value, datetime.now(UTC), redrive_id)


def _step(
    computer: BatchComputer, message: RawSubmission, states: dict[str, list[Any] | None]
) -> Computed:
    computed = computer.compute([message], {HOUSEHOLD: states.get(HOUSEHOLD)}, b.RULES_NOW)
    states.update(computed.states)
    return computed


def test_a_redrive_passes_dedup_once_and_is_judged_under_the_current_rules(
    regions: RegionMaster,
) -> None:
    value = _original()
    states: dict[str, list[Any] | None] = {}
    first = _step(_computer(regions, fixed=False), _message(0, value), states)
    assert [codes for codes, _ in first.rejection_facts] == [("OUTSIDE_ASSIGNMENT",)]
    fixed = _computer(regions, fixed=True)
    resent = _step(fixed, _message(1, value), states)  # the same send again: a duplicate
    assert resent.dropped == {"duplicate": 1} and not resent.households
    redriven = _step(fixed, _message(2, value, "redrive-1"), states)
    assert [h.household_id for h in redriven.households] == [HOUSEHOLD]
    again = _step(fixed, _message(3, value, "redrive-1"), states)  # a second delivery
    assert again.dropped == {"duplicate": 1} and not again.households
    other = _step(fixed, _message(4, value, "redrive-2"), states)  # another re-drive: judged
    assert other.households and other.households[0].submission_id == (
        redriven.households[0].submission_id
    )


def test_headers_verify_only_for_the_same_bytes_and_key() -> None:
    sent = headers(KEY, "r1", f"{TOPIC}/2/41", b"payload")
    found = verified(sent, b"payload", KEY)
    assert found is not None and (found.redrive_id, found.source) == ("r1", (TOPIC, 2, 41))
    assert verified(dict(sent), b"payload", KEY) is not None  # a mapping of headers too
    assert verified(sent, b"other bytes", KEY) is None
    assert verified(sent, b"payload", redrive_key(b"x" * 32)) is None
    forged = [(HEADER_ID, b"r1"), *sent[1:]]
    assert verified([*forged[:2], (sent[2][0], b"0" * 64)], b"payload", KEY) is None
    assert verified([], b"payload", KEY) is None and verified(None, b"payload", KEY) is None
    assert verified([(HEADER_ID, b"r1")], b"payload", KEY) is None  # malformed: ordinary


def test_mark_sets_the_redrive_id_of_verified_messages_only() -> None:
    plain, signed = _message(0, b"a"), _message(1, b"b")
    events = [
        SimpleNamespace(message=SimpleNamespace(headers=[])),
        SimpleNamespace(message=SimpleNamespace(headers=headers(KEY, "r9", f"{TOPIC}/0/7", b"b"))),
    ]
    messages, marks = mark(events, [plain, signed], KEY)
    assert [m.redrive_id for m in messages] == [None, "r9"]
    assert marks[(0, 1)].source == (TOPIC, 0, 7)


def test_judgements_name_each_redrive_outcome(regions: RegionMaster) -> None:
    value = _original()
    computer = _computer(regions, fixed=False)
    messages = [
        _message(0, value, "rejected"),
        _message(1, value, "rejected"),  # its second delivery, in the same batch
        replace(
            _message(2, _encoded(b.kemendagri_submission(household_id=OTHER)), "accepted"),
            key=OTHER.encode(),
        ),
    ]
    events = [
        SimpleNamespace(
            message=SimpleNamespace(
                headers=headers(KEY, m.redrive_id or "", f"{TOPIC}/0/9", m.value)
            )
        )
        for m in messages
    ]
    marked, marks = mark(events, [replace(m, redrive_id=None) for m in messages], KEY)
    computed = computer.compute(marked, {HOUSEHOLD: None, OTHER: None}, b.RULES_NOW)
    found = {j.delivery[2]: j for j in judgements(marks, marked, computed, [])}
    assert (found[0].redrive_id, found[0].outcome) == ("rejected", REJECTED)
    assert found[0].reason_codes == ("OUTSIDE_ASSIGNMENT",)
    assert (found[1].redrive_id, found[1].outcome) == ("rejected", DROPPED)
    assert (found[2].outcome, found[2].household_id) == (ACCEPTED, OTHER)
    assert found[2].source == (
        TOPIC,
        0,
        9,
    )
    refused = [(computed.households[0], "constraint")]
    again = {j.delivery[2]: j for j in judgements(marks, marked, computed, refused)}
    assert (again[2].outcome, again[2].reason_codes) == (
        REJECTED,
        ("INSERT_REFUSED",),
    )


def test_the_filter_travels_as_json_and_becomes_bound_conditions() -> None:
    filt = ReprocessFilter(
        ("OUTSIDE_ASSIGNMENT", "NIK_FORMAT"),
        datetime(2022, 10, 20, tzinfo=UTC),
        datetime(2022, 10, 21, tzinfo=UTC),
        "0412",
        "35.09.02",
    )
    assert ReprocessFilter.from_json(filt.to_json()) == filt
    where, parameters = filt.conditions()
    assert len(where) == 5 and "0412" not in " ".join(where)
    assert parameters["reasons"] == ["OUTSIDE_ASSIGNMENT", "NIK_FORMAT"]
    assert ReprocessFilter().conditions() == ([], {})
    with pytest.raises(ValueError, match="time zone"):
        ReprocessFilter.from_json({"since": "2022-10-20T00:00:00"})
    with pytest.raises(ValueError, match="unknown"):
        ReprocessFilter.from_json({"reason": ["X"]})


def test_without_again_the_selection_skips_what_was_redriven() -> None:
    once, _ = selection_sql(ReprocessFilter(), topic=TOPIC, again=False, database="db1")
    again, parameters = selection_sql(ReprocessFilter(), topic=TOPIC, again=True, database="db1")
    assert once.count("event = 'redriven'") == 2 and "event = 'redriven'" not in again
    for sql in (once, again):  # a re-drive's own rejection is an outcome, never re-driven
        assert "event = 'judged'" in sql and "FROM db1.rejection_payloads FINAL" in sql
        assert "original_size = length(original)" in sql
    assert parameters["topic"] == TOPIC
    assert "FROM db1.reprocess_audit" in report_sql(database="db1")[0]


def test_a_request_body_is_checked() -> None:
    body = {"filter": {"reasons": ["OUTSIDE_ASSIGNMENT"]}, "by": " Ani ", "dry_run": True}
    filt, by, dry_run, again, limit = reprocess_request(body)
    assert (filt.reasons, by, dry_run, again, limit) == (
        ("OUTSIDE_ASSIGNMENT",),
        "Ani",
        True,
        False,
        10_000,
    )
    for wrong, message in (
        ({"filter": {}}, "by"),
        ({"by": "x", "filter": {"reasons": ["NOT_A_CODE"]}}, "unknown reason"),
        ({"by": "x", "filter": {"district": "Kencong"}}, "district"),
        ({"by": "x", "limit": 0}, "limit"),
        ({"by": "x", "again": "yes"}, "true or false"),
        ({"by": "x", "payload": 1}, "unknown field"),
        ([], "JSON object"),
    ):
        with pytest.raises(BadParameter, match=message):
            reprocess_request(wrong)


def test_times_without_a_zone_are_wib() -> None:
    parsed = parse_time("2022-10-20")
    assert parsed is not None and parsed.utcoffset() == timedelta(hours=7)
    assert parse_time("2022-10-20T01:00:00+00:00") == datetime(2022, 10, 20, 1, tzinfo=UTC)
    assert parse_time(None) is None

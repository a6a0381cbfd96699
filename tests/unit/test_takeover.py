"""Issue #14 item 2 through the batch computer: a takeover is a rejection, states carry owners.

The same computer the worker runs in its compute process, with the rules'
frame (0412 holds SLS 0003 of Cakru, 0413 holds SLS 0004): states go in and
out in their changelog form, as the worker hands them over.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from processors.dedup import MAX_REVISION_STEP, HouseholdState, Owner
from processors.pipeline import RawSubmission
from schemas.catalog import subject_for
from schemas.regions import RegionMaster, load_regions
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from streams.worker.compute import BatchComputer, Computed
from tests import builders as b
from tests.unit.test_processing_stage import _computer

HOUSEHOLD = "35.09.02.2001-0003-0001-01"
OWNER = Owner("0412", b.CAKRU, "0003")
SERIALIZER = AvroSerializer(
    LocalRegistry(), subject_for("HouseholdSubmission"), "HouseholdSubmission"
)


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


def by_0412(revision: int, submission_id: str) -> dict[str, Any]:
    """The household in 0412's own SLS 0003, as 0412's app sends it."""
    return b.kemendagri_submission(
        household_id=HOUSEHOLD, revision=revision, submission_id=submission_id
    )


def by_0413(revision: int, submission_id: str) -> dict[str, Any]:
    """0412's household id sent by 0413 from 0413's own SLS 0004: passes every rule."""
    record = by_0412(revision, submission_id)
    record["location"] = b.kemendagri_location(sls_code="0004", sls_name="RT 004 RW 001")
    record["enumeration"] = b.enumeration(enumerator_id="0413")
    return record


#: When Kafka received the test's submissions; an accepted revision's state keeps it.
RECEIVED = datetime.now(UTC)
RECEIVED_MS = int(RECEIVED.timestamp() * 1000)


def messages(*records: dict[str, Any], first_offset: int = 0) -> list[RawSubmission]:
    return [
        RawSubmission(
            "regsosek.submissions",
            0,
            first_offset + n,
            record["household_id"].encode(),
            SERIALIZER.encode(record),
            RECEIVED,
        )
        for n, record in enumerate(records)
    ]


def compute(
    computer: BatchComputer, batch: list[RawSubmission], stored: list[Any] | None = None
) -> Computed:
    """One batch, the household's state handed in as the changelog would (JSON)."""
    state = json.loads(json.dumps(stored)) if stored is not None else None
    return computer.compute(batch, {HOUSEHOLD: state}, b.RULES_NOW)


def rejection_codes(computed: Computed) -> list[list[str]]:
    decoder = AvroDeserializer(LocalRegistry(), "Rejection")
    return [[r["code"] for r in decoder.decode(value)["reasons"]] for _, value in computed.rejected]


def test_the_takeover_in_one_batch_is_rejected_and_the_genuine_revision_accepted(
    regions: RegionMaster,
) -> None:
    computed = compute(
        _computer(regions),
        messages(by_0412(1, "a-1"), by_0413(2**31 - 1, "b-1"), by_0412(2, "a-2")),
    )
    assert [(h.household_id, h.enumerator_id) for h in computed.households] == [
        (HOUSEHOLD, "0412"),
        (HOUSEHOLD, "0412"),
    ]
    assert rejection_codes(computed) == [["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"]]
    (rejection,) = (
        AvroDeserializer(LocalRegistry(), "Rejection").decode(v) for _, v in computed.rejected
    )
    assert rejection["household_id"] == HOUSEHOLD
    assert rejection["reasons"][0]["field_path"] == "enumeration.enumerator_id"
    assert "'0413' does not hold" in rejection["reasons"][0]["message"]
    assert f"SLS {b.CAKRU}/0003" in rejection["reasons"][0]["message"]
    row = dict(zip(computed.rejection_columns, computed.rejection_rows[0], strict=True))
    assert row["reason_codes"] == ["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"]
    assert row["district_code"] == "35.09.02"
    assert computed.outcome(set()).reasons == {"HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT": 1}
    state = HouseholdState.from_json(computed.states[HOUSEHOLD])
    assert state == HouseholdState(2, ("a-1", "a-2"), OWNER, 2, RECEIVED_MS)


def test_the_owner_survives_the_changelog_between_batches(regions: RegionMaster) -> None:
    computer = _computer(regions)
    first = compute(computer, messages(by_0412(1, "a-1")))
    stored = first.states[HOUSEHOLD]
    takeover = compute(computer, messages(by_0413(2**31 - 1, "b-1"), first_offset=1), stored)
    assert takeover.households == [] and takeover.states == {}, "a refusal changes no state"
    assert rejection_codes(takeover) == [["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"]]
    genuine = compute(computer, messages(by_0412(2, "a-2"), first_offset=2), stored)
    assert [h.submission_id for h in genuine.households] == ["a-2"]


def test_the_owners_own_absurd_revision_is_a_revision_jump(regions: RegionMaster) -> None:
    computer = _computer(regions)
    stored = compute(computer, messages(by_0412(1, "a-1"))).states[HOUSEHOLD]
    jump = compute(computer, messages(by_0412(2 + MAX_REVISION_STEP, "a-x")), stored)
    assert rejection_codes(jump) == [["REVISION_JUMP"]]
    decoder = AvroDeserializer(LocalRegistry(), "Rejection")
    (reason,) = decoder.decode(jump.rejected[0][1])["reasons"]
    assert reason["field_path"] == "revision"
    assert (
        f"Revision {2 + MAX_REVISION_STEP} jumps more than {MAX_REVISION_STEP}"
        in (reason["message"])
    )


def test_a_state_in_the_old_form_loads_and_adopts_the_next_accepted_owner(
    regions: RegionMaster,
) -> None:
    """``[revision, [ids]]`` as written before ownership: no crash, the next sender owns it."""
    computer = _computer(regions)
    adopted = compute(computer, messages(by_0412(2, "a-2")), [1, ["a-1"]])
    assert [h.submission_id for h in adopted.households] == ["a-2"]
    stored = adopted.states[HOUSEHOLD]
    assert HouseholdState.from_json(json.loads(json.dumps(stored))) == HouseholdState(
        2, ("a-1", "a-2"), OWNER, 2, RECEIVED_MS
    )
    takeover = compute(computer, messages(by_0413(3, "b-1")), stored)
    assert rejection_codes(takeover) == [["HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT"]]

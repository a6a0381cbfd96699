"""Ground-truth arithmetic: duplicates never count, revisions count once, corrupt is a rejection."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from schemas.regions import RegionMaster
from simulator.config import ErrorRates, SimulationConfig
from simulator.households import present_count
from simulator.population import SimFrame, build_frame
from simulator.scenario import Message, MessageKind, Scenario
from simulator.truth import GroundTruth, TruthTally

CONFIG = SimulationConfig(
    scale=0.02,
    districts=("35.09.02", "35.09.03"),
    seed=9,
    rates=ErrorRates(nik=0.03, area=0.03, age=0.03, duplicate=0.05, revision=0.05, corrupt=0.02),
)
KENCONG = "35.09.02"
CAKRU = "35.09.02.2001"


@pytest.fixture(scope="module")
def frame(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, CONFIG)


@pytest.fixture(scope="module")
def sent(regions: RegionMaster, frame: SimFrame) -> list[Message]:
    scenario = Scenario(frame, CONFIG, regions, schema_id=2)
    return [m for d in scenario.dispatches() for m in d.messages]


def tally_of(frame: SimFrame, messages: list[Message]) -> GroundTruth:
    tally = TruthTally(frame, seed=CONFIG.seed, scale=CONFIG.scale, topic="t", via="sdk")
    for message in messages:
        tally.add(message)
    return tally.result()


def household(members: int, **overrides: Any) -> Message:
    """A hand-made accepted household of Cakru with ``members`` present members."""
    people = [{"presence": "LIVES_WITH_FAMILY"} for _ in range(members)]
    record = {"enumeration": {"result": "COMPLETE"}, "members": people}
    fields: dict[str, Any] = {
        "kind": MessageKind.HOUSEHOLD,
        "household_id": "3509022001-0001-001-01",
        "enumerator_id": "0001",
        "district_code": KENCONG,
        "village_code": CAKRU,
        "record": record,
    }
    return Message(**(fields | overrides))


def test_duplicates_do_not_count_and_revisions_count_once(frame: SimFrame) -> None:
    original = household(3)
    revised_record = {**(original.record or {}), "members": [{"presence": "NEW_MEMBER"}] * 4}
    truth = tally_of(
        frame,
        [
            original,
            replace(original, kind=MessageKind.DUPLICATE),
            replace(original, kind=MessageKind.REVISION, record=revised_record, replaced_members=3),
            replace(original, kind=MessageKind.DUPLICATE),
        ],
    )
    assert truth.messages_sent == 4
    assert (truth.households_sent, truth.duplicates_sent, truth.revisions_sent) == (1, 2, 1)
    assert truth.accepted_households == 1
    assert truth.accepted_members == 4  # the latest revision's members
    assert truth.districts[KENCONG].members == 4
    assert truth.households_by_village == {CAKRU: {"COMPLETE": 1}}
    assert truth.rejected_messages == 0


def test_rejections_count_messages_by_reason(frame: SimFrame) -> None:
    bad = household(2, household_id="b", expected_errors=("NIK_FORMAT",))
    corrupt = Message(
        MessageKind.CORRUPT,
        "c",
        None,
        None,
        None,
        payload=b"{",
        expected_errors=("DECODE_BAD_MAGIC_BYTE",),
    )
    truth = tally_of(frame, [bad, replace(bad, kind=MessageKind.DUPLICATE), corrupt])
    assert truth.rejections_by_reason == {"DECODE_BAD_MAGIC_BYTE": 1, "NIK_FORMAT": 1}
    assert truth.rejected_messages == 2
    assert truth.rejected_households == 1
    assert truth.accepted_households == 0
    assert truth.districts[KENCONG].rejected == 1
    assert truth.corrupt_sent == 1 and truth.duplicates_sent == 1


def test_the_truth_of_a_scenario_adds_up(frame: SimFrame, sent: list[Message]) -> None:
    truth = tally_of(frame, sent)
    kinds = Counter(m.kind for m in sent)
    assert truth.messages_sent == len(sent)
    assert truth.messages_sent == (
        truth.households_sent + truth.duplicates_sent + truth.revisions_sent + truth.corrupt_sent
    )
    assert truth.households_sent == kinds[MessageKind.HOUSEHOLD] == frame.households
    assert truth.accepted_households + truth.rejected_households == truth.households_sent
    assert truth.rejected_messages == sum(truth.rejections_by_reason.values())
    by_village = sum(
        n for results in truth.households_by_village.values() for n in results.values()
    )
    assert by_village == truth.accepted_households
    assert sum(d.accepted for d in truth.districts.values()) == truth.accepted_households
    assert sum(d.target for d in truth.districts.values()) == frame.households
    assert truth.warnings_by_code == {"REGION_VILLAGE_UNVERIFIED": truth.old_schema_sent}
    assert len(truth.bps_coded_villages) <= truth.old_schema_sent
    assert all(code.startswith("3509") and len(code) == 10 for code in truth.bps_coded_villages)


def test_members_are_those_of_the_latest_revision(frame: SimFrame, sent: list[Message]) -> None:
    latest: dict[str, Message] = {}
    for message in sent:
        if message.kind in {MessageKind.HOUSEHOLD, MessageKind.REVISION}:
            latest[message.household_id] = message
    expected = sum(present_count(m.record or {}) for m in latest.values() if not m.expected_errors)
    assert tally_of(frame, sent).accepted_members == expected


def test_per_household_messages_leave_in_order(sent: list[Message]) -> None:
    order = {MessageKind.HOUSEHOLD: 0, MessageKind.DUPLICATE: 1, MessageKind.REVISION: 2}
    seen: dict[str, int] = {}
    for message in sent:
        if message.kind is MessageKind.CORRUPT:
            continue
        rank = order[message.kind]
        assert seen.get(message.household_id, 0) <= rank, message.household_id
        seen[message.household_id] = rank
        if message.kind is not MessageKind.HOUSEHOLD:
            assert message.household_id in seen


def test_json_round_trip_is_exact_and_stable(frame: SimFrame, sent: list[Message]) -> None:
    truth = tally_of(frame, sent)
    text = truth.to_json()
    assert GroundTruth.from_json(text) == truth
    assert GroundTruth.from_json(text).to_json() == text
    assert tally_of(frame, sent).to_json() == text

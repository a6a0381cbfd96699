"""Supervisors' reviews in the simulated month: decisions, chains, ordering, ground truth."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from dataclasses import replace

import pytest

from processors.rules.catalogue import RULES_BY_CODE
from schemas.catalog import load_schema
from schemas.errors import ConfigurationError
from schemas.jsonform import JsonForm
from schemas.regions import RegionMaster
from schemas.validate import validate_record
from simulator import reviewing
from simulator.config import ErrorRates, ReviewConfig, SimulationConfig
from simulator.population import SimFrame, build_frame
from simulator.scenario import Dispatch, Message, MessageKind, Scenario, ack_key
from simulator.truth import GroundTruth, TruthTally

CONFIG = SimulationConfig(
    scale=0.02,
    districts=("35.09.02", "35.09.03"),
    seed=11,
    rates=ErrorRates(duplicate=0.05, revision=0.05),
    reviews=ReviewConfig(enabled=True, return_rate=0.2, reject_rate=0.02),
)


@pytest.fixture(scope="module")
def frame(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, CONFIG)


@pytest.fixture(scope="module")
def dispatches(regions: RegionMaster, frame: SimFrame) -> list[Dispatch]:
    return list(Scenario(frame, CONFIG, regions, schema_id=2).dispatches())


@pytest.fixture(scope="module")
def sent(dispatches: list[Dispatch]) -> list[Message]:
    return [m for d in dispatches for m in d.messages]


def test_decisions_follow_the_rates() -> None:
    rng = random.Random(1)
    config = ReviewConfig(enabled=True, return_rate=0.1, reject_rate=0.01)
    drawn = Counter(
        reviewing.decide(rng, config, returnable=True, returns=0) for _ in range(20_000)
    )
    assert 0.08 < drawn[reviewing.Decision.RETURNED] / 20_000 < 0.12
    assert 0.005 < drawn[reviewing.Decision.REJECTED_FINAL] / 20_000 < 0.015


def test_unreturnable_or_returned_enough_is_approved_instead() -> None:
    config = ReviewConfig(enabled=True, return_rate=1.0, reject_rate=0.0, max_returns=2)
    rng = random.Random(2)
    assert reviewing.decide(rng, config, returnable=False, returns=0) is reviewing.Decision.APPROVED
    assert reviewing.decide(rng, config, returnable=True, returns=2) is reviewing.Decision.APPROVED
    assert reviewing.decide(rng, config, returnable=True, returns=1) is reviewing.Decision.RETURNED


def test_rates_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="at most 1"):
        ReviewConfig(return_rate=0.7, reject_rate=0.4)


def test_timing_is_hours_later_and_nothing_after_the_window() -> None:
    end = CONFIG.fieldwork_end
    rng = random.Random(3)
    assert reviewing.review_at(rng, end - dt.timedelta(minutes=30), end) is None
    assert reviewing.fix_at(rng, end - dt.timedelta(hours=1), end) is None
    early = CONFIG.fieldwork_start
    reviewed = reviewing.review_at(rng, early, end)
    assert reviewed is not None and 3600 <= (reviewed - early).total_seconds() <= 24 * 3600
    fixed = reviewing.fix_at(rng, early, end)
    assert fixed is not None and 2 * 3600 <= (fixed - early).total_seconds() <= 30 * 3600


def test_reviews_off_send_no_review(regions: RegionMaster, frame: SimFrame) -> None:
    config = replace(CONFIG, reviews=ReviewConfig())
    kinds = {m.kind for d in Scenario(frame, config, regions, 2).dispatches() for m in d.messages}
    assert MessageKind.REVIEW not in kinds


def test_each_revision_is_reviewed_once_after_it_is_in(
    sent: list[Message],
) -> None:
    latest: dict[str, int] = {}
    status: dict[str, str] = {}
    for message in sent:
        record = message.record or {}
        if message.kind in {MessageKind.HOUSEHOLD, MessageKind.REVISION}:
            if message.expected_errors:
                continue
            if message.kind is MessageKind.REVISION and message.depends_on is not None:
                assert status[message.household_id] == "RETURNED"
            latest[message.household_id] = record["revision"]
            status[message.household_id] = "AWAITING"
        elif message.kind is MessageKind.REVIEW:
            assert record["revision"] == latest[message.household_id]  # never stale
            assert status[message.household_id] == "AWAITING"  # one decision per revision
            status[message.household_id] = record["decision"]
    decided = Counter(status.values())
    assert decided["APPROVED"] > decided["REJECTED_FINAL"] > 0
    # at the window's end some interviews still await review, some returns are not yet fixed
    assert decided["AWAITING"] > 0 and decided["RETURNED"] > 0


def test_a_review_depends_on_its_revision_and_a_fix_on_its_review(sent: list[Message]) -> None:
    seen: set[str] = set()
    fixes = 0
    for message in sent:
        if message.depends_on is not None:
            assert message.depends_on in seen, message
            fixes += message.kind is MessageKind.REVISION
        if message.kind is not MessageKind.CORRUPT:
            seen.add(ack_key(message))
    assert fixes > 0


def test_reviews_are_valid_and_stand(sent: list[Message], frame: SimFrame) -> None:
    schema = load_schema("ReviewDecision")
    form = JsonForm(schema)
    teams = {e.enumerator_id: e.supervisor_id for e in frame.enumerators}
    for message in sent:
        if message.kind is not MessageKind.REVIEW:
            continue
        record = message.record or {}
        assert validate_record(schema, record) == []
        assert teams[record["enumerator_id"]] == record["supervisor_id"]
        assert (record["decision"] == "APPROVED") == (record["comment"] is None)
        assert form.from_json(form.to_json(record)) == record  # --via http sends this JSON


def test_fixes_keep_household_enumerator_and_location(sent: list[Message]) -> None:
    revisions: dict[str, Message] = {}
    for message in sent:
        if message.kind in {MessageKind.HOUSEHOLD, MessageKind.REVISION}:
            record = message.record or {}
            before = revisions.get(message.household_id)
            if message.depends_on is not None and before is not None:
                old = before.record or {}
                assert record["revision"] == old["revision"] + 1
                assert record["submission_id"] != old["submission_id"]
                assert record["location"] == old["location"]
                assert record["enumeration"] == old["enumeration"]
                assert record["members"] == old["members"]
            revisions[message.household_id] = message


def test_truth_counts_the_statuses(frame: SimFrame, sent: list[Message]) -> None:
    tally = TruthTally(frame, seed=CONFIG.seed, scale=CONFIG.scale, topic="t", via="sdk")
    for message in sent:
        tally.add(message)
    truth = tally.result()
    decisions = truth.reviews_by_decision
    assert truth.reviews_sent == sum(decisions.values())
    districts = truth.districts.values()
    returned = sum(d.returned for d in districts)
    assert truth.fixes_sent == decisions["RETURNED"] - returned > 0
    for district in districts:
        decided = district.approved + district.returned + district.rejected_final
        assert district.awaiting_review == district.accepted - decided >= 0
    assert sum(d.rejected_final for d in districts) == decisions["REJECTED_FINAL"]
    assert sum(d.approved for d in districts) == decisions["APPROVED"]
    assert sum(d.awaiting_review for d in districts) > 0 and returned > 0
    assert GroundTruth.from_json(truth.to_json()) == truth


def test_truth_of_a_run_stopped_mid_chain(frame: SimFrame, sent: list[Message]) -> None:
    """Stopped right after the first return: that household counts as returned."""
    first_return = next(
        i
        for i, m in enumerate(sent)
        if m.kind is MessageKind.REVIEW and (m.record or {})["decision"] == "RETURNED"
    )
    tally = TruthTally(frame, seed=CONFIG.seed, scale=CONFIG.scale, topic="t", via="sdk")
    for message in sent[: first_return + 1]:
        tally.add(message)
    truth = tally.result(complete=False)
    assert sum(d.returned for d in truth.districts.values()) == 1
    for district in truth.districts.values():
        decided = district.approved + district.returned + district.rejected_final
        assert district.awaiting_review == district.accepted - decided >= 0


def test_review_reason_codes_exist() -> None:
    """The rejections a mistimed review would cause (and the comparison would show)."""
    assert {"REVIEW_STALE_REVISION", "REVIEW_UNKNOWN_HOUSEHOLD"} <= set(RULES_BY_CODE)

"""The tablets' paradata in the simulated month: which events, when, valid, and the ground truth."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest

from processors.paradata import event_problems
from schemas.catalog import load_schema
from schemas.regions import RegionMaster
from schemas.validate import validate_record
from simulator.config import ErrorRates, SimulationConfig
from simulator.population import SimFrame, build_frame
from simulator.scenario import Dispatch, MessageKind, Scenario
from simulator.truth import TruthTally
from simulator.verify import compare

CONFIG = SimulationConfig(
    scale=0.01,
    districts=("35.09.02",),
    seed=13,
    rates=ErrorRates(duplicate=0.05, revision=0.05, corrupt=0.02),
    paradata=True,
)


@pytest.fixture(scope="module")
def frame(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, CONFIG)


@pytest.fixture(scope="module")
def dispatches(regions: RegionMaster, frame: SimFrame) -> list[Dispatch]:
    return list(Scenario(frame, CONFIG, regions, schema_id=2).dispatches())


def test_paradata_off_sends_no_event(regions: RegionMaster, frame: SimFrame) -> None:
    config = replace(CONFIG, paradata=False)
    kinds = {m.kind for d in Scenario(frame, config, regions, 2).dispatches() for m in d.messages}
    assert MessageKind.EVENT not in kinds


def test_paradata_does_not_change_the_submissions(
    regions: RegionMaster, frame: SimFrame, dispatches: list[Dispatch]
) -> None:
    plain = Scenario(frame, replace(CONFIG, paradata=False), regions, 2).dispatches()
    without = [m for d in plain for m in d.messages]
    with_events = [m for d in dispatches for m in d.messages if m.kind is not MessageKind.EVENT]
    assert with_events == without


def test_each_upload_carries_its_visits_events_and_one_sync(dispatches: list[Dispatch]) -> None:
    uploads = 0
    for dispatch in dispatches:
        households = [m for m in dispatch.messages if m.kind is MessageKind.HOUSEHOLD]
        if not households:
            continue
        uploads += 1
        events = [m.record or {} for m in dispatch.messages if m.kind is MessageKind.EVENT]
        kinds = Counter(e["event_type"] for e in events)
        assert kinds["SYNC"] == 1 and events[-1]["event_type"] == "SYNC"
        assert events[-1]["at"] <= dispatch.at and events[-1]["pending_count"] == 0
        assert kinds["INTERVIEW_STARTED"] == kinds["INTERVIEW_FINISHED"] == len(households)
        started = {
            e["household_id"]: e["at"] for e in events if e["event_type"] == "INTERVIEW_STARTED"
        }
        for message in households:
            record = message.record or {}
            enumeration = record["enumeration"]
            assert started[message.household_id] == enumeration["started_at"].replace(
                microsecond=enumeration["started_at"].microsecond // 1000 * 1000
            )
        assert all(e["enumerator_id"] == dispatch.enumerator_id for e in events)
    assert uploads > 10


def test_one_login_per_working_day_before_its_first_interview(
    dispatches: list[Dispatch], frame: SimFrame
) -> None:
    events = [m.record or {} for d in dispatches for m in d.messages if m.kind is MessageKind.EVENT]
    logins = Counter(
        (e["enumerator_id"], e["at"].date()) for e in events if e["event_type"] == "LOGIN"
    )
    assert logins and set(logins.values()) == {1}
    first: dict[tuple[str, object], object] = {}
    for event in events:
        if event["event_type"] == "INTERVIEW_STARTED":
            first.setdefault((event["enumerator_id"], event["at"].date()), event["at"])
    for event in events:
        if event["event_type"] == "LOGIN":
            opened = first.get((event["enumerator_id"], event["at"].date()))
            assert opened is None or event["at"] < opened
    kinds = Counter(e["event_type"] for e in events)
    assert 0 < kinds["HEARTBEAT"] < kinds["INTERVIEW_STARTED"]


def test_events_are_valid_and_storable(dispatches: list[Dispatch]) -> None:
    schema = load_schema("EnumeratorEvent")
    for dispatch in dispatches:
        for message in dispatch.messages:
            if message.kind is MessageKind.EVENT:
                record = message.record or {}
                assert validate_record(schema, record) == [], record
                assert event_problems(record) == []


def test_truth_counts_events_by_type_apart_from_messages(
    frame: SimFrame, dispatches: list[Dispatch]
) -> None:
    tally = TruthTally(frame, seed=CONFIG.seed, scale=CONFIG.scale, topic="t", via="sdk")
    messages = [m for d in dispatches for m in d.messages]
    for message in messages:
        tally.add(message)
    truth = tally.result()
    events = [m for m in messages if m.kind is MessageKind.EVENT]
    assert sum(truth.events_by_type.values()) == len(events)
    assert truth.messages_sent == len(messages) - len(events)
    board = {"events_by_type": dict(truth.events_by_type)}
    checks = [c for c in compare(truth, board) if c.label.startswith("paradata")]
    assert len(checks) == len(truth.events_by_type) and all(c.ok for c in checks)
    board["events_by_type"]["SYNC"] -= 1
    assert [
        c.label for c in compare(truth, board) if c.label.startswith("paradata") and not c.ok
    ] == ["paradata events: SYNC"]

"""Generated households: clean ones pass every rule, the same seed gives the same records."""

from __future__ import annotations

import datetime as dt
import re
import statistics
from collections import Counter
from typing import Any

import pytest

from processors import nik as nik_layout
from processors.rules import InMemoryNikIndex, RuleContext, Severity, validate
from processors.rules.base import PRESENT, completed_years
from processors.rules.region import haversine_km
from schemas.extents import load_extents
from schemas.regions import RegionMaster, load_regions
from simulator.config import ErrorRates, SimulationConfig
from simulator.households import present_count
from simulator.population import build_frame
from simulator.scenario import Message, MessageKind, Scenario

WIB = dt.timezone(dt.timedelta(hours=7))
JEMBER_CENTRE = (-8.17, 113.70)
NO_ERRORS = ErrorRates(nik=0, area=0, age=0, duplicate=0, revision=0, corrupt=0, old_schema=0)
#: Two districts at 5 %: a few thousand households.
CONFIG = SimulationConfig(scale=0.05, districts=("35.09.02", "35.09.20"), rates=NO_ERRORS, seed=11)


@pytest.fixture(scope="module")
def regions() -> RegionMaster:
    return load_regions()


def messages(regions: RegionMaster, config: SimulationConfig) -> list[Message]:
    frame = build_frame(regions, config)
    scenario = Scenario(frame, config, regions, schema_id=2)
    return [m for d in scenario.dispatches() for m in d.messages]


@pytest.fixture(scope="module")
def clean(regions: RegionMaster) -> list[dict[str, Any]]:
    return [m.record for m in messages(regions, CONFIG) if m.record is not None]


def context(
    regions: RegionMaster, config: SimulationConfig, niks: InMemoryNikIndex | None = None
) -> RuleContext:
    return RuleContext(
        regions=regions,
        frame=build_frame(regions, config).to_frame(),
        fieldwork_start=config.fieldwork_start,
        fieldwork_end=config.fieldwork_end,
        now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        regency_centroids={"35.09": JEMBER_CENTRE},
        seen_niks=niks,
        regency_extents=load_extents(),  # as the worker has them
    )


def test_clean_records_pass_every_rule(regions: RegionMaster, clean: list[dict[str, Any]]) -> None:
    """No ERROR, and no WARNING either: the ground truth expects none from clean households."""
    assert len(clean) > 2_000
    niks = InMemoryNikIndex()
    ctx = context(regions, CONFIG, niks)
    fired: Counter[tuple[str, str]] = Counter()
    for record in clean:
        for finding in validate(record, ctx):
            fired[(finding.severity.value, finding.code)] += 1
        for member in record["members"]:
            if member["nik"]:
                niks.add(member["nik"], record["household_id"])
    assert not fired, f"rules fired on clean records: {dict(fired)}"


def test_the_same_seed_gives_the_same_records_and_ids(regions: RegionMaster) -> None:
    config = SimulationConfig(scale=0.01, districts=("35.09.02",), seed=5)
    first, again = messages(regions, config), messages(regions, config)
    assert [m.record for m in first] == [m.record for m in again]
    other = messages(regions, SimulationConfig(scale=0.01, districts=("35.09.02",), seed=6))
    assert {m.record["submission_id"] for m in first if m.record} != {
        m.record["submission_id"] for m in other if m.record
    }


def test_records_look_like_a_jember_fieldwork(clean: list[dict[str, Any]]) -> None:
    results = Counter(r["enumeration"]["result"] for r in clean)
    assert results["COMPLETE"] / len(clean) > 0.9
    assert set(results) == {
        "COMPLETE",
        "INCOMPLETE",
        "NO_RESPONDENT",
        "REFUSED",
        "MOVED_OR_BUILDING_GONE",
    }
    sizes = [present_count(r) for r in clean if r["enumeration"]["result"] == "COMPLETE"]
    assert 3.0 < statistics.mean(sizes) < 3.7
    assert min(sizes) == 1 and max(sizes) <= 10
    for record in clean:
        assert re.fullmatch(r"\d{10}-\d{4}-\d{3}-\d{2}", record["household_id"])
        location = record["location"]
        assert location["code_system"] == "KEMENDAGRI"
        assert (location["province_code"], location["regency_code"]) == ("35", "09")
        assert re.fullmatch(r"\d{2}", location["district_code"])
        assert re.fullmatch(r"\d{4}", location["village_code"])
        if location["latitude"] is not None:
            point = (location["latitude"], location["longitude"])
            assert haversine_km(point, JEMBER_CENTRE) < 35


def test_interviews_happen_in_working_hours_inside_fieldwork(clean: list[dict[str, Any]]) -> None:
    in_hours = 0
    for record in clean:
        started = record["enumeration"]["started_at"]
        finished = record["enumeration"]["finished_at"]
        assert CONFIG.fieldwork_start <= started < finished <= CONFIG.fieldwork_end
        minutes = (finished - started).total_seconds() / 60
        if record["enumeration"]["result"] == "COMPLETE":
            assert 15 <= minutes <= 90
        local = started.astimezone(WIB).time()
        in_hours += dt.time(7, 30) <= local <= dt.time(17)
    assert in_hours / len(clean) > 0.85


def test_members_are_consistent_families(clean: list[dict[str, Any]]) -> None:
    for record in clean:
        district6 = record["household_id"][:6]
        today = record["enumeration"]["finished_at"].astimezone(WIB).date()
        present = [m for m in record["members"] if m["presence"] in PRESENT]
        assert record["member_count"] in {None, len(present)}
        if record["enumeration"]["result"] not in {"COMPLETE", "INCOMPLETE"}:
            assert not present and record["enumeration"]["notes"]
            continue
        assert [m["relationship"] for m in present].count("HEAD") == 1
        for member in present:
            assert completed_years(member["birth_date"], today) == member["age"]
            if member["nik"]:
                parts = nik_layout.split_nik(member["nik"])
                assert parts is not None and parts.sex == member["sex"]
                assert nik_layout.same_birth_date(parts, member["birth_date"])
        head = next(m for m in present if m["relationship"] == "HEAD")
        assert head["nik"][:6] == district6


def test_no_nik_is_issued_twice(clean: list[dict[str, Any]]) -> None:
    niks = [m["nik"] for r in clean for m in r["members"] if m["nik"]]
    assert len(niks) == len(set(niks))


def test_revisions_and_warnings_are_rare_but_present_with_rates(regions: RegionMaster) -> None:
    config = SimulationConfig(
        scale=0.02, districts=("35.09.02",), rates=ErrorRates(revision=0.2), seed=2
    )
    sent = messages(regions, config)
    revisions = [m for m in sent if m.kind is MessageKind.REVISION]
    assert revisions
    ctx = context(regions, config)
    for message in revisions:
        assert message.record is not None and message.record["revision"] == 2
        findings = validate(message.record, ctx)
        assert not [f for f in findings if f.severity is Severity.ERROR]

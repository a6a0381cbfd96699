"""Each injected mistake triggers exactly its expected reason code in the real rules and decoder."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from processors.rules.base import local_offset
from processors.rules.system import DECODE_CODES
from schemas.catalog import subject_for
from schemas.errors import ConfigurationError, DecodeError
from schemas.regions import RegionMaster
from schemas.registry import LocalRegistry
from schemas.serde import AvroDeserializer, AvroSerializer
from simulator import injections as inj
from simulator.config import ErrorRates, SimulationConfig
from simulator.households import HouseholdFactory, Visit
from simulator.population import SimFrame, build_frame
from simulator.workload import EnumeratorRun

CONFIG = SimulationConfig(scale=0.02, districts=("35.09.02", "35.09.03"), seed=3)
SUBJECT = subject_for("HouseholdSubmission")
WIB = local_offset("35")


@pytest.fixture(scope="module")
def frame(regions: RegionMaster) -> SimFrame:
    return build_frame(regions, CONFIG)


@pytest.fixture(scope="module")
def ctx(regions: RegionMaster, frame: SimFrame) -> RuleContext:
    return RuleContext(
        regions=regions,
        frame=frame.to_frame(),
        fieldwork_start=CONFIG.fieldwork_start,
        fieldwork_end=CONFIG.fieldwork_end,
        now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        regency_centroids={"35.09": (-8.17, 113.70)},
    )


@pytest.fixture(scope="module")
def complete_visits(regions: RegionMaster, frame: SimFrame) -> list[tuple[Visit, dict[str, Any]]]:
    """Sixty complete households of several enumerators, with their clean records."""
    factory = HouseholdFactory(frame)
    villages = {v.code: v for v in frame.villages}
    days = [CONFIG.fieldwork_start.date() + dt.timedelta(days=n) for n in range(31)]
    found: list[tuple[Visit, dict[str, Any]]] = []
    for plan in frame.enumerators:
        run = EnumeratorRun(plan, villages, CONFIG, days, zone=WIB, with_bps=set())
        for index, day in enumerate(days):
            for _at, planned, _burst in run.plan_day(index, day):
                for one in planned:
                    if one.visit.result == "COMPLETE" and len(found) < 60:
                        found.append((one.visit, factory.record(one.visit, run.content)))
    assert len(found) == 60
    return found


def errors_of(record: dict[str, Any], ctx: RuleContext) -> set[str]:
    return {f.code for f in validate(record, ctx) if f.severity is Severity.ERROR}


@pytest.mark.parametrize(
    "kind",
    [
        inj.Injection.NIK_FORMAT,
        inj.Injection.REGION_UNKNOWN,
        inj.Injection.OUTSIDE_ASSIGNMENT,
        inj.Injection.AGE_RANGE,
    ],
)
def test_each_injection_triggers_exactly_its_code(
    kind: inj.Injection,
    regions: RegionMaster,
    frame: SimFrame,
    ctx: RuleContext,
    complete_visits: list[tuple[Visit, dict[str, Any]]],
) -> None:
    context = inj.InjectionContext(regions, frame)
    rng = random.Random(1)
    for visit, record in complete_visits:
        assert errors_of(record, ctx) == set()
        broken = inj.inject(kind, record, visit, context, rng)
        assert errors_of(broken, ctx) == set(inj.EXPECTED_ERRORS[kind]), visit.household_id
        assert broken["household_id"] == record["household_id"]
    assert errors_of(complete_visits[0][1], ctx) == set()  # the clean record was not mutated


def test_old_schema_records_are_accepted_with_an_unverified_village(
    regions: RegionMaster,
    frame: SimFrame,
    ctx: RuleContext,
    complete_visits: list[tuple[Visit, dict[str, Any]]],
) -> None:
    registry = LocalRegistry()
    old = AvroSerializer(registry, SUBJECT, "HouseholdSubmission", version=1)
    reader = AvroDeserializer(registry, "HouseholdSubmission")
    context = inj.InjectionContext(regions, frame)
    for visit, record in complete_visits:
        sent = inj.inject(inj.Injection.OLD_SCHEMA, record, visit, context, random.Random(1))
        schema_id, decoded = reader.decode_with_id(old.encode(sent))  # validates against v1
        assert schema_id == old.schema_id
        assert decoded["location"]["code_system"] == "BPS"
        assert decoded["member_count"] is None
        district = regions.get(visit.village.district_code)
        assert district is not None and district.bps_code is not None
        location = decoded["location"]
        code = location["province_code"] + location["regency_code"] + location["district_code"]
        assert code == district.bps_code
        findings = validate(decoded, ctx)
        assert not [f for f in findings if f.severity is Severity.ERROR]
        warned = {f.code for f in findings if f.severity is Severity.WARNING}
        assert warned == set(inj.EXPECTED_WARNINGS[inj.Injection.OLD_SCHEMA])


@pytest.mark.parametrize("kind", list(inj.Corruption))
def test_corrupt_bytes_fail_decoding_with_their_code(kind: inj.Corruption) -> None:
    registry = LocalRegistry()
    schema_id = AvroSerializer(registry, SUBJECT, "HouseholdSubmission").schema_id
    reader = AvroDeserializer(registry, "HouseholdSubmission")
    rng = random.Random(2)
    for _ in range(20):
        payload = inj.corrupt_payload(kind, rng, schema_id, "3509022001-0001-001-01")
        with pytest.raises(DecodeError) as raised:
            reader.decode(payload)
        assert DECODE_CODES[raised.value.reason_code] == inj.DECODE_CODES[kind]


def test_choose_follows_the_rates() -> None:
    rng = random.Random(4)
    none = ErrorRates(nik=0, area=0, age=0, old_schema=0)
    assert {inj.choose(rng, none, True) for _ in range(200)} == {inj.Injection.NONE}
    assert inj.choose(rng, ErrorRates(nik=1.0, area=0, age=0, old_schema=0), True) is (
        inj.Injection.NIK_FORMAT
    )
    old_only = ErrorRates(nik=0, area=0, age=0, old_schema=1.0)
    assert inj.choose(rng, old_only, True) is inj.Injection.OLD_SCHEMA
    assert inj.choose(rng, old_only, False) is inj.Injection.NONE  # no BPS code to send
    areas = {
        inj.choose(rng, ErrorRates(nik=0, area=1.0, age=0, old_schema=0), True) for _ in range(50)
    }
    assert areas == {inj.Injection.REGION_UNKNOWN, inj.Injection.OUTSIDE_ASSIGNMENT}


def test_rates_are_checked() -> None:
    with pytest.raises(ConfigurationError, match=r"within 0\.\.1"):
        ErrorRates(nik=1.5)
    with pytest.raises(ConfigurationError, match="at most one"):
        ErrorRates(nik=0.5, area=0.5, age=0.5)

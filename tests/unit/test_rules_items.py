"""Blok IV routing per member: age gates and the skips inside education and work."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]


def toddler(**overrides: Any) -> dict[str, Any]:
    """Member 4 as a one-year-old: items 412+ and 428 not asked."""
    birth = dt.date(2021, 6, 1)
    return (
        b.member(
            4,
            "Dewi Lestari",
            birth,
            True,
            relationship="CHILD",
            marital_status="NEVER_MARRIED",
            school_participation=None,
            education_level=None,
            worked_last_week=None,
            main_industry=None,
            employment_status=None,
            disability=None,
        )
        | overrides
    )


def _member(index: int, **values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["members"][index].update(values)
        return ctx

    return mutate


def _toddler_at_school(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"][3] = toddler(school_participation="STILL_IN_SCHOOL")
    return ctx


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "AGE_GATED_ITEM": (Severity.WARNING, "members[3].school_participation", _toddler_at_school),
    "AGE_GATED_ITEM_MISSING": (
        Severity.WARNING,
        "members[2].worked_last_week",
        _member(2, worked_last_week=None),
    ),
    "EDUCATION_LEVEL_UNEXPECTED": (
        Severity.ERROR,
        "members[2].education_level",
        _member(2, school_participation="NEVER_ATTENDED"),
    ),
    "EDUCATION_LEVEL_MISSING": (
        Severity.WARNING,
        "members[2].education_level",
        _member(2, education_level=None),
    ),
    "WORK_ITEMS_UNEXPECTED": (
        Severity.ERROR,
        "members[0].employment_status",
        _member(0, worked_last_week=False, main_industry=None),
    ),
    "WORK_ITEMS_MISSING": (
        Severity.WARNING,
        "members[0].main_industry",
        _member(0, main_industry=None),
    ),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_a_toddler_with_nothing_asked_passes(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3] = toddler()
    assert validate(record, ctx) == []


def test_disability_gates_at_two_and_five(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3] = toddler(age=3, birth_date=dt.date(2019, 6, 1), disability=b.disability())
    record["members"][3]["nik"] = b.nik(dt.date(2019, 6, 1), True, 4)
    paths = [f.field_path for f in found("AGE_GATED_ITEM", record, ctx)]
    assert paths == [
        "members[3].disability.communicating",
        "members[3].disability.self_care",
        "members[3].disability.remembering",
    ]
    record["members"][3]["disability"] = b.disability(
        communicating=None, self_care=None, remembering=None
    )
    assert validate(record, ctx) == []


def test_a_missing_disability_block_is_one_finding(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][2]["disability"] = None
    (finding,) = found("AGE_GATED_ITEM_MISSING", record, ctx)
    assert finding.field_path == "members[2].disability"
    assert "item 428a-i" in finding.message_en
    record["members"][2]["disability"] = b.disability(hearing=None)
    (finding,) = found("AGE_GATED_ITEM_MISSING", record, ctx)
    assert finding.field_path == "members[2].disability.hearing"


def test_missing_items_are_not_flagged_for_incomplete_interviews(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {"result": "INCOMPLETE", "notes": "Wawancara terputus."}
    record["members"][0] |= {"main_industry": None, "disability": None}
    record["members"][2] |= {"education_level": None, "worked_last_week": None}
    assert validate(record, ctx) == []


def test_age_gate_message(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3] = toddler(worked_last_week=False)
    (finding,) = found("AGE_GATED_ITEM", record, ctx)
    assert finding.message_id == (
        "Anggota nomor 4 berumur 1 tahun, sedangkan Rincian 416a (bekerja seminggu yang lalu) "
        "hanya ditanyakan kepada yang berumur 5 tahun ke atas."
    )


def test_education_level_missing_quotes_the_participation(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["education_level"] = None
    (finding,) = found("EDUCATION_LEVEL_MISSING", record, ctx)
    assert "Rincian 412" in finding.message_id and "3. Tidak bersekolah lagi" in finding.message_id


def test_both_work_items_flagged_when_not_working(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][1]["worked_last_week"] = False
    paths = [f.field_path for f in found("WORK_ITEMS_UNEXPECTED", record, ctx)]
    assert paths == ["members[1].main_industry", "members[1].employment_status"]

"""Ages (items 406-407) and generations (item 409)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from processors.rules.base import completed_years, interview_date
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]


def born(record: dict[str, Any], index: int, birth: dt.date) -> None:
    """Move a member's birth date and keep age and NIK consistent with it."""
    member = record["members"][index]
    female = member["sex"] == "FEMALE"
    member |= {
        "birth_date": birth,
        "age": b.age_on(birth, b.INTERVIEW_START.date()),
        "nik": b.nik(birth, female, member["member_number"]),
    }


def _member(index: int, **values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["members"][index].update(values)
        return ctx

    return mutate


def _old_child(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    born(record, 2, dt.date(1987, 1, 15))  # 35, the head is 42
    return ctx


def _old_grandchild(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"][3]["relationship"] = "GRANDCHILD"
    born(record, 3, dt.date(1975, 7, 4))
    return ctx


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "AGE_RANGE": (Severity.ERROR, "members[0].age", _member(0, age=99, birth_date=None)),
    "AGE_BIRTHDATE_MISMATCH": (Severity.WARNING, "members[0].age", _member(0, age=45)),
    "CHILD_OLDER_THAN_PARENT": (Severity.WARNING, "members[2].age", _old_child),
    "GRANDCHILD_OLDER_THAN_HEAD": (Severity.WARNING, "members[3].age", _old_grandchild),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_a_birth_date_after_the_interview_is_impossible(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3]["birth_date"] = dt.date(2022, 10, 21)
    (finding,) = found("AGE_RANGE", record, ctx)
    assert finding.field_path == "members[3].birth_date"
    assert "2022-10-21" in finding.message_en and "2022-10-20" in finding.message_en


def test_negative_age_is_impossible(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3]["age"] = -1
    assert [f.field_path for f in found("AGE_RANGE", record, ctx)] == ["members[3].age"]


def test_one_year_of_rounding_is_tolerated(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["age"] += 1
    assert validate(record, ctx) == []
    record["members"][0]["age"] += 1
    (finding,) = found("AGE_BIRTHDATE_MISMATCH", record, ctx)
    assert finding.message_en == (
        "Age of member 1 (44, item 407) does not match the birth date 1980-05-12 (item 406): "
        "42 on the interview date."
    )


def test_98_is_the_top_code(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"].append(
        b.member(
            5,
            "Mbah Sarinah",
            dt.date(1920, 2, 2),
            True,
            relationship="PARENT_OR_PARENT_IN_LAW",
            marital_status="WIDOWED",
            age=98,
            nik=None,
            worked_last_week=False,
            main_industry=None,
            employment_status=None,
        )
    )
    record["member_count"] = 5
    assert validate(record, ctx) == []


def test_a_ten_year_gap_between_parent_and_child_is_the_minimum(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    born(record, 2, dt.date(1970, 5, 12))  # 52, the head 42: flagged
    assert len(found("CHILD_OLDER_THAN_PARENT", record, ctx)) == 1
    born(record, 2, dt.date(1990, 5, 12))  # 32: exactly 10 years younger than the head
    born(record, 1, dt.date(1980, 5, 12))  # spouse as old as the head
    assert found("CHILD_OLDER_THAN_PARENT", record, ctx) == []
    born(record, 2, dt.date(1990, 5, 11))  # a day older: 11 months short of the gap, same age
    assert found("CHILD_OLDER_THAN_PARENT", record, ctx) == []


def test_the_spouse_counts_as_a_parent(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    born(record, 1, dt.date(2001, 1, 1))  # a young second wife, 21
    born(record, 2, dt.date(2010, 1, 15))  # her stepson, 12
    (finding,) = found("CHILD_OLDER_THAN_PARENT", record, ctx)
    assert finding.message_en == (
        "Member 3 (child, aged 12) is less than 10 years younger than the head's spouse, "
        "member 2 (aged 21)."
    )


def test_interview_date_is_the_local_date() -> None:
    record = b.kemendagri_submission()
    late = dt.datetime(2022, 10, 20, 23, 30, tzinfo=dt.UTC)  # 06:30 on the 21st in Jember
    record["enumeration"]["finished_at"] = late
    assert interview_date(record) == dt.date(2022, 10, 21)
    record["location"]["province_code"] = "91"  # Papua, WIT
    assert interview_date(record) == dt.date(2022, 10, 21)
    record["enumeration"]["finished_at"] = dt.datetime(2022, 10, 20, 14, 30, tzinfo=dt.UTC)
    record["location"]["province_code"] = "51"  # Bali, WITA: 22:30
    assert interview_date(record) == dt.date(2022, 10, 20)


def test_completed_years() -> None:
    assert completed_years(dt.date(1980, 5, 12), dt.date(2022, 5, 11)) == 41
    assert completed_years(dt.date(1980, 5, 12), dt.date(2022, 5, 12)) == 42
    assert completed_years(dt.date(2020, 2, 29), dt.date(2021, 2, 28)) == 0

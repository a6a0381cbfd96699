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


def _young_parent(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"].append(
        b.member(5, "Sumiati", dt.date(1975, 3, 3), True, relationship="PARENT_OR_PARENT_IN_LAW")
    )  # 47: five years older than the head (42), nine than the spouse (38)
    record["member_count"] = 5
    return ctx


def _married_child(age: int) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        born(record, 3, dt.date(2022 - age, 1, 4))
        record["members"][3]["marital_status"] = "MARRIED"
        return ctx

    return mutate


def _young_head(age: int, status: str) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        head = b.member(1, "Rina", dt.date(2022 - age, 1, 4), True, marital_status=status)
        head |= {"education_level": "SD", "worked_last_week": False}
        head |= {"main_industry": None, "employment_status": None}
        record["members"] = [head]
        record["member_count"] = 1
        return ctx

    return mutate


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "AGE_RANGE": (Severity.ERROR, "members[0].age", _member(0, age=99, birth_date=None)),
    "AGE_BIRTHDATE_MISMATCH": (Severity.WARNING, "members[0].age", _member(0, age=45)),
    "CHILD_OLDER_THAN_PARENT": (Severity.WARNING, "members[2].age", _old_child),
    "GRANDCHILD_OLDER_THAN_HEAD": (Severity.WARNING, "members[3].age", _old_grandchild),
    "PARENT_YOUNGER_THAN_HEAD": (Severity.WARNING, "members[4].age", _young_parent),
    "EVER_MARRIED_UNDER_10": (Severity.ERROR, "members[3].age", _married_child(7)),
    "MARRIED_UNDER_19": (Severity.WARNING, "members[3].age", _married_child(16)),
    "HEAD_UNDER_10": (Severity.ERROR, "members[0].age", _young_head(8, "NEVER_MARRIED")),
    "HEAD_UNDER_17": (Severity.WARNING, "members[0].age", _young_head(15, "NEVER_MARRIED")),
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


# --- age by role and marital status --------------------------------------------------


def codes(record: dict[str, Any], ctx: RuleContext) -> set[str]:
    return {f.code for f in validate(record, ctx)}


ROLE_CODES = {
    "EVER_MARRIED_UNDER_10",
    "MARRIED_UNDER_19",
    "HEAD_UNDER_10",
    "HEAD_UNDER_17",
    "PARENT_YOUNGER_THAN_HEAD",
}


@pytest.mark.parametrize(
    ("age", "status", "expected"),
    [
        (9, "MARRIED", {"EVER_MARRIED_UNDER_10"}),
        (9, "WIDOWED", {"EVER_MARRIED_UNDER_10"}),
        (9, "NEVER_MARRIED", set()),
        (10, "DIVORCED", {"MARRIED_UNDER_19"}),
        (18, "MARRIED", {"MARRIED_UNDER_19"}),
        (18, "NEVER_MARRIED", set()),
        (19, "MARRIED", set()),
    ],
)
def test_ever_married_by_age(age: int, status: str, expected: set[str], ctx: RuleContext) -> None:
    """Under 10 impossible, 10-18 a child marriage (flagged), 19 the legal minimum."""
    record = b.kemendagri_submission()
    trigger = _married_child(age)
    trigger(record, ctx)
    record["members"][3]["marital_status"] = status
    assert codes(record, ctx) & ROLE_CODES == expected


@pytest.mark.parametrize(
    ("age", "expected"),
    [(9, "EVER_MARRIED_UNDER_10"), (17, "MARRIED_UNDER_19"), (19, None)],
)
def test_a_spouse_is_married_whatever_item_408_says(
    age: int, expected: str | None, ctx: RuleContext
) -> None:
    record = b.kemendagri_submission()
    born(record, 1, dt.date(2022 - age, 1, 4))
    record["members"][1]["marital_status"] = "NEVER_MARRIED"
    fired = codes(record, ctx) & ROLE_CODES
    assert fired == ({expected} if expected else set())
    if expected:
        (finding,) = found(expected, record, ctx)
        assert "the head's spouse" in finding.message_en
        assert "istri/suami" in finding.message_id


@pytest.mark.parametrize(
    ("age", "status", "expected"),
    [
        (8, "NEVER_MARRIED", {"HEAD_UNDER_10"}),
        (8, "MARRIED", {"HEAD_UNDER_10"}),  # one finding for one mistake
        (10, "NEVER_MARRIED", {"HEAD_UNDER_17"}),
        (16, "NEVER_MARRIED", {"HEAD_UNDER_17"}),
        (16, "MARRIED", {"MARRIED_UNDER_19"}),  # civilly adult by marriage
        (17, "NEVER_MARRIED", set()),
        (42, "WIDOWED", set()),
    ],
)
def test_head_by_age_and_status(
    age: int, status: str, expected: set[str], ctx: RuleContext
) -> None:
    record = b.kemendagri_submission()
    _young_head(age, status)(record, ctx)
    assert codes(record, ctx) & ROLE_CODES == expected


def test_head_under_10_message_names_the_member(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    _young_head(8, "NEVER_MARRIED")(record, ctx)
    (finding,) = found("HEAD_UNDER_10", record, ctx)
    assert finding.message_en.startswith("The head of the family (member 1) is aged 8;")
    assert "di bawah 10 tahun" in finding.message_id


def test_an_absent_member_is_not_checked(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    _married_child(7)(record, ctx)
    record["members"][3] = {**record["members"][3], "presence": "DECEASED"}
    assert not codes(record, ctx) & ROLE_CODES


def test_a_parent_in_law_may_be_younger_than_an_older_head(ctx: RuleContext) -> None:
    """Head 42, spouse 38: the spouse's mother at 48 is 10 years older than the spouse."""
    record = b.kemendagri_submission()
    _young_parent(record, ctx)
    born(record, 4, dt.date(1974, 3, 3))  # 48
    assert found("PARENT_YOUNGER_THAN_HEAD", record, ctx) == []
    born(record, 4, dt.date(1970, 3, 3))  # 52: ten years older than the head
    record["members"][1]["relationship"] = "OTHER"  # no spouse: the head alone decides
    assert found("PARENT_YOUNGER_THAN_HEAD", record, ctx) == []
    born(record, 4, dt.date(1975, 3, 3))  # 47 and no spouse
    (finding,) = found("PARENT_YOUNGER_THAN_HEAD", record, ctx)
    assert finding.message_en == (
        "Member 5 (parent or parent-in-law, aged 47) is less than 10 years older than both "
        "the head (aged 42) and the head's spouse."
    )


def test_the_builders_family_passes_the_role_rules(ctx: RuleContext) -> None:
    assert codes(b.kemendagri_submission(), ctx) & ROLE_CODES == set()

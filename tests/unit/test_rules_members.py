"""Blok IV structure: line numbers, item 112, head and spouse, items 405+ by presence."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]


def _member(index: int, **values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["members"][index].update(values)
        return ctx

    return mutate


def _member_count(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["member_count"] = 5
    return ctx


def second_wife() -> dict[str, Any]:
    return b.member(5, "Sri Wahyuni", dt.date(1990, 3, 3), True, relationship="SPOUSE")


def _second_spouse(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"].append(second_wife())
    record["member_count"] = 5
    return ctx


def _died(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"][3]["presence"] = "DECEASED"
    record["member_count"] = 3
    return ctx


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "MEMBER_NUMBERS": (Severity.ERROR, "members[3].member_number", _member(3, member_number=1)),
    "MEMBER_COUNT_MISMATCH": (Severity.ERROR, "member_count", _member_count),
    "HEAD_MISSING": (Severity.ERROR, "members", _member(0, relationship="OTHER")),
    "HEAD_MULTIPLE": (Severity.ERROR, "members[1].relationship", _member(1, relationship="HEAD")),
    "SPOUSE_MULTIPLE": (Severity.WARNING, "members[4].relationship", _second_spouse),
    "SPOUSE_NOT_MARRIED": (
        Severity.WARNING,
        "members[1].marital_status",
        _member(1, marital_status="WIDOWED"),
    ),
    "PRESENT_MEMBER_ITEMS_MISSING": (Severity.ERROR, "members[2].sex", _member(2, sex=None)),
    "ABSENT_MEMBER_ITEMS": (Severity.WARNING, "members[3].sex", _died),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_member_count_counts_present_members_only(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3] |= {
        key: None for key in record["members"][3] if key not in {"member_number", "name", "nik"}
    }
    record["members"][3]["presence"] = "MOVED_ABROAD"
    assert [f.code for f in validate(record, ctx)] == ["MEMBER_COUNT_MISMATCH"]
    record["member_count"] = 3
    assert validate(record, ctx) == []
    record["member_count"] = None  # apps on schema v1 did not send item 112
    assert validate(record, ctx) == []


def test_new_members_count_as_present(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][3]["presence"] = "NEW_MEMBER"
    assert validate(record, ctx) == []


def test_member_numbers_must_be_one_to_ninety_nine(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["member_number"] = 0
    (finding,) = found("MEMBER_NUMBERS", record, ctx)
    assert finding.field_path == "members[0].member_number"


def test_head_missing_only_for_complete_interviews(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["relationship"] = "OTHER"
    record["enumeration"] |= {"result": "INCOMPLETE", "notes": "Kepala keluarga sedang merantau."}
    assert found("HEAD_MISSING", record, ctx) == []


def test_a_second_head_names_the_member(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][1]["relationship"] = "HEAD"
    (finding,) = found("HEAD_MULTIPLE", record, ctx)
    assert finding.message_en.startswith("Member 2 is a second head")


def test_polygamous_family_is_accepted_with_a_warning(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"].append(second_wife())
    record["member_count"] = 5
    findings = validate(record, ctx)
    assert [(f.code, f.severity) for f in findings] == [("SPOUSE_MULTIPLE", Severity.WARNING)]
    assert "berpoligami" in findings[0].message_id


def test_spouse_marital_status_is_quoted_with_its_form_code(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][1]["marital_status"] = "DIVORCED"
    (finding,) = found("SPOUSE_NOT_MARRIED", record, ctx)
    assert "(Rincian 408) = 3. Cerai hidup" in finding.message_id


def test_missing_items_of_present_members_each_get_a_finding(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][2] |= {"age": None, "relationship": None}
    paths = [f.field_path for f in found("PRESENT_MEMBER_ITEMS_MISSING", record, ctx)]
    assert paths == ["members[2].age", "members[2].relationship"]


def test_absent_members_without_details_are_fine(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"].append(
        {"member_number": 5, "name": "Mbah Karto", "nik": None, "presence": "DECEASED"}
    )
    assert validate(record, ctx) == []

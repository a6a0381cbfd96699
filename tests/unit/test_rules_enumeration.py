"""Blok II rules: interview times, the result (item 205), notes and completeness."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import RuleContext, Severity, validate
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]
START = b.INTERVIEW_START


def _enumeration(**values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["enumeration"].update(values)
        return ctx

    return mutate


def _top(**values: Any) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record.update(values)
        return ctx

    return mutate


def _refused(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["enumeration"] |= {"result": "REFUSED", "notes": "Kepala keluarga menolak."}
    return ctx


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "INTERVIEW_TIMES": (
        Severity.ERROR,
        "enumeration.finished_at",
        _enumeration(finished_at=START - dt.timedelta(minutes=1)),
    ),
    "INTERVIEW_OUTSIDE_FIELDWORK": (
        Severity.ERROR,
        "enumeration.started_at",
        _enumeration(
            started_at=dt.datetime(2022, 10, 1, 9, tzinfo=b.WIB),
            finished_at=dt.datetime(2022, 10, 1, 10, tzinfo=b.WIB),
        ),
    ),
    "INTERVIEW_IN_FUTURE": (
        Severity.ERROR,
        "enumeration.finished_at",
        _enumeration(finished_at=b.RULES_NOW + dt.timedelta(minutes=6)),
    ),
    "INTERVIEW_TOO_SHORT": (
        Severity.WARNING,
        "enumeration.finished_at",
        _enumeration(finished_at=START + dt.timedelta(minutes=2)),
    ),
    "RESULT_NOT_COMPLETE_WITH_MEMBERS": (Severity.ERROR, "members", _refused),
    "NOTES_REQUIRED": (Severity.WARNING, "enumeration.notes", _enumeration(result="INCOMPLETE")),
    "MEMBERS_MISSING": (Severity.ERROR, "members", _top(members=[], member_count=None)),
    "HOUSING_MISSING": (Severity.ERROR, "housing", _top(housing=None)),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_times_are_reported_in_utc(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"]["finished_at"] = START - dt.timedelta(minutes=1)
    (finding,) = found("INTERVIEW_TIMES", record, ctx)
    assert finding.message_en == (
        "The interview finished (2022-10-20 02:04 UTC) before it started (2022-10-20 02:05 UTC)."
    )


def test_device_clock_skew_up_to_five_minutes_is_tolerated(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"]["finished_at"] = b.RULES_NOW + dt.timedelta(minutes=4)
    assert found("INTERVIEW_IN_FUTURE", record, ctx) == []


def test_fieldwork_bounds_are_inclusive(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {
        "started_at": b.FIELDWORK_END - dt.timedelta(hours=1),
        "finished_at": b.FIELDWORK_END,
    }
    late = dataclasses.replace(ctx, now=b.FIELDWORK_END + dt.timedelta(days=1))
    assert found("INTERVIEW_OUTSIDE_FIELDWORK", record, late) == []
    record["enumeration"]["finished_at"] = b.FIELDWORK_END + dt.timedelta(seconds=1)
    assert len(found("INTERVIEW_OUTSIDE_FIELDWORK", record, late)) == 1


def test_minimum_interview_length_applies_to_complete_results_only(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {
        "finished_at": START + dt.timedelta(minutes=2),
        "result": "INCOMPLETE",
        "notes": "Dilanjutkan besok.",
    }
    assert validate(record, ctx) == []
    shorter = dataclasses.replace(ctx, min_interview_seconds=60)
    record["enumeration"]["result"] = "COMPLETE"
    assert validate(record, shorter) == []


def test_incomplete_interviews_may_carry_partial_members(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"] |= {"result": "INCOMPLETE", "notes": "Responden pergi ke sawah."}
    record["members"][3]["disability"] = None
    assert validate(record, ctx) == []


def test_a_prelisted_roster_of_a_family_that_moved_is_allowed(ctx: RuleContext) -> None:
    record = b.kemendagri_submission(housing=None, assets=None, social_assistance=None)
    record["enumeration"] |= {"result": "MOVED_OR_BUILDING_GONE", "notes": "Pindah ke Bali."}
    record["member_count"] = 0
    for member in record["members"]:
        member |= {key: None for key in member if key not in {"member_number", "name", "nik"}}
        member["presence"] = "MOVED_DOMESTIC"
    assert validate(record, ctx) == []


def test_result_is_quoted_with_its_form_code(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["enumeration"]["result"] = "REFUSED"
    (notes,) = found("NOTES_REQUIRED", record, ctx)
    assert "(Rincian 205) = 4. Responden menolak" in notes.message_id
    assert "result REFUSED" in notes.message_en
    record["enumeration"]["notes"] = "   "
    assert len(found("NOTES_REQUIRED", record, ctx)) == 1

"""Items 406-407 and 409 together: possible ages, age against birth date, generations.

Ages are compared at the interview date (item 201, local date). Age 98 is
read as the form's top code, "98 or older" (S4 allows 0-98; Susenas uses the
same idea with 97), so a member born in 1920 aged 98 is not flagged.

The generation rules compare stated ages (item 407), the item that is always
asked. "Anak" (409 = 3) includes step and adopted children, and a head's
second spouse can be young, so they warn rather than reject. The minimum gap
between a head (or the head's spouse) and a child is **10 years**: below that
a biological parent is practically impossible, while a gap of 12-15 years,
rare but real for young mothers, stays unflagged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from processors.rules.base import (
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    completed_years,
    hit,
    interview_date,
    make_rule,
    member_path,
    number_of,
    present_members,
)

MAX_AGE = 98
#: Minimum years between the head (or the head's spouse) and a child (409 = 3).
MIN_PARENT_GAP = 10
#: Tolerated difference between item 407 and the age implied by item 406.
AGE_TOLERANCE = 1


def _age_range(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    today = interview_date(record)
    for index, member in present_members(record):
        age, birth = member.get("age"), member.get("birth_date")
        number = number_of(member, index)
        if age is not None and not 0 <= age <= MAX_AGE:
            yield hit(
                member_path(index, "age"),
                member=number,
                value_id=f"umur {age} tahun",
                value_en=f"age {age}",
                date=today.isoformat(),
            )
        if isinstance(birth, dt.date) and birth > today:
            yield hit(
                member_path(index, "birth_date"),
                member=number,
                value_id=f"tanggal lahir {birth.isoformat()}",
                value_en=f"birth date {birth.isoformat()}",
                date=today.isoformat(),
            )


def _age_birth_date(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    today = interview_date(record)
    for index, member in present_members(record):
        age, birth = member.get("age"), member.get("birth_date")
        if age is None or not isinstance(birth, dt.date) or birth > today:
            continue
        expected = completed_years(birth, today)
        top_coded = age == MAX_AGE and expected >= MAX_AGE
        if abs(age - expected) > AGE_TOLERANCE and not top_coded:
            yield hit(
                member_path(index, "age"),
                member=number_of(member, index),
                age=age,
                birth=birth.isoformat(),
                expected=expected,
            )


AGE_RANGE = make_rule(
    "AGE_RANGE",
    Severity.ERROR,
    "406-407",
    "Umur atau tanggal lahir anggota nomor {member} tidak mungkin: {value_id} (umur harus "
    "0-98 tahun dan tanggal lahir tidak boleh sesudah tanggal pendataan {date}).",
    "Impossible age or birth date for member {member}: {value_en} (age must be 0-98 and "
    "the birth date not after the interview date {date}).",
    detect=_age_range,
    rationale="The form's hard range (S4); ages drive every age-gated item and count.",
)
AGE_BIRTHDATE_MISMATCH = make_rule(
    "AGE_BIRTHDATE_MISMATCH",
    Severity.WARNING,
    "406-407",
    "Umur anggota nomor {member} ({age} tahun, Rincian 407) tidak sesuai dengan tanggal "
    "lahir {birth} (Rincian 406): pada tanggal pendataan umurnya {expected} tahun.",
    "Age of member {member} ({age}, item 407) does not match the birth date {birth} "
    "(item 406): {expected} on the interview date.",
    detect=_age_birth_date,
    rationale=(
        "Respondents round ages; a difference of one year is tolerated, more is worth a callback."
    ),
)


def _with_age(record: Record, relationship: str) -> list[tuple[int, Record, int]]:
    return [
        (index, member, member["age"])
        for index, member in present_members(record)
        if member.get("relationship") == relationship and member.get("age") is not None
    ]


def _child_older(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    parents = [("HEAD", *p) for p in _with_age(record, "HEAD")]
    parents += [("SPOUSE", *p) for p in _with_age(record, "SPOUSE")]
    for index, child, age in _with_age(record, "CHILD"):
        for role, parent_index, parent, parent_age in parents:
            if parent_age - age < MIN_PARENT_GAP:
                yield hit(
                    member_path(index, "age"),
                    member=number_of(child, index),
                    age=age,
                    gap=MIN_PARENT_GAP,
                    parent=number_of(parent, parent_index),
                    parent_age=parent_age,
                    parent_id="kepala keluarga" if role == "HEAD" else "istri/suami",
                    parent_en="head" if role == "HEAD" else "head's spouse",
                )
                break


def _grandchild_older(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    heads = _with_age(record, "HEAD")
    if not heads:
        return
    head_age = heads[0][2]
    for index, grandchild, age in _with_age(record, "GRANDCHILD"):
        if age >= head_age:
            yield hit(
                member_path(index, "age"),
                member=number_of(grandchild, index),
                age=age,
                head_age=head_age,
            )


CHILD_OLDER_THAN_PARENT = make_rule(
    "CHILD_OLDER_THAN_PARENT",
    Severity.WARNING,
    "407, 409",
    "Anggota nomor {member} (anak, {age} tahun) tidak sampai {gap} tahun lebih muda "
    "daripada {parent_id}, anggota nomor {parent} ({parent_age} tahun).",
    "Member {member} (child, aged {age}) is less than {gap} years younger than the "
    "{parent_en}, member {parent} (aged {parent_age}).",
    detect=_child_older,
    rationale="Step-children and young second spouses make it possible, so a supervisor checks.",
)
GRANDCHILD_OLDER_THAN_HEAD = make_rule(
    "GRANDCHILD_OLDER_THAN_HEAD",
    Severity.WARNING,
    "407, 409",
    "Anggota nomor {member} (cucu, {age} tahun) tidak lebih muda daripada kepala keluarga "
    "({head_age} tahun).",
    "Member {member} (grandchild, aged {age}) is not younger than the head (aged {head_age}).",
    detect=_grandchild_older,
    rationale="Almost always a swapped relationship code; kept and flagged for a callback.",
)

RULES: tuple[Rule, ...] = (
    AGE_RANGE,
    AGE_BIRTHDATE_MISMATCH,
    CHILD_OLDER_THAN_PARENT,
    GRANDCHILD_OLDER_THAN_HEAD,
)

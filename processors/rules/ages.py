"""Items 406-407 and 409 together: possible ages, age against birth date, generations.

Ages are compared at the interview date (item 201, local date). Age 98 is
read as the form's top code, "98 or older" (S4 allows 0-98; Susenas uses the
same idea with 97), so a member born in 1920 aged 98 is not flagged.

The generation rules compare stated ages (item 407), the item that is always
asked. "Anak" (409 = 3) includes step and adopted children, and a head's
second spouse can be young, so they warn rather than reject. The minimum gap
between a head (or the head's spouse) and a child is **10 years**: below that
a biological parent is practically impossible, while a gap of 12-15 years,
rare but real for young mothers, stays unflagged. The same gap, the other
way round, bounds a parent or parent-in-law (409 = 6) against the head and
the spouse.

**Age by role and marital status.** BPS asks marital status (item 408) of
everyone, and the form's own routing treats the ever-married as aged 10 and
over: item 410 (pregnancy) is asked of women aged 10-54 with 408 = 2-4
(S1's routing, S4's ``age > 9 && age < 55``; CODEBOOK section 7). BPS
records a marriage as a fact, whatever its legality, so:

* ever married (408 = 2, 3, 4) or a spouse (409 = 2) under 10: impossible
  in BPS's own concept, **ERROR** (``EVER_MARRIED_UNDER_10``);
* ever married or a spouse aged 10-18: below the minimum age of marriage of
  Law No. 16/2019 (19 for both sexes; UU 1/1974 art. 7(1) as amended), yet
  real (courts grant dispensations, and older marriages predate the law),
  so a **WARNING** for the supervisor (``MARRIED_UNDER_19``);
* a head of family (409 = 1) under 10: **ERROR** (``HEAD_UNDER_10``); aged
  10-16 and never married: **WARNING** (``HEAD_UNDER_17``). The unit is
  the family card (KK), whose head civil registration treats as an adult:
  Law No. 24/2013 art. 63 gives an identity card (KTP-el) from 17 *or*
  married. No BPS source for a head's minimum age was found (CODEBOOK
  section 7 lists none), so both cut-offs are the platform's choice,
  anchored in that law: a child-headed family of orphans aged 10-16 exists,
  one headed by a child under 10 is not registered, and a wrong age or a
  swapped relationship code is far likelier (the enumerator fixes it before
  leaving the house).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from processors.rules import labels
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
#: Youngest age at which BPS records anyone as ever married (the form's 410 gate: 10-54).
MIN_EVER_MARRIED_AGE = 10
#: Minimum age of marriage for both sexes, Law No. 16/2019 (amending UU 1/1974 art. 7(1)).
LEGAL_MARRIAGE_AGE = 19
#: Age of civil adulthood, Law No. 24/2013 art. 63 (KTP-el from 17 or married).
ADULT_AGE = 17
#: Item 408 = 2, 3, 4: married, divorced, widowed (BPS's "pernah kawin").
EVER_MARRIED = frozenset({"MARRIED", "DIVORCED", "WIDOWED"})


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


def _parent_too_young(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    """A parent (in-law) must be the gap older than the head, or than the spouse (in-laws)."""
    parents = _with_age(record, "PARENT_OR_PARENT_IN_LAW")
    heads = _with_age(record, "HEAD") if parents else []  # most families have no parent
    if not heads:
        return
    head_age = heads[0][2]
    oldest_spouse = max((age for _i, _m, age in _with_age(record, "SPOUSE")), default=None)
    for index, parent, age in parents:
        if age - head_age >= MIN_PARENT_GAP:
            continue
        if oldest_spouse is not None and age - oldest_spouse >= MIN_PARENT_GAP:
            continue  # the spouse's parent: a parent-in-law of a much older head
        yield hit(
            member_path(index, "age"),
            member=number_of(parent, index),
            age=age,
            head_age=head_age,
            gap=MIN_PARENT_GAP,
        )


PARENT_YOUNGER_THAN_HEAD = make_rule(
    "PARENT_YOUNGER_THAN_HEAD",
    Severity.WARNING,
    "407, 409",
    "Anggota nomor {member} (orang tua/mertua, {age} tahun) tidak sampai {gap} tahun lebih "
    "tua daripada kepala keluarga ({head_age} tahun) maupun istri/suaminya.",
    "Member {member} (parent or parent-in-law, aged {age}) is less than {gap} years older "
    "than both the head (aged {head_age}) and the head's spouse.",
    detect=_parent_too_young,
    rationale=(
        "The mirror of CHILD_OLDER_THAN_PARENT (same 10-year gap, the platform's choice: no "
        "BPS age-gap rule was found, CODEBOOK section 7). Item 409 = 6 mixes parents and "
        "parents-in-law, and a step-parent can be young, so a supervisor checks; usually a "
        "swapped relationship code."
    ),
)


def _age_status(member: Record) -> tuple[int, str | None, str | None] | None:
    age = member.get("age")
    if not isinstance(age, int):
        return None
    return age, member.get("relationship"), member.get("marital_status")


def _married_hit(index: int, member: Record, age: int, role: str | None, status: str | None) -> Hit:
    spouse = role == "SPOUSE"
    return hit(
        member_path(index, "age"),
        member=number_of(member, index),
        age=age,
        status_id="istri/suami kepala keluarga" if spouse else f"berstatus {label(status)}",
        status_en="the head's spouse" if spouse else f"marital status {status}",
    )


def label(status: str | None) -> str:
    """Item 408's form label (``2. Kawin/nikah``) for messages."""
    return labels.label("MaritalStatus", status)


def _ever_married(role: str | None, status: str | None) -> bool:
    return role == "SPOUSE" or status in EVER_MARRIED


def _married_under_10(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in present_members(record):
        known = _age_status(member)
        if known is None:
            continue
        age, role, status = known
        # a head under 10 is HEAD_UNDER_10 whatever their status: one finding per mistake
        if age < MIN_EVER_MARRIED_AGE and role != "HEAD" and _ever_married(role, status):
            yield _married_hit(index, member, age, role, status)


def _married_under_19(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in present_members(record):
        known = _age_status(member)
        if known is None:
            continue
        age, role, status = known
        if MIN_EVER_MARRIED_AGE <= age < LEGAL_MARRIAGE_AGE and _ever_married(role, status):
            yield _married_hit(index, member, age, role, status)


def _head_under(record: Record, low: int, high: int, *, never_married: bool) -> Iterator[Hit]:
    for index, member in present_members(record):
        known = _age_status(member)
        if known is None or known[1] != "HEAD":
            continue
        age, _role, status = known
        if low <= age < high and (not never_married or status not in EVER_MARRIED):
            yield hit(member_path(index, "age"), member=number_of(member, index), age=age)


def _head_under_10(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    return _head_under(record, 0, MIN_EVER_MARRIED_AGE, never_married=False)


def _head_under_17(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    # an ever-married head of 10-18 is MARRIED_UNDER_19 already
    return _head_under(record, MIN_EVER_MARRIED_AGE, ADULT_AGE, never_married=True)


EVER_MARRIED_UNDER_10 = make_rule(
    "EVER_MARRIED_UNDER_10",
    Severity.ERROR,
    "407-409",
    "Anggota nomor {member} berumur {age} tahun tetapi {status_id}; BPS mencatat status "
    "kawin, cerai hidup, atau cerai mati hanya untuk umur 10 tahun ke atas.",
    "Member {member} is aged {age} but is {status_en}; BPS records anyone as married, "
    "divorced or widowed only from age 10.",
    detect=_married_under_10,
    rationale=(
        "Impossible in BPS's own concept: the form treats the ever-married as aged 10+ (item "
        "410 is asked of women 10-54 with 408 = 2-4; S1 routing, S4 `age > 9`). A spouse "
        "(409 = 2) is married by definition. Either the age or the status is wrong."
    ),
)
MARRIED_UNDER_19 = make_rule(
    "MARRIED_UNDER_19",
    Severity.WARNING,
    "407-409",
    "Anggota nomor {member} berumur {age} tahun dan {status_id}: di bawah batas umur "
    "perkawinan 19 tahun (UU No. 16 Tahun 2019). Pastikan umur dan statusnya benar.",
    "Member {member} is aged {age} and {status_en}: below the minimum age of marriage, 19 "
    "(Law No. 16/2019). Confirm the age and the status.",
    detect=_married_under_19,
    rationale=(
        "Law No. 16/2019 (amending UU 1/1974 art. 7(1)) sets 19 for both sexes, but courts "
        "grant dispensations and earlier marriages followed the old limit (16 for women): BPS "
        "enumerates child marriage as a fact (it publishes its prevalence), so the record is "
        "kept and flagged, never rejected."
    ),
)
HEAD_UNDER_10 = make_rule(
    "HEAD_UNDER_10",
    Severity.ERROR,
    "407, 409",
    "Kepala keluarga (anggota nomor {member}) berumur {age} tahun; kepala keluarga tidak "
    "mungkin berumur di bawah 10 tahun. Periksa umur dan hubungan dengan kepala keluarga.",
    "The head of the family (member {member}) is aged {age}; a head cannot be under 10. "
    "Check the age and the relationship codes.",
    detect=_head_under_10,
    rationale=(
        "The platform's choice (no BPS minimum found, CODEBOOK section 7): a family card's head "
        "is a civil adult (Law 24/2013 art. 63: 17 or married) and a child under 10 is neither "
        "and cannot be ever married in BPS's concept; a wrong age or swapped 409 codes is the "
        "explanation, fixed before leaving the house."
    ),
)
HEAD_UNDER_17 = make_rule(
    "HEAD_UNDER_17",
    Severity.WARNING,
    "407-409",
    "Kepala keluarga (anggota nomor {member}) berumur {age} tahun dan belum kawin; pastikan "
    "umur dan hubungan dengan kepala keluarga benar.",
    "The head of the family (member {member}) is aged {age} and never married; confirm the "
    "age and the relationship codes.",
    detect=_head_under_17,
    rationale=(
        "The platform's choice: civil registration treats 17 or married as adult (Law 24/2013 "
        "art. 63), but orphaned siblings aged 10-16 do head families, so a supervisor checks."
    ),
)

RULES: tuple[Rule, ...] = (
    AGE_RANGE,
    AGE_BIRTHDATE_MISMATCH,
    CHILD_OLDER_THAN_PARENT,
    GRANDCHILD_OLDER_THAN_HEAD,
    PARENT_YOUNGER_THAN_HEAD,
    EVER_MARRIED_UNDER_10,
    MARRIED_UNDER_19,
    HEAD_UNDER_10,
    HEAD_UNDER_17,
)

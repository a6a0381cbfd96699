"""Blok IV for a simulated family: who lives in it, and each member's answers.

The family is composed first (roles, sexes, ages), then every member's items
are filled the way the form routes them, so that a clean family passes every
rule of :mod:`processors.rules`:

* one head; a spouse in most families of two or more (married, opposite sex,
  a few years apart); children born when the younger parent was 18-42, so a
  child is always at least 18 years younger than the head and the spouse; now
  and then a grandchild (younger than the head) or a parent of the head;
* ages in completed years at the interview date with a birth date that gives
  exactly that age (item 406 and 407 agree);
* NIKs with the layout of :mod:`processors.nik`: the district of issue (the
  family's own, or for some spouses and parents another district of the
  regency), the birth date with 40 added to the day for women, and a serial
  counting the people of one district born on one day, so no NIK repeats;
* items 412-428 only from the ages the form asks them at (school and work
  from 5, disability from 2, the last three disability items from 5), the
  education level only for those who attended school, industry and status
  only for those who worked.

Family sizes follow a distribution with a mean of about 3.35 persons;
answers lean on Jember's rural, agricultural profile. Names are common
Javanese, Madurese and Islamic given names.
"""

from __future__ import annotations

import datetime as dt
import random
from array import array
from typing import Any

from simulator import vocabulary as v
from simulator.tables import Table, between, chance

Member = dict[str, Any]

FAMILY_SIZE = Table(
    [(1, 12), (2, 22), (3, 24), (4, 20), (5, 12), (6, 5.5), (7, 2.5), (8, 1.2), (9, 0.8)]
)
DISABILITY_ALL = (
    "seeing",
    "hearing",
    "walking",
    "hands_fingers",
    "learning",
    "behaviour",
    "communicating",
    "self_care",
    "remembering",
)
#: Items 428g-i are asked from age 5, the other six from age 2.
DISABILITY_FROM_2 = DISABILITY_ALL[:6]


class NikAllocator:
    """Issues NIKs: a serial per district, birth date and sex, as Dukcapil numbers them."""

    EPOCH = dt.date(1900, 1, 1)
    SLOTS = 2 * 366 * 130  # two sexes, every day of 130 years

    def __init__(self) -> None:
        self._counters: dict[str, array[int]] = {}

    def issue(self, district6: str, birth: dt.date, female: bool) -> str:
        counters = self._counters.get(district6)
        if counters is None:
            counters = self._counters[district6] = array("H", bytes(2 * self.SLOTS))
        slot = (birth - self.EPOCH).days * 2 + female
        counters[slot] += 1
        day = birth.day + 40 if female else birth.day
        return f"{district6}{day:02d}{birth.month:02d}{birth.year % 100:02d}{counters[slot]:04d}"


def birth_date_for(rng: random.Random, age: int, today: dt.date) -> dt.date:
    """A birth date at which someone is exactly ``age`` completed years old on ``today``."""
    latest = today.replace(year=today.year - age)
    span = (latest - today.replace(year=today.year - age - 1)).days  # 365 or 366
    return latest - dt.timedelta(days=int(rng.random() * span))


def compose(rng: random.Random, size: int) -> list[tuple[str, str, int]]:
    """(relationship, sex, age) of every member, head first, children eldest first."""
    if size == 1:
        head_age = between(rng, 20, 35) if chance(rng, 0.35) else between(rng, 45, 88)
    elif size >= 5:
        head_age = between(rng, 32, 62)
    else:
        head_age = int(rng.triangular(23, 78, 40))
    married = size >= 2 and chance(rng, 0.88 if head_age < 65 else 0.6)
    male_head = chance(rng, 0.96) if married else chance(rng, 0.45)
    members = [("HEAD", "MALE" if male_head else "FEMALE", head_age)]
    if married:
        spouse_age = (
            # 19: the legal minimum (Law 16/2019); younger spouses are MARRIED_UNDER_19 warnings
            max(19, head_age - between(rng, 0, 7)) if male_head else head_age + between(rng, 0, 6)
        )
        members.append(("SPOUSE", "FEMALE" if male_head else "MALE", min(spouse_age, 95)))
    left = size - len(members)
    extras: list[tuple[str, str, int]] = []
    if left >= 2 and head_age >= 45 and chance(rng, 0.25):
        extras.append(("GRANDCHILD", v.SEX.pick(rng), between(rng, 0, min(12, head_age - 40))))
    if left - len(extras) >= 2 and head_age <= 50 and chance(rng, 0.12):
        extras.append(
            (
                "PARENT_OR_PARENT_IN_LAW",
                "FEMALE" if chance(rng, 0.7) else "MALE",
                min(95, head_age + between(rng, 20, 32)),
            )
        )
    youngest = min(age for _role, _sex, age in members)
    low, high = max(0, youngest - 42), youngest - 18
    ages = sorted((between(rng, low, high) for _ in range(left - len(extras))), reverse=True)
    members += [("CHILD", v.SEX.pick(rng), age) for age in ages]
    return members + extras


def name_of(rng: random.Random, female: bool) -> str:
    """A given name, with a second name about half the time."""
    first = (v.FEMALE_NAMES if female else v.MALE_NAMES).pick(rng)
    if chance(rng, 0.5):
        return f"{first} {(v.FEMALE_SECOND if female else v.MALE_SECOND).pick(rng)}"
    return first


def marital_status(rng: random.Random, role: str, age: int, married_head: bool) -> str:
    """Item 408, consistent with the role (a spouse is married, a child under 17 never)."""
    if role == "SPOUSE" or (role == "HEAD" and married_head):
        return "MARRIED"
    if role == "HEAD":
        return v.SINGLE_YOUNG_HEAD.pick(rng) if age < 30 else v.SINGLE_OLDER_HEAD.pick(rng)
    if role == "PARENT_OR_PARENT_IN_LAW":
        return "WIDOWED" if chance(rng, 0.75) else "MARRIED"
    if role == "CHILD" and age >= 20:
        return v.ADULT_CHILD_MARITAL.pick(rng)
    return "NEVER_MARRIED"


def schooling(rng: random.Random, age: int) -> tuple[str, str | None]:
    """Items 412-413 for someone aged 5 or more: participation and (unless never) the level."""
    for top, participation, levels in v.SCHOOLING:
        if age <= top:
            status = participation.pick(rng)
            if status == "NEVER_ATTENDED":
                return status, None
            table = levels[0] if status == "STILL_IN_SCHOOL" else levels[1]
            return status, table.pick(rng)
    raise AssertionError("SCHOOLING covers every age")  # pragma: no cover


def work(
    rng: random.Random, role: str, sex: str, age: int, student: bool
) -> tuple[bool, str | None, str | None]:
    """Items 416a, 417 and 418 for someone aged 5 or more."""
    if age < 15:
        share = 0.03
    elif student:
        share = 0.08
    elif age >= 65:
        share = 0.35
    elif role == "HEAD":
        share = 0.92 if sex == "MALE" else 0.65
    else:
        share = 0.5 if sex == "FEMALE" else 0.7
    if not chance(rng, share):
        return False, None, None
    if age < 15:
        return True, "FOOD_CROPS", "UNPAID_FAMILY_WORKER"
    industry = v.INDUSTRY.pick(rng)
    farm = industry in v.FARMING
    return True, industry, (v.FARM_STATUS if farm else v.OTHER_STATUS).pick(rng)


#: Chance that nobody in an age group has any difficulty in any domain (the common case).
ALL_CLEAR = {False: 0.95, True: 0.6}
_CLEAR_FROM_2: dict[str, str | None] = {
    domain: ("NO_DIFFICULTY" if domain in DISABILITY_FROM_2 else None) for domain in DISABILITY_ALL
}
_CLEAR_FROM_5: dict[str, str | None] = dict.fromkeys(DISABILITY_ALL, "NO_DIFFICULTY")


def disability(rng: random.Random, age: int) -> dict[str, str | None] | None:
    """Items 428a-i: none below 2, six domains at 2-4, nine from 5 (the form's age gates).

    Most people have no difficulty at all, so that case is one draw; only the
    others get a draw per domain (which is also what makes generation fast).
    """
    if age < 2:
        return None
    elderly = age >= 60
    answers = dict(_CLEAR_FROM_5 if age >= 5 else _CLEAR_FROM_2)
    if rng.random() < ALL_CLEAR[elderly]:
        return answers
    table = v.DIFFICULTY_ELDERLY if elderly else v.DIFFICULTY_SOME
    for domain in DISABILITY_ALL if age >= 5 else DISABILITY_FROM_2:
        answers[domain] = table.pick(rng)
    return answers


def member(
    rng: random.Random,
    number: int,
    spec: tuple[str, str, int],
    nik: str | None,
    birth: dt.date,
    *,
    married_head: bool,
    insurance: int | None,
) -> Member:
    """One present member with every item the form asks at their age."""
    role, sex, age = spec
    school: str | None = None
    level: str | None = None
    worked: bool | None = None
    industry: str | None = None
    status: str | None = None
    if age >= 5:
        school, level = schooling(rng, age)
        worked, industry, status = work(rng, role, sex, age, school == "STILL_IN_SCHOOL")
    return {
        "member_number": number,
        "name": name_of(rng, sex == "FEMALE"),
        "nik": nik,
        "presence": "LIVES_WITH_FAMILY",
        "sex": sex,
        "birth_date": birth,
        "age": age,
        "marital_status": marital_status(rng, role, age, married_head),
        "relationship": role,
        "school_participation": school,
        "education_level": level,
        "worked_last_week": worked,
        "main_industry": industry,
        "employment_status": status,
        "disability": disability(rng, age),
        "chronic_illness": (v.CHRONIC_OLDER if age >= 40 else v.CHRONIC_YOUNGER).pick(rng),
        "health_insurance": insurance,
    }


def absent_member(rng: random.Random, number: int, nik: str, female: bool, presence: str) -> Member:
    """A member still on the family card who no longer lives in the family: items 405+ empty."""
    return {
        "member_number": number,
        "name": name_of(rng, female),
        "nik": nik,
        "presence": presence,
        **dict.fromkeys(v.DETAIL_FIELDS),
    }


def newborn(rng: random.Random, number: int, today: dt.date, relationship: str) -> Member:
    """A baby added in a correction (item 404 = 5, new member): age 0, no NIK yet."""
    female = chance(rng, 0.5)
    birth = today - dt.timedelta(days=between(rng, 7, 300))
    return {
        "member_number": number,
        "name": name_of(rng, female),
        "nik": None,
        "presence": "NEW_MEMBER",
        "sex": "FEMALE" if female else "MALE",
        "birth_date": birth,
        "age": 0,
        "marital_status": "NEVER_MARRIED",
        "relationship": relationship,
        **dict.fromkeys(v.DETAIL_FIELDS[5:]),
        "chronic_illness": "NONE",
        "health_insurance": 0,
    }


def family(
    rng: random.Random,
    niks: NikAllocator,
    district6: str,
    other_districts: tuple[str, ...],
    today: dt.date,
    *,
    complete: bool,
    insurance: int,
) -> list[Member]:
    """Blok IV of one family: present members, and now and then one who left.

    An INCOMPLETE interview has every present member's core items but not
    items 428-431 (the interview broke off); only a complete one lists a
    member who died or moved away (still on the family card).
    """
    specs = compose(rng, FAMILY_SIZE.pick(rng))
    married_head = any(role == "SPOUSE" for role, _sex, _age in specs)
    members: list[Member] = []
    for number, spec in enumerate(specs, start=1):
        role, sex, age = spec
        birth = birth_date_for(rng, age, today)
        moved_in = role in MARRIED_IN and other_districts and chance(rng, 0.15)
        issued_in = rng.choice(other_districts) if moved_in else district6
        nik = (
            None if age == 0 and chance(rng, 0.3) else niks.issue(issued_in, birth, sex == "FEMALE")
        )
        one = member(rng, number, spec, nik, birth, married_head=married_head, insurance=insurance)
        if not complete:
            one["disability"] = one["chronic_illness"] = one["health_insurance"] = None
        members.append(one)
    if complete and chance(rng, 0.03):
        members.append(_left_family(rng, niks, district6, today, len(members) + 1))
    return members


MARRIED_IN = frozenset({"SPOUSE", "PARENT_OR_PARENT_IN_LAW"})


def _left_family(
    rng: random.Random, niks: NikAllocator, district6: str, today: dt.date, number: int
) -> Member:
    presence = v.ABSENCE.pick(rng)
    age = between(rng, 60, 90) if presence == "DECEASED" else between(rng, 19, 35)
    female = chance(rng, 0.5)
    nik = niks.issue(district6, birth_date_for(rng, age, today), female)
    return absent_member(rng, number, nik, female, presence)

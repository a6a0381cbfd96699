"""NIK (Nomor Induk Kependudukan, the national id): layout, decoding, no lookups.

A NIK is 16 digits::

    35 09 02 45 12 80 0001
    |  |  |  |  |  |  serial (13-16)
    |  |  |  |  |  birth year, two digits (11-12)
    |  |  |  |  birth month (9-10)
    |  |  |  birth day, plus 40 for women (7-8)
    |  |  district (kecamatan) of first issue, Kemendagri code 35.09.02 (5-6)
    |  regency 35.09 (3-4)
    province 35 (1-2)

A NIK keeps the region and the facts of its first issue: a family that moved
keeps NIKs of its old district, and a district split since then no longer
exists in today's master. Pure functions only; the rules decide what a
disagreement means (see :mod:`processors.rules.identity`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache

NIK_LENGTH = 16
#: Women's birth day is stored with 40 added (day 41-71).
FEMALE_DAY_OFFSET = 40
_DIGITS = frozenset("0123456789")


def is_well_formed(nik: str) -> bool:
    """Exactly 16 ASCII digits (``str.isdigit`` would accept Arabic-Indic digits too)."""
    return len(nik) == NIK_LENGTH and set(nik) <= _DIGITS


@dataclass(frozen=True, slots=True)
class NikParts:
    """The fields of a well-formed NIK, as written (the day still carries the +40)."""

    province_code: str
    district_code: str
    day: int
    month: int
    year_2: int
    serial: str

    @property
    def female(self) -> bool:
        """Day 41-71 means a woman; the day field is the only place the NIK records sex."""
        return self.day > FEMALE_DAY_OFFSET

    @property
    def sex(self) -> str:
        """The ``Sex`` enum symbol the NIK implies."""
        return "FEMALE" if self.female else "MALE"

    @property
    def birth_day(self) -> int:
        return self.day - FEMALE_DAY_OFFSET if self.female else self.day

    @property
    def date_digits(self) -> str:
        """Digits 7-12 as written (DDMMYY, DD + 40 for women)."""
        return f"{self.day:02d}{self.month:02d}{self.year_2:02d}"


@lru_cache(maxsize=4096)
def split_nik(nik: str) -> NikParts | None:
    """The parts of a NIK, or ``None`` when it is not 16 digits.

    Cached: several rules read the same member's NIK, and the parts are immutable.
    """
    if not is_well_formed(nik):
        return None
    return NikParts(
        province_code=nik[:2],
        district_code=f"{nik[:2]}.{nik[2:4]}.{nik[4:6]}",
        day=int(nik[6:8]),
        month=int(nik[8:10]),
        year_2=int(nik[10:12]),
        serial=nik[12:],
    )


def birth_date(parts: NikParts, not_after: dt.date) -> dt.date | None:
    """The birth date the NIK encodes, or ``None`` when digits 7-12 are not a date.

    The year has two digits; the century is the latest one that puts the date
    on or before ``not_after`` (the interview date): ``12 05 80`` read in 2022
    is 1980, ``04 07 15`` is 2015. Someone born in 1920 reads as 2020, which
    the age rules then flag; the NIK alone cannot tell.
    """
    if not 1 <= parts.birth_day <= 31:
        return None
    for century in (2000, 1900):
        try:
            candidate = dt.date(century + parts.year_2, parts.month, parts.birth_day)
        except ValueError:
            continue
        if candidate <= not_after:
            return candidate
    return None


def same_birth_date(parts: NikParts, birth: dt.date) -> bool:
    """Whether the NIK's DDMMYY agrees with a full birth date.

    Compares the two-digit year rather than the century-guessed date, so an
    old member's NIK is not called wrong because of the guess.
    """
    return (parts.birth_day, parts.month, parts.year_2) == (
        birth.day,
        birth.month,
        birth.year % 100,
    )

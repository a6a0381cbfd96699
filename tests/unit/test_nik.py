"""The NIK layout: region of issue, birth date with +40 for women, century choice."""

from __future__ import annotations

import datetime as dt

import pytest

from processors.nik import birth_date, is_well_formed, same_birth_date, split_nik

INTERVIEW = dt.date(2022, 10, 20)


def test_a_womans_nik_is_decoded() -> None:
    parts = split_nik("3509024512800001")
    assert parts is not None
    assert (parts.province_code, parts.district_code) == ("35", "35.09.02")
    assert parts.female and parts.sex == "FEMALE"
    assert (parts.birth_day, parts.month, parts.year_2) == (5, 12, 80)
    assert parts.serial == "0001"
    assert parts.date_digits == "451280"
    assert birth_date(parts, INTERVIEW) == dt.date(1980, 12, 5)


def test_a_mans_nik_is_decoded() -> None:
    parts = split_nik("3509021205800001")
    assert parts is not None and not parts.female and parts.sex == "MALE"
    assert birth_date(parts, INTERVIEW) == dt.date(1980, 5, 12)


@pytest.mark.parametrize(
    ("nik", "expected"),
    [
        ("3509020407150004", dt.date(2015, 7, 4)),  # a child: this century
        ("3509022010220001", dt.date(2022, 10, 20)),  # born on the interview day
        ("3509022110220001", dt.date(1922, 10, 21)),  # the day after the interview: 1922
        ("3509022902000001", dt.date(2000, 2, 29)),  # 2000 is a leap year
    ],
)
def test_the_century_is_the_latest_not_after_the_interview(nik: str, expected: dt.date) -> None:
    parts = split_nik(nik)
    assert parts is not None
    assert birth_date(parts, INTERVIEW) == expected


@pytest.mark.parametrize(
    "digits",
    ["000180", "320180", "400180", "720180", "311180", "300280", "011380", "010080"],
)
def test_impossible_dates(digits: str) -> None:
    parts = split_nik(f"350902{digits}0001")
    assert parts is not None
    assert birth_date(parts, INTERVIEW) is None


def test_29_february_1900_does_not_exist() -> None:
    parts = split_nik("3509022902000001")
    assert parts is not None
    assert birth_date(parts, dt.date(1999, 1, 1)) is None  # 2000 too late, 1900 not a leap year


@pytest.mark.parametrize(
    "nik",
    ["350902120580000", "35090212058000011", "35O9021205800001", "٣٥٠٩٠٢١٢٠٥٨٠٠٠٠١", ""],
)
def test_malformed(nik: str) -> None:
    assert not is_well_formed(nik)
    assert split_nik(nik) is None


def test_same_birth_date_compares_ddmmyy() -> None:
    parts = split_nik("3509024512800001")
    assert parts is not None
    assert same_birth_date(parts, dt.date(1980, 12, 5))
    assert same_birth_date(parts, dt.date(1880, 12, 5))
    assert not same_birth_date(parts, dt.date(1980, 12, 6))

"""Property tests (hypothesis) for the NIK layout and the date logic the rules rest on."""

from __future__ import annotations

import datetime as dt

from hypothesis import assume, given
from hypothesis import strategies as st

from processors.nik import birth_date, is_well_formed, same_birth_date, split_nik
from processors.rules.base import completed_years

INTERVIEW = st.dates(min_value=dt.date(2022, 10, 15), max_value=dt.date(2022, 11, 14))
DIGITS16 = st.text(alphabet="0123456789", min_size=16, max_size=16)


def make_nik(district: str, born: dt.date, female: bool, serial: int) -> str:
    day = born.day + (40 if female else 0)
    return f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"


@given(
    born=st.dates(min_value=dt.date(1924, 1, 1), max_value=dt.date(2022, 10, 14)),
    female=st.booleans(),
    serial=st.integers(min_value=1, max_value=9999),
    interview=INTERVIEW,
)
def test_a_nik_made_from_facts_gives_them_back(
    born: dt.date, female: bool, serial: int, interview: dt.date
) -> None:
    assume(born <= interview and (interview - born).days < 99 * 365)
    parts = split_nik(make_nik("350902", born, female, serial))
    assert parts is not None
    assert parts.sex == ("FEMALE" if female else "MALE")
    assert parts.district_code == "35.09.02"
    assert same_birth_date(parts, born)
    assert birth_date(parts, interview) == born


@given(nik=DIGITS16, interview=INTERVIEW)
def test_any_sixteen_digits_decode_without_raising(nik: str, interview: dt.date) -> None:
    parts = split_nik(nik)
    assert parts is not None and is_well_formed(nik)
    decoded = birth_date(parts, interview)
    assert decoded is None or decoded <= interview
    if decoded is not None:
        assert same_birth_date(parts, decoded)


@given(text=st.text(max_size=20))
def test_only_sixteen_ascii_digits_are_well_formed(text: str) -> None:
    expected = len(text) == 16 and all(ch in "0123456789" for ch in text)
    assert is_well_formed(text) is expected
    assert (split_nik(text) is not None) is expected


@given(
    born=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2022, 11, 14)),
    on=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2030, 1, 1)),
)
def test_completed_years_is_the_calendar_definition(born: dt.date, on: dt.date) -> None:
    assume(born <= on)
    age = completed_years(born, on)
    assert age >= 0
    # the birthday of year `age` has passed, the one of `age + 1` has not
    assert _birthday(born, born.year + age) <= on < _birthday(born, born.year + age + 1)


def _birthday(born: dt.date, year: int) -> dt.date:
    """The birthday in ``year``; 29 February is celebrated on 1 March in common years."""
    try:
        return born.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)

"""The vocabulary every rule shares: severities, rules, findings, the context, helpers.

A *rule* is a named, stable check of one decoded ``HouseholdSubmission`` dict
(enums as symbol strings, ``date`` fields as :class:`datetime.date`,
timestamps as aware :class:`datetime.datetime`). It yields *findings*: an
ERROR rejects the record, a WARNING lets it through flagged. Rules are pure:
everything from outside the record (region master, enumeration frame, the
clock, NIKs already accepted) arrives in a :class:`RuleContext`, so the same
record and context always give the same findings.

Most rules are written as a *detector* yielding :class:`Hit` (field path plus
the specifics for the message) and wrapped by :func:`make_rule`, so a rule's
messages are formatted in exactly one place and always carry its code and
severity.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from schemas.extents import Extent
from schemas.frame import Frame
from schemas.regions import RegionMaster

#: A decoded HouseholdSubmission (or one of its parts): read only, never mutated.
Record = Mapping[str, Any]

#: Item 404 codes 1 and 5: the members for whom items 405-431 are asked.
PRESENT = frozenset({"LIVES_WITH_FAMILY", "NEW_MEMBER"})


class Severity(StrEnum):
    """ERROR rejects the submission; WARNING accepts it and flags it for a callback."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One violation of one rule in one record; messages are formatted with the specifics."""

    code: str
    severity: Severity
    message_id: str
    message_en: str
    field_path: str | None


class NikIndex(Protocol):
    """NIKs already accepted, and the households (families) they were accepted in."""

    def households_of(self, nik: str) -> set[str]: ...


class InMemoryNikIndex:
    """A :class:`NikIndex` in a dict: for tests and for one worker's own partitions.

    The rules only read it; the worker calls :meth:`add` after a household was
    accepted, so a rejected record never marks its NIKs as seen.
    """

    def __init__(self) -> None:
        self._households: dict[str, set[str]] = {}

    def add(self, nik: str, household_id: str) -> None:
        self._households.setdefault(nik, set()).add(household_id)

    def households_of(self, nik: str) -> set[str]:
        return set(self._households.get(nik, ()))

    def __len__(self) -> int:
        return len(self._households)


@dataclass(frozen=True)
class RuleContext:
    """Everything a rule may know besides the record, built once per worker (``now`` per batch).

    ``fieldwork_start``/``fieldwork_end`` bound the interview instants
    (inclusive); ``regency_extents`` maps a master regency code (``35.09``)
    to its padded box (:mod:`schemas.extents`, the worker loads the shipped
    file); ``regency_centroids`` maps a code to (latitude, longitude) and is
    used, with ``max_gps_distance_km``, only for a regency without an extent;
    with neither the GPS regency rule is off. ``seen_niks`` may be ``None``,
    which switches the cross-household NIK rule off.
    """

    regions: RegionMaster
    frame: Frame
    fieldwork_start: dt.datetime
    fieldwork_end: dt.datetime
    now: dt.datetime
    min_interview_seconds: int = 300
    max_gps_distance_km: float = 50.0
    regency_centroids: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    seen_niks: NikIndex | None = None
    regency_extents: Mapping[str, Extent] = field(default_factory=dict)


#: What a rule runs: record and context in, findings out.
Check = Callable[[Record, RuleContext], Iterable[Finding]]


class Hit(NamedTuple):
    """One place a detector found a problem: the field and the message's specifics."""

    path: str | None
    details: Mapping[str, object]


def hit(path: str | None, **details: object) -> Hit:
    """A :class:`Hit`; ``details`` fill the rule's message templates."""
    return Hit(path, details)


Detector = Callable[[Record, RuleContext], Iterable[Hit]]


@dataclass(frozen=True)
class Rule:
    """A named check: stable code, severity, bilingual message templates, form item.

    ``check`` is ``None`` for reason codes raised outside the rules (decoding),
    listed so that the catalogue names every code an operator can meet.
    ``rationale`` says why the severity was chosen; it is printed in docs/rules.md.
    """

    code: str
    severity: Severity
    message_id: str
    message_en: str
    item: str | None
    check: Check | None = None
    rationale: str = ""

    def finding(self, field_path: str | None = None, **details: object) -> Finding:
        """A finding of this rule, its message templates filled with ``details``."""
        return Finding(
            code=self.code,
            severity=self.severity,
            message_id=self.message_id.format(**details),
            message_en=self.message_en.format(**details),
            field_path=field_path,
        )


def make_rule(
    code: str,
    severity: Severity,
    item: str | None,
    message_id: str,
    message_en: str,
    *,
    detect: Detector | None = None,
    rationale: str = "",
) -> Rule:
    """A :class:`Rule` whose check turns the detector's hits into findings of this rule."""
    if detect is None:
        return Rule(code, severity, message_id, message_en, item, None, rationale)
    hits_of: Detector = detect

    def check(record: Record, ctx: RuleContext) -> list[Finding]:
        return [built.finding(found.path, **found.details) for found in hits_of(record, ctx)]

    built = Rule(code, severity, message_id, message_en, item, check, rationale)
    return built


# --- helpers shared by several blocks ---------------------------------------------------


def member_path(index: int, name: str) -> str:
    """``members[2].nik``: list indexes are 0-based, as in the gateway's field errors."""
    return f"members[{index}].{name}"


def members_of(record: Record) -> Sequence[Record]:
    """Blok IV as listed (possibly empty)."""
    return record.get("members") or ()


def present_members(record: Record) -> list[tuple[int, Record]]:
    """(index, member) of members living in the family (item 404 = 1 or 5).

    Twenty rules ask this of the same record in a row: inside one
    :func:`~processors.rules.catalogue.validate` call the answer is computed
    once (see :func:`validating`); a record is never changed while it is ruled.
    """
    members = members_of(record)
    cache = _present_cache.get()
    if cache is not None and cache[0] is members:
        return list(cache[1])
    present = [
        (index, member) for index, member in enumerate(members) if member.get("presence") in PRESENT
    ]
    if cache is not None:
        _present_cache.set((members, present))
    return list(present)


_present_cache: ContextVar[tuple[Any, list[tuple[int, Record]]] | None] = ContextVar(
    "present_members", default=None
)


@contextmanager
def validating() -> Iterator[None]:
    """Scope in which :func:`present_members` remembers its last answer."""
    token = _present_cache.set((None, []))
    try:
        yield
    finally:
        _present_cache.reset(token)


def number_of(member: Record, index: int) -> object:
    """The member's line number (item 401) for messages, else the 1-based position."""
    number = member.get("member_number")
    return number if number is not None else index + 1


def is_complete(record: Record) -> bool:
    """Item 205 = 1: the only result for which missing answers are flagged."""
    return bool(record["enumeration"]["result"] == "COMPLETE")


# Indonesia's three time zones by province code (same first digit in BPS and Kemendagri).
_WITA_PROVINCES = frozenset(
    {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
)


WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
WITA = dt.timezone(dt.timedelta(hours=8), "WITA")
WIT = dt.timezone(dt.timedelta(hours=9), "WIT")


def local_offset(province_code: str) -> dt.timezone:
    """WIB (UTC+7), WITA (UTC+8) or WIT (UTC+9) for a province code.

    Item 201, the interview date, is a local date: a Papuan interview finished
    at 08:30 WIT is dated the same day although it is still the previous day in UTC.
    """
    if province_code[:1] in {"8", "9"}:
        return WIT
    if province_code in _WITA_PROVINCES:
        return WITA
    return WIB


def interview_date(record: Record) -> dt.date:
    """Item 201: the local date the interview finished, the reference date for ages."""
    finished: dt.datetime = record["enumeration"]["finished_at"]
    return finished.astimezone(local_offset(record["location"]["province_code"])).date()


def completed_years(birth: dt.date, on: dt.date) -> int:
    """Age in completed years on a day (how item 407 is asked)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))

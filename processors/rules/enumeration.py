"""Blok II and the completeness of the form: interview times, result (item 205), notes.

Times are device clocks, so the rules allow the clock skew a tablet
plausibly has (five minutes) before calling an interview "in the future".
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
    hit,
    is_complete,
    make_rule,
    present_members,
)
from processors.rules.labels import label

#: Tolerated device clock skew before an interview counts as in the future.
CLOCK_SKEW = dt.timedelta(minutes=5)
#: Results that mean nobody was interviewed (item 205 codes 3, 4, 5).
NO_INTERVIEW = frozenset({"NO_RESPONDENT", "REFUSED", "MOVED_OR_BUILDING_GONE"})


def _stamp(instant: dt.datetime) -> str:
    return instant.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _interview_times(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    started, finished = enumeration["started_at"], enumeration["finished_at"]
    if finished < started:
        yield hit("enumeration.finished_at", started=_stamp(started), finished=_stamp(finished))


def _outside_fieldwork(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    window = {"start": _stamp(ctx.fieldwork_start), "end": _stamp(ctx.fieldwork_end)}
    for name in ("started_at", "finished_at"):
        instant: dt.datetime = enumeration[name]
        if not ctx.fieldwork_start <= instant <= ctx.fieldwork_end:
            yield hit(f"enumeration.{name}", at=_stamp(instant), **window)
            return


def _in_future(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    for name in ("finished_at", "started_at"):
        instant: dt.datetime = enumeration[name]
        if instant > ctx.now + CLOCK_SKEW:
            yield hit(f"enumeration.{name}", at=_stamp(instant))
            return


def _too_short(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    seconds = (enumeration["finished_at"] - enumeration["started_at"]).total_seconds()
    if is_complete(record) and 0 <= seconds < ctx.min_interview_seconds:
        yield hit(
            "enumeration.finished_at", seconds=int(seconds), minimum=ctx.min_interview_seconds
        )


INTERVIEW_TIMES = make_rule(
    "INTERVIEW_TIMES",
    Severity.ERROR,
    "201",
    "Waktu selesai wawancara ({finished}) lebih awal daripada waktu mulai ({started}).",
    "The interview finished ({finished}) before it started ({started}).",
    detect=_interview_times,
    rationale="Impossible times make the interview date, duration and ingest lag meaningless.",
)
INTERVIEW_OUTSIDE_FIELDWORK = make_rule(
    "INTERVIEW_OUTSIDE_FIELDWORK",
    Severity.ERROR,
    "201",
    "Waktu wawancara ({at}) di luar masa pendataan {start} s.d. {end}.",
    "Interview time ({at}) is outside the fieldwork period {start} to {end}.",
    detect=_outside_fieldwork,
    rationale="Data from before or after fieldwork is training, testing or a wrong device clock.",
)
INTERVIEW_IN_FUTURE = make_rule(
    "INTERVIEW_IN_FUTURE",
    Severity.ERROR,
    "201",
    "Waktu wawancara ({at}) berada di masa depan; periksa jam dan tanggal pada tablet.",
    "Interview time ({at}) is in the future; check the tablet's clock and date.",
    detect=_in_future,
    rationale=(
        "A device clock ahead by more than 5 minutes falsifies dates, ages and progress by day."
    ),
)
INTERVIEW_TOO_SHORT = make_rule(
    "INTERVIEW_TOO_SHORT",
    Severity.WARNING,
    "201",
    "Wawancara terisi lengkap hanya berlangsung {seconds} detik (minimal {minimum} detik).",
    "A complete interview lasted only {seconds} s (minimum {minimum} s).",
    detect=_too_short,
    rationale="Short interviews hint at fabrication but also happen for one-person families.",
)


def _not_complete_with_members(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    result = record["enumeration"]["result"]
    if result in NO_INTERVIEW and present_members(record):
        yield hit("members", result=result, result_id=label("InterviewResult", result))


def _notes_required(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    enumeration = record["enumeration"]
    if not is_complete(record) and not (enumeration.get("notes") or "").strip():
        result = enumeration["result"]
        yield hit("enumeration.notes", result=result, result_id=label("InterviewResult", result))


def _members_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if is_complete(record) and not present_members(record):
        yield hit("members")


def _housing_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if is_complete(record) and record.get("housing") is None:
        yield hit("housing")


RESULT_NOT_COMPLETE_WITH_MEMBERS = make_rule(
    "RESULT_NOT_COMPLETE_WITH_MEMBERS",
    Severity.ERROR,
    "205",
    "Hasil pendataan keluarga (Rincian 205) = {result_id}, tetapi ada anggota keluarga yang "
    "tinggal bersama keluarga (Rincian 404 = 1 atau 5).",
    "Interview result is {result} (item 205), but members living in the family "
    "(item 404 = 1 or 5) are filled in.",
    detect=_not_complete_with_members,
    rationale=(
        "Nobody answered, so member details cannot be real; INCOMPLETE may carry partial "
        "members, and a prelisted roster marked moved/died/not found is allowed."
    ),
)
NOTES_REQUIRED = make_rule(
    "NOTES_REQUIRED",
    Severity.WARNING,
    "205, VI",
    "Hasil pendataan keluarga (Rincian 205) = {result_id} wajib disertai catatan (Blok VI).",
    "Interview result {result} (item 205) requires notes (Blok VI Catatan).",
    detect=_notes_required,
    rationale="The reason helps the revisit, but its absence does not make the result wrong.",
)
MEMBERS_MISSING = make_rule(
    "MEMBERS_MISSING",
    Severity.ERROR,
    "205, 401-404",
    "Hasil pendataan terisi lengkap, tetapi tidak ada anggota keluarga yang tinggal bersama "
    "keluarga (Blok IV).",
    "Interview result is COMPLETE but no member lives in the family (Blok IV).",
    detect=_members_missing,
    rationale="A complete family interview without members contradicts itself.",
)
HOUSING_MISSING = make_rule(
    "HOUSING_MISSING",
    Severity.ERROR,
    "205, III",
    "Hasil pendataan terisi lengkap, tetapi keterangan perumahan (Blok III) kosong.",
    "Interview result is COMPLETE but housing (Blok III) is missing.",
    detect=_housing_missing,
    rationale="A complete interview always passes Blok III; its absence means a broken app.",
)

RULES: tuple[Rule, ...] = (
    INTERVIEW_TIMES,
    INTERVIEW_OUTSIDE_FIELDWORK,
    INTERVIEW_IN_FUTURE,
    INTERVIEW_TOO_SHORT,
    RESULT_NOT_COMPLETE_WITH_MEMBERS,
    NOTES_REQUIRED,
    MEMBERS_MISSING,
    HOUSING_MISSING,
)

"""Item 403, the NIK: its layout, and agreement with the member and other families.

A malformed NIK, a province that does not exist or digits 7-12 that are no
date cannot be a real NIK: ERROR. Everything else a NIK says is a fact *at
first issue* and may legitimately differ today, so disagreements only warn:

* ``NIK_REGION_UNKNOWN``: the district of issue may have been split since
  (its code then no longer exists in today's master);
* ``NIK_BIRTHDATE_MISMATCH`` / ``NIK_SEX_MISMATCH``: Dukcapil corrections and
  registration errors are common, and the form records what the family says;
* ``NIK_DUPLICATE_HOUSEHOLD``: a person who moved to another family between
  two family-card updates appears on both cards; analysts resolve which
  family keeps them, and rejecting either household would lose it from the
  count.

The same NIK twice in *one* family, however, is always a keying error.
NIK rules skip members without a NIK (children without an id, unknown).

Which NIKs count as "already recorded" is the context's :class:`NikIndex`. The
worker's (``streams/worker/nik_index.py``) answers from ClickHouse (every
worker's accepted households, across restarts; asked once per batch), from the
households accepted earlier in the same batch, and from its own recent batches;
so the first household with a NIK is accepted clean and every later one is
flagged, however the submissions were partitioned or batched.
"""

from __future__ import annotations

from collections.abc import Iterator

from processors import nik as nik_layout
from processors.rules.base import (
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    hit,
    interview_date,
    make_rule,
    member_path,
    members_of,
    number_of,
)
from processors.rules.labels import label
from schemas.regions import Level

#: How many other households a duplicate-NIK message names at most.
SHOWN_HOUSEHOLDS = 3


def _with_nik(record: Record) -> Iterator[tuple[int, Record, str]]:
    for index, member in enumerate(members_of(record)):
        value = member.get("nik")
        if value is not None:
            yield index, member, value


def _well_formed(record: Record) -> Iterator[tuple[int, Record, nik_layout.NikParts]]:
    for index, member, value in _with_nik(record):
        parts = nik_layout.split_nik(value)
        if parts is not None:
            yield index, member, parts


def _nik_format(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, value in _with_nik(record):
        if not nik_layout.is_well_formed(value):
            yield hit(member_path(index, "nik"), member=number_of(member, index))


def _nik_region(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, parts in _well_formed(record):
        province = ctx.regions.get(parts.province_code)
        if province is None or province.level is not Level.PROVINCE:
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                province=parts.province_code,
            )


def _nik_region_unknown(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, parts in _well_formed(record):
        if ctx.regions.get(parts.province_code) is None:
            continue  # NIK_REGION already rejects it
        if ctx.regions.get(parts.district_code) is None:
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                district=parts.district_code,
            )


NIK_FORMAT = make_rule(
    "NIK_FORMAT",
    Severity.ERROR,
    "403",
    "NIK anggota nomor {member} (Rincian 403) harus terdiri atas 16 angka.",
    "NIK of member {member} (item 403) must be 16 digits.",
    detect=_nik_format,
    rationale="The form's hard format check (S4); such a value cannot be matched to any register.",
)
NIK_REGION = make_rule(
    "NIK_REGION",
    Severity.ERROR,
    "403",
    "Dua digit pertama NIK anggota nomor {member} ('{province}') bukan kode provinsi.",
    "The first two digits of member {member}'s NIK ('{province}') are not a province code.",
    detect=_nik_region,
    rationale=(
        "Provinces are never abolished, so an unknown province means an invented or mistyped NIK."
    ),
)
NIK_REGION_UNKNOWN = make_rule(
    "NIK_REGION_UNKNOWN",
    Severity.WARNING,
    "403",
    "Kode kecamatan pada NIK anggota nomor {member} ({district}) tidak terdapat dalam master "
    "wilayah saat ini; mungkin kecamatan lama yang sudah dimekarkan.",
    "District {district} of member {member}'s NIK is not in today's region master; possibly "
    "a district split since the NIK was issued.",
    detect=_nik_region_unknown,
    rationale="A NIK keeps the district of first issue, which may have been split since.",
)


def _dated(record: Record) -> Iterator[tuple[int, Record, nik_layout.NikParts]]:
    """Members whose NIK encodes a valid birth date."""
    today = interview_date(record)
    for index, member, parts in _well_formed(record):
        if nik_layout.birth_date(parts, today) is not None:
            yield index, member, parts


def _nik_date(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    today = interview_date(record)
    for index, member, parts in _well_formed(record):
        if nik_layout.birth_date(parts, today) is None:
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                digits=parts.date_digits,
            )


def _nik_birth_date(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, parts in _dated(record):
        birth = member.get("birth_date")
        if birth is not None and not nik_layout.same_birth_date(parts, birth):
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                nik_date=f"{parts.birth_day:02d}-{parts.month:02d}-{parts.year_2:02d}",
                birth=birth.strftime("%d-%m-%y"),
            )


def _nik_sex(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, parts in _dated(record):
        sex = member.get("sex")
        if sex is not None and sex != parts.sex:
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                nik_sex=parts.sex,
                nik_sex_id=label("Sex", parts.sex),
                sex=sex,
                sex_id=label("Sex", sex),
            )


NIK_DATE = make_rule(
    "NIK_DATE",
    Severity.ERROR,
    "403",
    "Digit 7-12 NIK anggota nomor {member} ('{digits}') bukan tanggal lahir yang sah "
    "(DDMMYY, tanggal ditambah 40 untuk perempuan).",
    "Digits 7-12 of member {member}'s NIK ('{digits}') are not a valid birth date "
    "(DDMMYY, day plus 40 for women).",
    detect=_nik_date,
    rationale="Dukcapil never issues such a NIK; it is mistyped or invented.",
)
NIK_BIRTHDATE_MISMATCH = make_rule(
    "NIK_BIRTHDATE_MISMATCH",
    Severity.WARNING,
    "403, 406",
    "Tanggal lahir pada NIK anggota nomor {member} ({nik_date}) berbeda dengan tanggal lahir "
    "pada Rincian 406 ({birth}).",
    "The birth date in member {member}'s NIK ({nik_date}) differs from item 406 ({birth}).",
    detect=_nik_birth_date,
    rationale="A NIK keeps the date registered at first issue; corrections and registration errors "
    "are common.",
)
NIK_SEX_MISMATCH = make_rule(
    "NIK_SEX_MISMATCH",
    Severity.WARNING,
    "403, 405",
    "Jenis kelamin menurut NIK anggota nomor {member} ({nik_sex_id}) berbeda dengan "
    "Rincian 405 ({sex_id}).",
    "Sex implied by member {member}'s NIK ({nik_sex}) differs from item 405 ({sex}).",
    detect=_nik_sex,
    rationale=(
        "Susenas runs the same check (R506/R509) as a flag; the NIK may carry a registration error."
    ),
)


def _duplicate_member(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    first: dict[str, tuple[int, Record]] = {}
    for index, member, value in _with_nik(record):
        if value in first:
            other_index, other = first[value]
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                other=number_of(other, other_index),
            )
        else:
            first[value] = (index, member)


def _duplicate_household(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if ctx.seen_niks is None:
        return
    household = record["household_id"]
    for index, member, value in _with_nik(record):
        if not nik_layout.is_well_formed(value):
            continue
        others = sorted(ctx.seen_niks.households_of(value) - {household})
        if others:
            shown = ", ".join(others[:SHOWN_HOUSEHOLDS])
            more = f" (+{len(others) - SHOWN_HOUSEHOLDS})" if len(others) > SHOWN_HOUSEHOLDS else ""
            yield hit(
                member_path(index, "nik"),
                member=number_of(member, index),
                households=shown + more,
            )


NIK_DUPLICATE_MEMBER = make_rule(
    "NIK_DUPLICATE_MEMBER",
    Severity.ERROR,
    "403",
    "NIK anggota nomor {member} sama dengan NIK anggota nomor {other} dalam keluarga ini.",
    "NIK of member {member} is the same as member {other}'s in this family.",
    detect=_duplicate_member,
    rationale="Two people of one family never share a NIK; a copied value would mislink both.",
)
NIK_DUPLICATE_HOUSEHOLD = make_rule(
    "NIK_DUPLICATE_HOUSEHOLD",
    Severity.WARNING,
    "403",
    "NIK anggota nomor {member} sudah tercatat pada keluarga lain ({households}).",
    "NIK of member {member} is already recorded in another family ({households}).",
    detect=_duplicate_household,
    rationale="People move between families between family-card updates; analysts decide which "
    "family keeps them, and rejecting would drop a real household from the count. Seen across "
    "workers and restarts: the worker asks ClickHouse (`nik_households`) once per batch, "
    "time-boxed; when it does not answer in time the batch is checked against the worker's "
    "memory only.",
)

RULES: tuple[Rule, ...] = (
    NIK_FORMAT,
    NIK_REGION,
    NIK_REGION_UNKNOWN,
    NIK_DATE,
    NIK_BIRTHDATE_MISMATCH,
    NIK_SEX_MISMATCH,
    NIK_DUPLICATE_MEMBER,
    NIK_DUPLICATE_HOUSEHOLD,
)

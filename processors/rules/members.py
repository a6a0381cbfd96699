"""Blok IV structure: line numbers, item 112, the head and spouse, items 405+ by presence.

Only members living in the family (item 404 = 1 or 5, "present") are asked
items 405-431, so every rule about sex, age or relationship looks at present
members only; the others may stay on the form from the prelisted family card.
"""

from __future__ import annotations

from collections.abc import Iterator

from processors.rules.base import (
    PRESENT,
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    hit,
    is_complete,
    make_rule,
    member_path,
    members_of,
    number_of,
    present_members,
)
from processors.rules.labels import label

#: Items 405-431 in the schema, with the item each one is (for messages).
DETAIL_ITEMS: tuple[tuple[str, str], ...] = (
    ("sex", "405"),
    ("birth_date", "406"),
    ("age", "407"),
    ("marital_status", "408"),
    ("relationship", "409"),
    ("school_participation", "412"),
    ("education_level", "413"),
    ("worked_last_week", "416a"),
    ("main_industry", "417"),
    ("employment_status", "418"),
    ("disability", "428"),
    ("chronic_illness", "430"),
    ("health_insurance", "431a"),
)
#: Items a present member cannot do without: (field, Indonesian, English).
REQUIRED_ITEMS: tuple[tuple[str, str, str], ...] = (
    ("sex", "jenis kelamin (Rincian 405)", "sex (item 405)"),
    ("age", "umur (Rincian 407)", "age (item 407)"),
    ("relationship", "hubungan dengan kepala keluarga (Rincian 409)", "relationship (item 409)"),
)


def _member_numbers(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    seen: set[object] = set()
    for index, member in enumerate(members_of(record)):
        number = member.get("member_number")
        if number in seen or not isinstance(number, int) or not 1 <= number <= 99:
            yield hit(member_path(index, "member_number"), number=number)
        seen.add(number)


def _member_count(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    stated = record.get("member_count")
    counted = len(present_members(record))
    if stated is not None and stated != counted:
        yield hit("member_count", stated=stated, counted=counted)


MEMBER_NUMBERS = make_rule(
    "MEMBER_NUMBERS",
    Severity.ERROR,
    "401",
    "Nomor urut anggota keluarga {number} (Rincian 401) ganda atau di luar 1-99.",
    "Member line number {number} (item 401) is repeated or outside 1-99.",
    detect=_member_numbers,
    rationale="Line numbers identify members in corrections and in the members table.",
)
MEMBER_COUNT_MISMATCH = make_rule(
    "MEMBER_COUNT_MISMATCH",
    Severity.ERROR,
    "112",
    "Jumlah anggota keluarga (Rincian 112) = {stated}, tetapi anggota keluarga dengan "
    "Rincian 404 = 1 atau 5 ada {counted} orang.",
    "Number of members (item 112) is {stated}, but {counted} members have item 404 = 1 or 5.",
    detect=_member_count,
    rationale=(
        "The form's own hard check (S4); one of the two is wrong and household size depends on it."
    ),
)


def _relationship(record: Record, relationship: str) -> list[tuple[int, Record]]:
    return [(i, m) for i, m in present_members(record) if m.get("relationship") == relationship]


def _head_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    present = present_members(record)
    if is_complete(record) and present and not _relationship(record, "HEAD"):
        yield hit("members")


def _extra(record: Record, relationship: str) -> Iterator[Hit]:
    """Every member after the first with this relationship."""
    for index, member in _relationship(record, relationship)[1:]:
        yield hit(member_path(index, "relationship"), member=number_of(member, index))


def _head_multiple(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    return _extra(record, "HEAD")


def _spouse_multiple(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    return _extra(record, "SPOUSE")


def _spouse_not_married(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in _relationship(record, "SPOUSE"):
        status = member.get("marital_status")
        if status is not None and status != "MARRIED":
            yield hit(
                member_path(index, "marital_status"),
                member=number_of(member, index),
                status=status,
                status_id=label("MaritalStatus", status),
            )


HEAD_MISSING = make_rule(
    "HEAD_MISSING",
    Severity.ERROR,
    "409",
    "Tidak ada anggota keluarga yang berstatus kepala keluarga (Rincian 409 = 1).",
    "No member living in the family is its head (item 409 = 1).",
    detect=_head_missing,
    rationale=(
        "Every family card has a head; relationships are meaningless without one. Checked only "
        "for COMPLETE results, since a partial interview may stop before the head is listed."
    ),
)
HEAD_MULTIPLE = make_rule(
    "HEAD_MULTIPLE",
    Severity.ERROR,
    "409",
    "Anggota nomor {member} adalah kepala keluarga kedua; hanya boleh ada satu kepala "
    "keluarga (Rincian 409).",
    "Member {member} is a second head of the family; only one head is allowed (item 409).",
    detect=_head_multiple,
    rationale="One form is one family card, which has exactly one head (S4).",
)
SPOUSE_MULTIPLE = make_rule(
    "SPOUSE_MULTIPLE",
    Severity.WARNING,
    "409",
    "Anggota nomor {member} adalah istri/suami kedua (Rincian 409 = 2); pastikan keluarga "
    "berpoligami, bukan salah isi.",
    "Member {member} is a second spouse (item 409 = 2); confirm a polygamous family rather "
    "than a coding error.",
    detect=_spouse_multiple,
    rationale="S4 allows one spouse per form, but polygamous marriage is legal in Indonesia "
    "(UU 1/1974) and co-wives can share one family card: rejecting would drop real "
    "families, so the supervisor confirms instead.",
)
SPOUSE_NOT_MARRIED = make_rule(
    "SPOUSE_NOT_MARRIED",
    Severity.WARNING,
    "408-409",
    "Anggota nomor {member} berstatus istri/suami kepala keluarga, tetapi status "
    "perkawinannya (Rincian 408) = {status_id}.",
    "Member {member} is the head's spouse but their marital status (item 408) is {status}.",
    detect=_spouse_not_married,
    rationale=(
        "Usually a wrong code, but a recently widowed or divorced spouse may still be on the card."
    ),
)


def _present_items_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in present_members(record):
        for name, item_id, item_en in REQUIRED_ITEMS:
            if member.get(name) is None:
                yield hit(
                    member_path(index, name),
                    member=number_of(member, index),
                    item_id=item_id,
                    item_en=item_en,
                )


def _absent_items(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in enumerate(members_of(record)):
        presence = member.get("presence")
        if presence in PRESENT:
            continue
        filled = next(((n, i) for n, i in DETAIL_ITEMS if member.get(n) is not None), None)
        if filled is not None:
            yield hit(
                member_path(index, filled[0]),
                member=number_of(member, index),
                presence=presence,
                presence_id=label("MemberPresence", presence),
                field=filled[0],
                item=filled[1],
            )


PRESENT_MEMBER_ITEMS_MISSING = make_rule(
    "PRESENT_MEMBER_ITEMS_MISSING",
    Severity.ERROR,
    "405-409",
    "Anggota nomor {member} tinggal bersama keluarga, tetapi {item_id} belum diisi.",
    "Member {member} lives in the family but {item_en} is missing.",
    detect=_present_items_missing,
    rationale="Without sex, age and relationship a member cannot be tabulated or checked at all.",
)
ABSENT_MEMBER_ITEMS = make_rule(
    "ABSENT_MEMBER_ITEMS",
    Severity.WARNING,
    "404-431",
    "Anggota nomor {member} berketerangan {presence_id} (Rincian 404), sehingga Rincian 405 "
    "dan seterusnya seharusnya kosong, tetapi Rincian {item} terisi.",
    "Member {member} has presence {presence} (item 404), so items 405 onwards should be "
    "empty, but item {item} ({field}) is filled.",
    detect=_absent_items,
    rationale="The extra answers are ignored by every count (which use present members only).",
)

RULES: tuple[Rule, ...] = (
    MEMBER_NUMBERS,
    MEMBER_COUNT_MISMATCH,
    HEAD_MISSING,
    HEAD_MULTIPLE,
    SPOUSE_MULTIPLE,
    SPOUSE_NOT_MARRIED,
    PRESENT_MEMBER_ITEMS_MISSING,
    ABSENT_MEMBER_ITEMS,
)

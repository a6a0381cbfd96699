"""Blok IV routing per member: age gates (412-428) and the skips inside education and work.

Severity follows one principle across the skip rules (here and in
:mod:`processors.rules.housing`):

* **ERROR** when a filled answer *contradicts* the answer that routes to it,
  so that one of the two must be false and neither can be used: an education
  level for someone who never attended school, an industry for someone who
  did not work.
* **WARNING** when an answer is merely missing where the route asks for it,
  or filled where the route skips it without contradicting anything (a
  four-year-old in kindergarten reported as "still in school"; such answers
  are outside every tabulation's age filter anyway).

Missing answers are flagged only for COMPLETE results: an INCOMPLETE
interview is incomplete by definition. The gates use the stated age (item
407), the item the form's routing is based on. Item 420a (owns a business),
which employment status 418 = 1-3 implies, is not in the schema, so that S4
check is not made.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from processors.rules.base import (
    Hit,
    Record,
    Rule,
    RuleContext,
    Severity,
    hit,
    is_complete,
    make_rule,
    member_path,
    number_of,
    present_members,
)
from processors.rules.labels import label


@dataclass(frozen=True, slots=True)
class Gate:
    """A member item asked only from a minimum age on."""

    path: tuple[str, ...]
    minimum: int
    item: str
    name_id: str
    name_en: str
    always_asked: bool = True

    def value(self, member: Record) -> Any:
        node: Any = member
        for part in self.path:
            node = node.get(part) if node is not None else None
        return node


GATES: tuple[Gate, ...] = (
    Gate(("school_participation",), 5, "412", "partisipasi sekolah", "school participation"),
    Gate(("education_level",), 5, "413", "jenjang pendidikan", "education level", False),
    Gate(("worked_last_week",), 5, "416a", "bekerja seminggu yang lalu", "worked last week"),
    Gate(("main_industry",), 5, "417", "lapangan usaha", "industry", False),
    Gate(("employment_status",), 5, "418", "status pekerjaan", "employment status", False),
    Gate(("disability", "seeing"), 2, "428a", "kesulitan melihat", "difficulty seeing"),
    Gate(("disability", "hearing"), 2, "428b", "kesulitan mendengar", "difficulty hearing"),
    Gate(("disability", "walking"), 2, "428c", "kesulitan berjalan", "difficulty walking"),
    Gate(
        ("disability", "hands_fingers"),
        2,
        "428d",
        "kesulitan menggunakan tangan/jari",
        "difficulty using hands/fingers",
    ),
    Gate(("disability", "learning"), 2, "428e", "kesulitan belajar", "difficulty learning"),
    Gate(
        ("disability", "behaviour"),
        2,
        "428f",
        "kesulitan mengendalikan perilaku",
        "difficulty controlling behaviour",
    ),
    Gate(
        ("disability", "communicating"),
        5,
        "428g",
        "kesulitan berbicara/berkomunikasi",
        "difficulty communicating",
    ),
    Gate(("disability", "self_care"), 5, "428h", "kesulitan mengurus diri", "difficulty self-care"),
    Gate(
        ("disability", "remembering"),
        5,
        "428i",
        "kesulitan mengingat/berkonsentrasi",
        "difficulty remembering",
    ),
)

DISABILITY_BLOCK = Gate(("disability",), 2, "428a-i", "kesulitan fungsional", "difficulties")


def _aged(record: Record) -> Iterator[tuple[int, Record, int]]:
    for index, member in present_members(record):
        age = member.get("age")
        if isinstance(age, int):
            yield index, member, age


def _gate_hit(index: int, member: Record, age: int, gate: Gate) -> Hit:
    return hit(
        member_path(index, ".".join(gate.path)),
        member=number_of(member, index),
        age=age,
        item=gate.item,
        item_id=gate.name_id,
        item_en=gate.name_en,
        minimum=gate.minimum,
    )


def _age_gated(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member, age in _aged(record):
        for gate in GATES:
            if age < gate.minimum and gate.value(member) is not None:
                yield _gate_hit(index, member, age, gate)


def _age_gated_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if not is_complete(record):
        return
    for index, member, age in _aged(record):
        block_reported = False
        for gate in GATES:
            if not gate.always_asked or age < gate.minimum or gate.value(member) is not None:
                continue
            if member.get(gate.path[0]) is None and len(gate.path) > 1:
                # the whole 428 block is missing: one finding, not nine
                if not block_reported:
                    yield _gate_hit(index, member, age, DISABILITY_BLOCK)
                block_reported = True
                continue
            yield _gate_hit(index, member, age, gate)


AGE_GATED_ITEM = make_rule(
    "AGE_GATED_ITEM",
    Severity.WARNING,
    "412-428",
    "Anggota nomor {member} berumur {age} tahun, sedangkan Rincian {item} ({item_id}) hanya "
    "ditanyakan kepada yang berumur {minimum} tahun ke atas.",
    "Member {member} is aged {age}, but item {item} ({item_en}) is asked only at age "
    "{minimum} and over.",
    detect=_age_gated,
    rationale=(
        "Either the age is off or an answer was keyed for the wrong member; tabulations filter "
        "by age, so the answer does no harm meanwhile."
    ),
)
AGE_GATED_ITEM_MISSING = make_rule(
    "AGE_GATED_ITEM_MISSING",
    Severity.WARNING,
    "412-428",
    "Anggota nomor {member} berumur {age} tahun, tetapi Rincian {item} ({item_id}) belum diisi.",
    "Member {member} is aged {age} but item {item} ({item_en}) is missing.",
    detect=_age_gated_missing,
    rationale="A gap to fill in a callback; the rest of the record is usable.",
)


def _education_unexpected(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    for index, member in present_members(record):
        never = member.get("school_participation") == "NEVER_ATTENDED"
        if never and member.get("education_level") is not None:
            yield hit(member_path(index, "education_level"), member=number_of(member, index))


def _education_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    if not is_complete(record):
        return
    for index, member in present_members(record):
        participation = member.get("school_participation")
        attended = participation in {"STILL_IN_SCHOOL", "NO_LONGER_IN_SCHOOL"}
        if attended and member.get("education_level") is None:
            yield hit(
                member_path(index, "education_level"),
                member=number_of(member, index),
                participation=participation,
                participation_id=label("SchoolParticipation", participation),
            )


EDUCATION_LEVEL_UNEXPECTED = make_rule(
    "EDUCATION_LEVEL_UNEXPECTED",
    Severity.ERROR,
    "412-413",
    "Anggota nomor {member} tidak/belum pernah sekolah (Rincian 412 = 1), tetapi jenjang "
    "pendidikan (Rincian 413) terisi.",
    "Member {member} never attended school (item 412 = 1) but has an education level (item 413).",
    detect=_education_unexpected,
    rationale="The two answers contradict each other; education tabulations cannot use either.",
)
EDUCATION_LEVEL_MISSING = make_rule(
    "EDUCATION_LEVEL_MISSING",
    Severity.WARNING,
    "412-413",
    "Partisipasi sekolah anggota nomor {member} (Rincian 412) = {participation_id}, tetapi "
    "jenjang pendidikan (Rincian 413) kosong.",
    "Member {member} has school participation {participation} (item 412) but no education "
    "level (item 413).",
    detect=_education_missing,
    rationale="A gap to fill in a callback.",
)

#: Items asked when 416a (worked last week) is yes: (field, item, Indonesian, English).
WORK_ITEMS: tuple[tuple[str, str, str, str], ...] = (
    ("main_industry", "417", "lapangan usaha", "industry"),
    ("employment_status", "418", "status pekerjaan", "employment status"),
)


def _work_items(record: Record, worked: bool) -> Iterator[Hit]:
    for index, member in present_members(record):
        if member.get("worked_last_week") is not worked:
            continue
        for name, item, name_id, name_en in WORK_ITEMS:
            if (member.get(name) is None) is worked:
                yield hit(
                    member_path(index, name),
                    member=number_of(member, index),
                    item=item,
                    item_id=name_id,
                    item_en=name_en,
                )


def _work_unexpected(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    return _work_items(record, worked=False)


def _work_missing(record: Record, ctx: RuleContext) -> Iterator[Hit]:
    return _work_items(record, worked=True) if is_complete(record) else iter(())


WORK_ITEMS_UNEXPECTED = make_rule(
    "WORK_ITEMS_UNEXPECTED",
    Severity.ERROR,
    "416a-418",
    "Anggota nomor {member} tidak bekerja seminggu yang lalu (Rincian 416a = 2), tetapi "
    "Rincian {item} ({item_id}) terisi.",
    "Member {member} did not work last week (item 416a = 2) but item {item} ({item_en}) is filled.",
    detect=_work_unexpected,
    rationale="The answers contradict each other; labour tabulations cannot use either.",
)
WORK_ITEMS_MISSING = make_rule(
    "WORK_ITEMS_MISSING",
    Severity.WARNING,
    "416a-418",
    "Anggota nomor {member} bekerja seminggu yang lalu (Rincian 416a = 1), tetapi Rincian "
    "{item} ({item_id}) kosong.",
    "Member {member} worked last week (item 416a = 1) but item {item} ({item_en}) is missing.",
    detect=_work_missing,
    rationale="A gap to fill in a callback.",
)

RULES: tuple[Rule, ...] = (
    AGE_GATED_ITEM,
    AGE_GATED_ITEM_MISSING,
    EDUCATION_LEVEL_UNEXPECTED,
    EDUCATION_LEVEL_MISSING,
    WORK_ITEMS_UNEXPECTED,
    WORK_ITEMS_MISSING,
)

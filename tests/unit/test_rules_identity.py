"""NIK rules (item 403): layout errors reject, disagreements with the form warn."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from processors.rules import InMemoryNikIndex, RuleContext, Severity, validate
from tests import builders as b
from tests.rule_helpers import found

Trigger = Callable[[dict[str, Any], RuleContext], RuleContext]
HEAD_NIK = "3509021205800001"  # Slamet Riyadi, man born 12-05-1980, issued in Kencong


def _head_nik(nik: str) -> Trigger:
    def mutate(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
        record["members"][0]["nik"] = nik
        return ctx

    return mutate


def _copied(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    record["members"][3]["nik"] = record["members"][2]["nik"]
    return ctx


def _seen_elsewhere(record: dict[str, Any], ctx: RuleContext) -> RuleContext:
    index = InMemoryNikIndex()
    index.add(HEAD_NIK, "3509010001-0005-020-01")
    return dataclasses.replace(ctx, seen_niks=index)


TRIGGERS: dict[str, tuple[Severity, str, Trigger]] = {
    "NIK_FORMAT": (Severity.ERROR, "members[0].nik", _head_nik("35090212058000")),
    "NIK_REGION": (Severity.ERROR, "members[0].nik", _head_nik("0009021205800001")),
    "NIK_REGION_UNKNOWN": (Severity.WARNING, "members[0].nik", _head_nik("3509991205800001")),
    "NIK_DATE": (Severity.ERROR, "members[0].nik", _head_nik("3509023205800001")),
    "NIK_BIRTHDATE_MISMATCH": (Severity.WARNING, "members[0].nik", _head_nik("3509021305800001")),
    "NIK_SEX_MISMATCH": (Severity.WARNING, "members[0].nik", _head_nik("3509025205800001")),
    "NIK_DUPLICATE_MEMBER": (Severity.ERROR, "members[3].nik", _copied),
    "NIK_DUPLICATE_HOUSEHOLD": (Severity.WARNING, "members[0].nik", _seen_elsewhere),
}


@pytest.mark.parametrize("code", sorted(TRIGGERS))
def test_each_rule_triggers(code: str, ctx: RuleContext) -> None:
    severity, path, trigger = TRIGGERS[code]
    record = b.kemendagri_submission()
    hits = found(code, record, trigger(record, ctx))
    assert hits, f"{code} did not trigger"
    assert {(f.severity, f.field_path) for f in hits} == {(severity, path)}


def test_builder_niks_are_consistent(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    assert record["members"][0]["nik"] == HEAD_NIK
    assert validate(record, ctx) == []


def test_a_womans_nik(ctx: RuleContext) -> None:
    """3509024512800001: issued in 35.09.02, a woman born 05-12-1980."""
    record = b.kemendagri_submission()
    record["members"][1] |= {"nik": "3509024512800001", "birth_date": dt.date(1980, 12, 5)}
    record["members"][1]["age"] = 41
    assert validate(record, ctx) == []
    record["members"][1]["sex"] = "MALE"
    (finding,) = found("NIK_SEX_MISMATCH", record, ctx)
    assert "(2. Perempuan) berbeda dengan Rincian 405 (1. Laki-laki)" in finding.message_id


def test_unknown_province_is_not_also_an_unknown_district(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["nik"] = "0009021205800001"
    codes = [f.code for f in validate(record, ctx)]
    assert codes == ["NIK_REGION"]


def test_a_split_district_only_warns(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["nik"] = "3509991205800001"
    (finding,) = found("NIK_REGION_UNKNOWN", record, ctx)
    assert "35.09.99" in finding.message_en


def test_impossible_date_skips_the_comparisons(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["nik"] = "3509023102800001"  # 31 February
    assert [f.code for f in validate(record, ctx)] == ["NIK_DATE"]


def test_malformed_nik_skips_every_other_nik_rule(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["nik"] = "35O9021205800001"  # letter O
    assert [f.code for f in validate(record, ctx)] == ["NIK_FORMAT"]


def test_members_without_nik_are_skipped(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    for member in record["members"]:
        member["nik"] = None
    index = InMemoryNikIndex()
    assert validate(record, dataclasses.replace(ctx, seen_niks=index)) == []


def test_birth_date_comparison_ignores_the_century(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["birth_date"] = dt.date(1880, 5, 12)  # same DDMMYY
    assert found("NIK_BIRTHDATE_MISMATCH", record, ctx) == []


def test_the_same_household_is_not_a_duplicate(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    index = InMemoryNikIndex()
    index.add(HEAD_NIK, record["household_id"])
    assert validate(record, dataclasses.replace(ctx, seen_niks=index)) == []


def test_duplicate_household_message_names_a_few_households(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    index = InMemoryNikIndex()
    for family in range(5):
        index.add(HEAD_NIK, f"3509010001-0005-02{family}-01")
    (finding,) = found("NIK_DUPLICATE_HOUSEHOLD", record, dataclasses.replace(ctx, seen_niks=index))
    assert finding.message_en.endswith(
        "(3509010001-0005-020-01, 3509010001-0005-021-01, 3509010001-0005-022-01 (+2))."
    )


def test_in_memory_index_returns_copies() -> None:
    index = InMemoryNikIndex()
    index.add(HEAD_NIK, "a")
    index.add(HEAD_NIK, "b")
    index.households_of(HEAD_NIK).clear()
    assert index.households_of(HEAD_NIK) == {"a", "b"}
    assert index.households_of("3509020000000000") == set()
    assert len(index) == 1

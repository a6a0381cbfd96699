"""The catalogue as a whole: codes, completeness, the valid family, crashes, docs and CLI."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from processors.rules import CATALOGUE, RULES_BY_CODE, RuleContext, Severity, catalogue, validate
from processors.rules.base import Rule
from processors.rules.labels import LABELS
from schemas.catalog import load_schema
from streams.cli import cli
from streams.cli.rules import render_markdown
from tests import builders as b
from tests.unit import (
    test_rules_ages,
    test_rules_enumeration,
    test_rules_housing,
    test_rules_identity,
    test_rules_items,
    test_rules_members,
    test_rules_region,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"
UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
TRIGGER_MODULES = (
    test_rules_region,
    test_rules_enumeration,
    test_rules_members,
    test_rules_ages,
    test_rules_identity,
    test_rules_items,
    test_rules_housing,
)


def test_codes_are_unique_and_upper_snake() -> None:
    codes = [rule.code for rule in CATALOGUE]
    assert len(codes) == len(set(codes))
    assert [code for code in codes if not UPPER_SNAKE.match(code)] == []
    assert set(RULES_BY_CODE) == set(codes)


def test_every_rule_is_documented_in_both_languages() -> None:
    for rule in CATALOGUE:
        assert rule.message_id and rule.message_en and rule.rationale, rule.code
        assert rule.message_id != rule.message_en, rule.code
        assert isinstance(rule.severity, Severity)


def test_every_rule_with_a_check_has_a_trigger_test() -> None:
    triggered = [code for module in TRIGGER_MODULES for code in module.TRIGGERS]
    assert len(triggered) == len(set(triggered))
    checked = {rule.code for rule in CATALOGUE if rule.check is not None}
    assert set(triggered) == checked


def test_codes_without_a_check_are_raised_outside_the_rules() -> None:
    unchecked = {rule.code for rule in CATALOGUE if rule.check is None}
    assert unchecked == {
        "DECODE_TRUNCATED",
        "DECODE_BAD_MAGIC_BYTE",
        "DECODE_UNKNOWN_SCHEMA_ID",
        "DECODE_SCHEMA_MISMATCH",
        "DECODE_AVRO_BODY_INVALID",
        "DECODE_UNDECODABLE",
        "RULE_CRASHED",
        "ENRICHED_RECORD_INVALID",
        "SUBMISSION_TOO_LARGE",
        "RECORD_PROCESSING_FAILED",
        "OUTPUT_TOO_LARGE",
        "INSERT_REFUSED",
        "SAME_REVISION_NEW_CONTENT",
        "HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT",
        "REVISION_JUMP",
        "REVIEW_COMMENT_MISSING",
        "REVIEW_UNKNOWN_HOUSEHOLD",
        "REVIEW_OUTSIDE_TEAM",
        "REVIEW_STALE_REVISION",
        "REVIEW_UNKNOWN_REVISION",
        "PARADATA_EVENT_INVALID",
    }


def test_the_bps_coded_builder_only_warns_that_its_village_is_unverifiable(
    ctx: RuleContext,
) -> None:
    findings = validate(b.household_submission(), ctx)
    assert [(f.code, f.severity, f.field_path) for f in findings] == [
        ("REGION_VILLAGE_UNVERIFIED", Severity.WARNING, "location.village_code")
    ]


def test_the_kemendagri_coded_builder_has_no_findings(ctx: RuleContext) -> None:
    assert validate(b.kemendagri_submission(), ctx) == []


def test_the_v1_builder_passes_too(ctx: RuleContext) -> None:
    record = b.household_submission_v1()
    record["location"] |= {"code_system": "BPS", "gps_accuracy_m": None}
    record["member_count"] = None
    record["assets"] |= {"motor_boat": None, "smartphone": None}
    assert [f.code for f in validate(record, ctx)] == ["REGION_VILLAGE_UNVERIFIED"]


def test_the_builders_interview_is_inside_the_fieldwork() -> None:
    assert b.FIELDWORK_START <= b.INTERVIEW_START < b.INTERVIEW_END <= b.FIELDWORK_END
    assert b.INTERVIEW_END < b.RULES_NOW


def test_a_crashing_rule_becomes_a_finding(
    ctx: RuleContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(record: Any, ctx: RuleContext) -> Iterator[Any]:
        yield from ()
        raise KeyError("housing")

    bad = Rule("BROKEN_RULE", Severity.WARNING, "rusak", "broken", None, broken)
    monkeypatch.setattr(catalogue, "_CHECKED", ((bad, broken), *catalogue._CHECKED))
    findings = validate(b.household_submission(), ctx)
    crashed = findings[0]
    assert (crashed.code, crashed.severity, crashed.field_path) == (
        "RULE_CRASHED",
        Severity.ERROR,
        None,
    )
    assert crashed.message_en == (
        "Rule BROKEN_RULE crashed (KeyError: 'housing'); report it to the processing team."
    )
    assert [f.code for f in findings[1:]] == ["REGION_VILLAGE_UNVERIFIED"]


def test_a_malformed_record_does_not_stop_validation(ctx: RuleContext) -> None:
    record = b.kemendagri_submission()
    record["members"][0]["age"] = "forty"  # not what the decoder would ever produce
    findings = validate(record, ctx)
    crashed = {f.message_en.split()[1] for f in findings if f.code == "RULE_CRASHED"}
    assert "AGE_RANGE" in crashed


def test_errors_and_warnings_split_the_findings(ctx: RuleContext) -> None:
    record = b.household_submission()
    record["member_count"] = 9
    findings = validate(record, ctx)
    assert [f.code for f in catalogue.errors(findings)] == ["MEMBER_COUNT_MISMATCH"]
    assert [f.code for f in catalogue.warnings(findings)] == ["REGION_VILLAGE_UNVERIFIED"]


@pytest.mark.parametrize("enum_name", sorted(LABELS))
def test_labels_match_the_schema_docs(enum_name: str) -> None:
    schema = json.dumps(load_schema("HouseholdSubmission"))
    enum = _find_enum(json.loads(schema), enum_name)
    for symbol, code in zip(enum["symbols"], enum["form_codes"], strict=True):
        label = LABELS[enum_name][symbol]
        number, text = label.split(". ", 1)
        assert int(number) == code
        assert f"{code}={symbol} ({text})" in enum["doc"], label


def _find_enum(node: Any, name: str) -> dict[str, Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("type") == "enum" and item.get("name") == name:
                return item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    raise AssertionError(f"no enum {name}")


def test_docs_rules_md_is_generated_from_the_catalogue() -> None:
    result = CliRunner().invoke(cli, ["rules", "--markdown"], catch_exceptions=False)
    assert result.exit_code == 0
    assert result.output == render_markdown()
    assert DOCS.read_text(encoding="utf-8") == result.output, (
        "docs/rules.md is stale: run `regsosek rules --markdown > docs/rules.md`"
    )


def test_docs_list_every_code() -> None:
    text = render_markdown()
    assert [rule.code for rule in CATALOGUE if f"`{rule.code}`" not in text] == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((), "is not in the region master"),
        (("--lang", "id"), "tidak terdapat dalam master wilayah"),
    ],
)
def test_cli_prints_the_catalogue(args: tuple[str, ...], expected: str) -> None:
    result = CliRunner().invoke(cli, ["rules", *args], catch_exceptions=False)
    assert result.exit_code == 0
    assert "REGION_UNKNOWN" in result.output and "DECODE_BAD_MAGIC_BYTE" in result.output
    assert expected in result.output

"""What the rule tests ask of ``validate``: the findings of one code, and no crashed rule."""

from __future__ import annotations

from typing import Any

from processors.rules import Finding, RuleContext, validate


def found(code: str, record: dict[str, Any], ctx: RuleContext) -> list[Finding]:
    """The findings with ``code``; fails the test if any rule crashed on the record."""
    findings = validate(record, ctx)
    assert not [f for f in findings if f.code == "RULE_CRASHED"], findings
    return [f for f in findings if f.code == code]

"""Every rule in one tuple, grouped by block, and :func:`validate` that runs them.

Codes are stable: dashboards, alert rules and analysts' queries group
rejections and warnings by them, so a code is never renamed or reused; a
rule that changes meaning gets a new code.
"""

from __future__ import annotations

from collections.abc import Mapping

from processors.rules import (
    ages,
    enumeration,
    housing,
    identity,
    items,
    members,
    region,
    reviews,
    system,
)
from processors.rules.base import Check, Finding, Record, Rule, RuleContext, validating

#: (title, rules) per block of the form, in the order the catalogue lists them.
BLOCKS: tuple[tuple[str, tuple[Rule, ...]], ...] = (
    ("Blok I-II: location, assignment, GPS", region.RULES),
    ("Blok II: interview times and result", enumeration.RULES),
    ("Blok IV: members, head and spouse", members.RULES),
    ("Blok IV: ages and generations", ages.RULES),
    ("Blok IV: NIK", identity.RULES),
    ("Blok IV: age gates and skips", items.RULES),
    ("Blok III and V: housing and assets", housing.RULES),
    ("Decoding and the pipeline", system.RULES),
    ("Supervisor review decisions", reviews.RULES),
)

CATALOGUE: tuple[Rule, ...] = tuple(rule for _title, rules in BLOCKS for rule in rules)
RULES_BY_CODE: Mapping[str, Rule] = {rule.code: rule for rule in CATALOGUE}
_CHECKED: tuple[tuple[Rule, Check], ...] = tuple(
    (rule, rule.check) for rule in CATALOGUE if rule.check is not None
)

#: Characters of an exception's text kept in a RULE_CRASHED message.
CRASH_DETAIL_CHARS = 200


def validate(record: Record, ctx: RuleContext) -> list[Finding]:
    """Every finding of every rule, in catalogue order.

    A rule that raises is a bug in the rule, not in the record: it becomes a
    RULE_CRASHED finding (an ERROR, so unchecked data is never accepted) and
    the other rules still run, so one bad rule never stops the worker.
    """
    findings: list[Finding] = []
    with validating():
        for rule, check in _CHECKED:
            try:
                findings.extend(check(record, ctx))
            except Exception as exc:
                detail = f"{type(exc).__name__}: {exc}"[:CRASH_DETAIL_CHARS]
                findings.append(system.RULE_CRASHED.finding(None, rule=rule.code, error=detail))
    return findings


def errors(findings: list[Finding]) -> list[Finding]:
    """The findings that reject the record."""
    return [finding for finding in findings if finding.severity == "error"]


def warnings(findings: list[Finding]) -> list[Finding]:
    """The findings that flag an accepted record."""
    return [finding for finding in findings if finding.severity == "warning"]

"""Validation rules with stable reason codes (stage 1: validate).

Pure functions of a decoded HouseholdSubmission dict and a :class:`RuleContext`:
no Kafka, no ClickHouse, no clock reads. :func:`validate` runs the whole
:data:`CATALOGUE`; ERROR findings reject the submission, WARNING findings
travel with the accepted record. One submodule per block of the form
(``region``, ``enumeration``, ``members``, ``ages``, ``identity``, ``items``,
``housing``) plus ``system`` for reason codes raised outside the rules.
docs/rules.md lists every rule (``regsosek rules --markdown``).

May import ``schemas`` and the other pure ``processors`` modules only.
"""

from __future__ import annotations

from processors.rules.base import (
    Check,
    Finding,
    InMemoryNikIndex,
    NikIndex,
    Rule,
    RuleContext,
    Severity,
)
from processors.rules.catalogue import (
    BLOCKS,
    CATALOGUE,
    RULES_BY_CODE,
    errors,
    validate,
    warnings,
)

__all__ = [
    "BLOCKS",
    "CATALOGUE",
    "RULES_BY_CODE",
    "Check",
    "Finding",
    "InMemoryNikIndex",
    "NikIndex",
    "Rule",
    "RuleContext",
    "Severity",
    "errors",
    "validate",
    "warnings",
]

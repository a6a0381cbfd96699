"""The rules version: one short, stable string naming the rules that judged a row.

Analysts must be able to tell which rules produced a household or a
rejection, and ``regsosek replay`` must be able to say "every row is now
judged by the current rules". A version number raised by hand would be
forgotten the day a threshold is fixed in a hurry, so the string is derived
from what decides a verdict:

* :data:`RULES_VERSION`, the human part, raised with a deliberate change of
  meaning (shown first, so ``2026.12-1+4f1c...`` reads as a release);
* the catalogue: every rule's code, severity and message templates;
* the source text of the rule modules, the dedup stage and the enrichment,
  so a threshold or a code list written in code (an age limit, an answer
  code set) changes the version when it changes;
* the context's thresholds: fieldwork start and end, the shortest
  interview, the GPS distance, and the regency extents and centroids.

The region master and the enumeration frame are not hashed: they are
reference data loaded per worker and change without a rule changing; a
frame fixed in week two is a reason to replay, but the rows say which rules
judged them, not which frame.

Pure: the same code and context always give the same string, on any machine.
"""

from __future__ import annotations

import hashlib
import inspect
from collections.abc import Iterable
from types import ModuleType

from processors import dedup, enrich, pipeline
from processors.rules import (
    ages,
    base,
    catalogue,
    enumeration,
    housing,
    identity,
    items,
    labels,
    members,
    region,
    reviews,
    system,
)
from processors.rules.base import RuleContext

#: Raised by hand with a deliberate change of what the rules mean.
RULES_VERSION = "2026.12-1"

#: Hex digits of the digest kept: 48 bits, enough to tell a campaign's rule sets apart.
DIGEST_CHARS = 12

#: Modules whose code decides a verdict or an enriched value.
RULE_MODULES: tuple[ModuleType, ...] = (
    base,
    catalogue,
    labels,
    region,
    enumeration,
    members,
    ages,
    identity,
    items,
    housing,
    system,
    reviews,
    dedup,
    enrich,
    pipeline,
)


def catalogue_lines() -> Iterable[str]:
    """One line per rule: what a finding of it says and how severe it is."""
    for rule in catalogue.CATALOGUE:
        yield "\t".join((rule.code, str(rule.severity), rule.message_en, rule.message_id))


def context_lines(ctx: RuleContext) -> Iterable[str]:
    """The thresholds of the context, in a fixed order (``now`` and the indexes excluded)."""
    yield f"fieldwork_start={ctx.fieldwork_start.isoformat()}"
    yield f"fieldwork_end={ctx.fieldwork_end.isoformat()}"
    yield f"min_interview_seconds={ctx.min_interview_seconds}"
    yield f"max_gps_distance_km={ctx.max_gps_distance_km!r}"
    for code, centre in sorted(ctx.regency_centroids.items()):
        yield f"centroid {code}={centre!r}"
    for code, extent in sorted(ctx.regency_extents.items()):
        yield f"extent {code}={extent!r}"


def source_lines(modules: Iterable[ModuleType] = RULE_MODULES) -> Iterable[str]:
    """The source text of each module that decides a verdict."""
    for module in modules:
        yield f"module {module.__name__}"
        yield inspect.getsource(module)


def rules_version(ctx: RuleContext, *, modules: Iterable[ModuleType] = RULE_MODULES) -> str:
    """``RULES_VERSION+<digest>`` of the catalogue, the rule code and the context's thresholds."""
    digest = hashlib.sha256()
    for part in (catalogue_lines(), source_lines(modules), context_lines(ctx)):
        for line in part:
            digest.update(line.encode("utf-8"))
            digest.update(b"\n")
    return f"{RULES_VERSION}+{digest.hexdigest()[:DIGEST_CHARS]}"

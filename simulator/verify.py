"""Compare what ClickHouse holds with the simulator's ground truth, line by line.

Pure: the observed side is the worker's ``/board`` answer (the same numbers
the live board shows), so the demo's closing summary and the end-to-end test
judge the pipeline the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.truth import GroundTruth


@dataclass(frozen=True)
class Check:
    """One figure: what the truth says and what ClickHouse says."""

    label: str
    expected: int
    actual: int | None
    #: Earlier runs may have added to this figure: ClickHouse may hold more than the truth.
    at_least: bool = False

    @property
    def ok(self) -> bool:
        if self.at_least:
            return self.actual is not None and self.actual >= self.expected
        return self.expected == self.actual

    @property
    def shown_expected(self) -> str:
        """The truth column: ``3`` or, for an at-least figure, ``≥ 3``."""
        return f"≥ {self.expected:,}" if self.at_least else f"{self.expected:,}"


#: Reason codes of messages that could not be decoded: no submission id to deduplicate on.
DECODE_PREFIX = "DECODE_"
EARLIER_RUNS_NOTE = (
    "Data of earlier runs kept (--keep-data): a corrupt message has no submission id to "
    "deduplicate on, so the DECODE_* rejections and the rejected total include earlier runs' "
    "and are compared as at least (≥) this run's; households, members and rule rejections "
    "dedupe and stay exact."
)


#: District fields of the truth (and the board's review_status keys), with their labels.
REVIEW_STATUSES = (
    ("awaiting_review", "awaiting review"),
    ("approved", "approved"),
    ("returned", "returned"),
    ("rejected_final", "rejected for good"),
)


def compare(
    truth: GroundTruth, board: dict[str, Any], *, earlier_runs: bool = False
) -> list[Check]:
    """Households, members, rejections by reason, enumerated households per district.

    When the run sent reviews, each district's households by review status
    (awaiting review, approved, returned, rejected for good) are compared too,
    with the board's ``review_status`` (ClickHouse ``interview_status``); when
    it sent paradata, the stored events by type (``events_by_type``).

    ``earlier_runs``: the data of earlier runs was kept (``demo --keep-data``).
    Only corrupt messages add up across runs (nothing identifies a repeat), so
    their rows and the rejected total become lower bounds; this run's corrupt
    messages must still all be there. A lower bound rather than leaving the
    rows out, which would no longer check them at all.
    """
    totals = board.get("totals", {})
    reasons = board.get("rejections_by_reason", {})
    by_district = {row["district_code"]: row for row in board.get("districts", [])}
    statuses = board.get("review_status") or {}
    reviewed = truth.reviews_sent > 0
    checks = [
        Check("households (deduplicated)", truth.accepted_households, totals.get("households")),
        Check("members living in the family", truth.accepted_members, totals.get("members")),
        Check(
            "rejected messages",
            truth.rejected_messages,
            totals.get("rejections"),
            at_least=earlier_runs,
        ),
    ]
    codes = sorted(set(truth.rejections_by_reason) | set(reasons))
    checks += [
        Check(
            f"  rejected: {code}",
            truth.rejections_by_reason.get(code, 0),
            reasons.get(code, 0),
            at_least=earlier_runs and code.startswith(DECODE_PREFIX),
        )
        for code in codes
    ]
    for district in sorted(truth.districts.values(), key=lambda d: d.code):
        row = by_district.get(district.code) or {}
        checks.append(
            Check(
                f"  enumerated in {district.name}",
                district.by_result.get("COMPLETE", 0),
                row.get("enumerated", 0),
            )
        )
        checks.append(Check(f"  target of {district.name}", district.target, row.get("target", 0)))
        if reviewed:
            status = statuses.get(district.code) or {}
            checks += [
                Check(f"    {label} in {district.name}", getattr(district, key), status.get(key, 0))
                for key, label in REVIEW_STATUSES
            ]
    if truth.events_by_type:
        stored = board.get("events_by_type") or {}
        sent = truth.events_by_type
        checks += [
            Check(f"paradata events: {kind}", sent.get(kind, 0), stored.get(kind, 0))
            for kind in sorted(set(sent) | set(stored))
        ]
    return checks

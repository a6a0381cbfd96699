"""What a tablet is told about each household it sent: status and reasons in its words. Pure.

The feedback query (sinks/feedback.py) returns facts: whether the latest news
is a rejection, the review status, warning and reason codes. This module turns
them into the status a field app shows and the reasons with the catalogue's
Indonesian and English messages, so that the app needs no copy of the
catalogue and a reworded message reaches every tablet at its next sync.

Messages are the catalogue's templates with their placeholders shown as
``…``: the filled-in messages can quote answers (names, NIKs) and are kept
only in the restricted ``rejection_payloads``; the code and the field path say
where to look, and the tablet holds the answers itself.
"""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from processors.rules import RULES_BY_CODE

Status = Literal[
    "accepted",
    "accepted_with_warnings",
    "rejected",
    "awaiting_review",
    "returned",
    "approved",
    "rejected_final",
]

#: Shown in place of a template's placeholder.
PLACEHOLDER = "…"
UNKNOWN_ID = "Kode alasan {code} tidak dikenal oleh versi katalog ini."
UNKNOWN_EN = "Reason code {code} is not in this version of the catalogue."


def status_of(
    *, rejected: bool, review_status: str | None, revised: int, warnings: Sequence[str]
) -> Status:
    """The one status a field app shows for a household.

    A supervisor's REJECTED_FINAL is terminal and wins over everything; then
    the newest news: a rejection newer than the accepted revision; then the
    review of the accepted revision. Before any review, an accepted interview
    is ``accepted`` or ``accepted_with_warnings``, and one revised after a
    review (returned, sent again) ``awaiting_review``.
    """
    if review_status == "REJECTED_FINAL":
        return "rejected_final"
    if rejected:
        return "rejected"
    if review_status == "APPROVED":
        return "approved"
    if review_status == "RETURNED":
        return "returned"
    if revised:
        return "awaiting_review"
    return "accepted_with_warnings" if warnings else "accepted"


def _blank(template: str) -> str:
    """A message template with each ``{placeholder}`` shown as ``…``."""
    parts = []
    for literal, field, _spec, _conversion in string.Formatter().parse(template):
        parts.append(literal)
        if field is not None:
            parts.append(PLACEHOLDER)
    return "".join(parts)


def reason(code: str, field: str | None) -> dict[str, Any]:
    """One reason as the tablet gets it: code, severity, field path, both messages."""
    rule = RULES_BY_CODE.get(code)
    if rule is None:
        return {
            "code": code,
            "severity": "error",
            "field": field or None,
            "message_id": UNKNOWN_ID.format(code=code),
            "message_en": UNKNOWN_EN.format(code=code),
        }
    return {
        "code": code,
        "severity": rule.severity.value,
        "field": field or None,
        "message_id": _blank(rule.message_id),
        "message_en": _blank(rule.message_en),
    }


def feedback_item(row: Mapping[str, Any], updated_at: str) -> dict[str, Any]:
    """One household's feedback from one row of the feedback query.

    The reasons of a rejection come with their field paths; warnings of an
    accepted revision with their codes only (the households table keeps no
    field path for warnings).
    """
    warnings = list(row.get("warning_codes") or ())
    rejected = bool(row.get("rejected"))
    status = status_of(
        rejected=rejected,
        review_status=row.get("review_status"),
        revised=int(row.get("revised") or 0),
        warnings=warnings,
    )
    if rejected:
        codes = list(row.get("reason_codes") or ())
        fields = list(row.get("reason_fields") or ())
        fields += [""] * (len(codes) - len(fields))
        reasons = [reason(code, field) for code, field in zip(codes, fields, strict=False)]
    else:
        reasons = [reason(code, None) for code in warnings]
    comment = row.get("comment")
    return {
        "household_id": row["household_id"],
        "submission_id": row.get("submission_id"),
        "revision": row.get("revision"),
        "status": status,
        "reasons": reasons,
        "comment": comment if status in ("returned", "rejected_final") and comment else None,
        "updated_at": updated_at,
    }

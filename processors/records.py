"""Build the output records: ValidatedSubmission and Rejection dicts, ready to encode.

Pure row building, no I/O. Reason and warning codes are the catalogue's
UPPER_SNAKE codes (``NIK_FORMAT``, ``DECODE_BAD_MAGIC_BYTE``).

A Rejection reason has one ``message``: it carries the Indonesian message
first (supervisors and the regency office act on rejections) and the English
one after `` / ``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from typing import Any

from processors.rules.base import Finding, Record, Severity
from processors.rules.catalogue import RULES_BY_CODE
from processors.rules.system import DECODE_CODES, DECODE_UNDECODABLE
from schemas.errors import DecodeError
from schemas.limits import MAX_SUBMISSION_BYTES, QUARANTINE_ORIGINAL_BYTES

#: Severity of a finding -> ``WarningSeverity`` symbol of ValidatedSubmission.
WARNING_SEVERITY = {Severity.WARNING: "WARNING", Severity.ERROR: "ERROR"}


def warning_record(finding: Finding) -> dict[str, Any]:
    """A ``ValidationWarning`` dict."""
    return {
        "code": finding.code,
        "severity": WARNING_SEVERITY[Severity(finding.severity)],
        "message_id": finding.message_id,
        "message_en": finding.message_en,
        "field_path": finding.field_path,
    }


def validated_submission(
    record: Record, enrichment: Record, warnings: Sequence[Finding]
) -> dict[str, Any]:
    """The ValidatedSubmission dict: the submission as decoded, its enrichment and warnings."""
    return {
        "submission": record,
        "enrichment": dict(enrichment),
        "warnings": [warning_record(finding) for finding in warnings],
    }


def reason_record(reason: Finding | tuple[str, str]) -> dict[str, Any]:
    """A ``RejectionReason`` dict from a finding or a plain (code, message) pair."""
    if isinstance(reason, Finding):
        return {
            "code": reason.code,
            "message": reason.message_en,
            "message_id": reason.message_id,
            "field_path": reason.field_path,
        }
    code, message = reason
    return {"code": code, "message": message, "message_id": None, "field_path": None}


def district_code(record: Record) -> str | None:
    """The full district code of a decoded record, in its own code system.

    BPS: the 7-digit concatenation (``3509010``); KEMENDAGRI: the master code
    (``35.09.02``). ``None`` when the location lacks a part.
    """
    location = record.get("location") or {}
    parts = [location.get(name) for name in ("province_code", "regency_code", "district_code")]
    if not all(isinstance(part, str) and part for part in parts):
        return None
    joiner = "." if location.get("code_system") == "KEMENDAGRI" else ""
    return joiner.join(str(part) for part in parts)


def rejection(  # noqa: PLR0917 - the worker's call shape (issue #4)
    original: bytes,
    topic: str,
    partition: int,
    offset: int,
    received_at: dt.datetime,
    reasons: Sequence[Finding] | Sequence[tuple[str, str]],
    record: Record | None,
    schema_id: int | None,
    *,
    key: str | None = None,
    district: str | None = None,
) -> dict[str, Any]:
    """The Rejection dict; ids come from the record when it could be decoded.

    ``key`` (the Kafka message key, the household id by convention) fills
    ``household_id`` when the record could not be decoded. ``district``
    overrides the district code taken from the record, e.g. with
    ``ResolvedLocation.district_bps_code`` so that KEMENDAGRI-coded records
    also carry the 7-digit BPS code the schema documents.
    """
    if not reasons:
        raise ValueError("a rejection needs at least one reason")
    enumeration = (record or {}).get("enumeration") or {}
    kept, size, digest = quarantined_original(bytes(original))
    return {
        "original": kept,
        "source_topic": topic,
        "source_partition": partition,
        "source_offset": offset,
        "submission_id": record.get("submission_id") if record else None,
        "household_id": (record.get("household_id") if record else None) or key,
        "enumerator_id": enumeration.get("enumerator_id"),
        "district_code": district or (district_code(record) if record else None),
        "reasons": [reason_record(reason) for reason in reasons],
        "received_at": received_at,
        "schema_id": schema_id,
        "original_size": size,
        "original_sha256": digest,
    }


def quarantined_original(original: bytes) -> tuple[bytes, int | None, str | None]:
    """The bytes a Rejection keeps: all of them, or the first ones plus size and digest.

    An original over the submission limit could make the Rejection itself too
    large to publish, and the worker would be stuck on it; its head is enough
    to see what it was, and size plus SHA-256 identify the whole.
    """
    if len(original) <= MAX_SUBMISSION_BYTES:
        return original, None, None
    return (
        original[:QUARANTINE_ORIGINAL_BYTES],
        len(original),
        hashlib.sha256(original).hexdigest(),
    )


def decode_finding(error: DecodeError) -> Finding:
    """The DECODE_* finding of a decode error (``DECODE_UNDECODABLE`` for unknown codes)."""
    code = DECODE_CODES.get(error.reason_code)
    rule = RULES_BY_CODE[code] if code else DECODE_UNDECODABLE
    return rule.finding(None, detail=str(error))


def rejection_for_decode_error(  # noqa: PLR0917 - mirrors rejection()
    original: bytes,
    topic: str,
    partition: int,
    offset: int,
    received_at: dt.datetime,
    error: DecodeError,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    """The Rejection of bytes that did not decode; the schema id comes from the error."""
    return rejection(
        original,
        topic,
        partition,
        offset,
        received_at,
        [decode_finding(error)],
        None,
        error.schema_id,
        key=key,
    )

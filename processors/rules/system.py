"""Reason codes raised outside the rules: undecodable bytes, a crashed rule, dedup, ownership.

They have no check function; they are in the catalogue so that ``regsosek
rules`` and docs/rules.md list every code an operator can meet in the
rejections table. Decode codes are the upper-cased ``reason_code`` of the
:class:`~schemas.errors.DecodeError` subclasses, prefixed ``DECODE_``.
"""

from __future__ import annotations

from processors.rules.base import Rule, Severity, make_rule

#: ``DecodeError.reason_code`` -> rejection reason code.
DECODE_CODES: dict[str, str] = {
    "truncated": "DECODE_TRUNCATED",
    "bad_magic_byte": "DECODE_BAD_MAGIC_BYTE",
    "unknown_schema_id": "DECODE_UNKNOWN_SCHEMA_ID",
    "schema_mismatch": "DECODE_SCHEMA_MISMATCH",
    "avro_body_invalid": "DECODE_AVRO_BODY_INVALID",
    "undecodable": "DECODE_UNDECODABLE",
}

DECODE_TRUNCATED = make_rule(
    "DECODE_TRUNCATED",
    Severity.ERROR,
    None,
    "Pesan terpotong: kurang dari 5 byte header Confluent atau isi kosong ({detail}).",
    "Truncated message: shorter than the 5-byte Confluent header or an empty body ({detail}).",
    rationale="Nothing to read; the original bytes are kept for the app developers.",
)
DECODE_BAD_MAGIC_BYTE = make_rule(
    "DECODE_BAD_MAGIC_BYTE",
    Severity.ERROR,
    None,
    "Byte pertama pesan bukan magic byte 0: bukan format Confluent Avro ({detail}).",
    "The first byte is not the magic byte 0: not Confluent Avro wire format ({detail}).",
    rationale="Written by something that is not our serializer (JSON, another producer).",
)
DECODE_UNKNOWN_SCHEMA_ID = make_rule(
    "DECODE_UNKNOWN_SCHEMA_ID",
    Severity.ERROR,
    None,
    "ID skema pada header tidak dikenal oleh schema registry ({detail}).",
    "The schema id in the header is unknown to the schema registry ({detail}).",
    rationale="Written against another registry; replay once the schema is registered.",
)
DECODE_SCHEMA_MISMATCH = make_rule(
    "DECODE_SCHEMA_MISMATCH",
    Severity.ERROR,
    None,
    "Skema penulis dikenal tetapi tidak dapat dibaca sebagai HouseholdSubmission ({detail}).",
    "The writer schema is known but cannot be read as a HouseholdSubmission ({detail}).",
    rationale="Another event type on the submissions topic, or an incompatible schema change.",
)
DECODE_AVRO_BODY_INVALID = make_rule(
    "DECODE_AVRO_BODY_INVALID",
    Severity.ERROR,
    None,
    "Isi Avro tidak dapat didekode dengan skema penulisnya ({detail}).",
    "The Avro body does not decode with its writer schema ({detail}).",
    rationale="Corrupt bytes or a body written with a different schema than its header says.",
)
DECODE_UNDECODABLE = make_rule(
    "DECODE_UNDECODABLE",
    Severity.ERROR,
    None,
    "Pesan tidak dapat didekode ({detail}).",
    "The message could not be decoded ({detail}).",
    rationale="A decode failure without a more specific reason code.",
)
RULE_CRASHED = make_rule(
    "RULE_CRASHED",
    Severity.ERROR,
    None,
    "Aturan {rule} gagal dijalankan ({error}); laporkan kepada tim pengolahan.",
    "Rule {rule} crashed ({error}); report it to the processing team.",
    rationale="A bug in a rule must not accept unchecked data nor stop the worker; the record "
    "is rejected and can be replayed once the rule is fixed.",
)
ENRICHED_RECORD_INVALID = make_rule(
    "ENRICHED_RECORD_INVALID",
    Severity.ERROR,
    None,
    "Hasil pengolahan tidak sesuai skema ValidatedSubmission ({error}); laporkan kepada tim "
    "pengolahan.",
    "The processed record does not fit the ValidatedSubmission schema ({error}); report it to "
    "the processing team.",
    rationale="A bug in enrichment must not crash-loop the worker on the same batch; the "
    "submission is rejected with its original bytes and can be replayed once fixed.",
)
SUBMISSION_TOO_LARGE = make_rule(
    "SUBMISSION_TOO_LARGE",
    Severity.ERROR,
    None,
    "Kiriman terlalu besar: {size} byte, batasnya {limit} byte; kurangi catatan atau foto.",
    "The submission is too large: {size} bytes, the limit is {limit} bytes; shorten notes or "
    "drop attachments.",
    rationale="A record the worker could not republish would stop its partition; the first "
    "bytes, the size and the SHA-256 of the original are kept (schemas/limits.py).",
)
RECORD_PROCESSING_FAILED = make_rule(
    "RECORD_PROCESSING_FAILED",
    Severity.ERROR,
    None,
    "Kiriman ini tidak dapat diolah ({error}); laporkan kepada tim pengolahan.",
    "This submission could not be processed ({error}); report it to the processing team.",
    rationale="A failure that would happen again on the same record (a bug met by unusual "
    "data) quarantines that record, never the batch; replay it once fixed.",
)
OUTPUT_TOO_LARGE = make_rule(
    "OUTPUT_TOO_LARGE",
    Severity.ERROR,
    None,
    "Hasil pengolahan terlalu besar untuk diterbitkan ({size} byte, batas {limit}).",
    "The processed record is too large to publish ({size} bytes, limit {limit}).",
    rationale="The ValidatedSubmission adds enrichment and warnings to the submission; when it "
    "would not fit the producers' limit the record is quarantined instead of stopping the worker.",
)
INSERT_REFUSED = make_rule(
    "INSERT_REFUSED",
    Severity.ERROR,
    None,
    "ClickHouse menolak baris rumah tangga ini ({error}).",
    "ClickHouse refused this household's rows ({error}).",
    rationale="A refusal that retrying cannot fix (a constraint, a value out of range) is "
    "narrowed to its rows by splitting the batch; only those are quarantined.",
)
SAME_REVISION_NEW_CONTENT = make_rule(
    "SAME_REVISION_NEW_CONTENT",
    Severity.WARNING,
    None,
    "Isian baru dikirim dengan nomor revisi yang sama; naikkan nomor revisi.",
    "New content was sent under an existing revision; apps must bump the revision.",
    rationale="Raised by the deduplication stage; the newer content is kept, the app is told "
    "to follow the revision contract.",
)
HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT = make_rule(
    "HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT",
    Severity.ERROR,
    "202, 104-105",
    "Keluarga {household} termasuk penugasan {assignment} (pertama diterima dari PPL "
    "'{owner}'); PPL '{enumerator}' tidak memegang penugasan tersebut.",
    "Household {household} belongs to assignment {assignment} (first accepted from enumerator "
    "'{owner}'); enumerator '{enumerator}' does not hold that assignment.",
    rationale="Raised by the deduplication stage: a household belongs to the SLS it was first "
    "accepted under, and only an enumerator the frame currently assigns that SLS may revise it "
    "(without a frame, or with an unverifiable village, only its first enumerator). Otherwise one "
    "officer could overwrite another's interview; a reassignment is a frame change "
    "(processors/dedup.py).",
)
REVISION_JUMP = make_rule(
    "REVISION_JUMP",
    Severity.ERROR,
    None,
    "Nomor revisi {revision} melompat lebih dari {step} di atas revisi tertinggi keluarga ini "
    "({reached}); aplikasi menambah 1 untuk setiap koreksi.",
    "Revision {revision} jumps more than {step} above this household's highest revision "
    "({reached}); apps add 1 per correction.",
    rationale="Raised by the deduplication stage: a revision far ahead would make every genuine "
    "later revision stale. Rejected revisions count as reached, so failing corrections never "
    "exhaust the step (processors/dedup.py).",
)

PARADATA_EVENT_INVALID = make_rule(
    "PARADATA_EVENT_INVALID",
    Severity.ERROR,
    None,
    "Peristiwa paradata aplikasi tidak dapat disimpan: {problem}.",
    "An app paradata event cannot be stored: {problem}.",
    rationale="An EnumeratorEvent that decodes but names no enumerator or event id, or an "
    "INTERVIEW_* event without its household, would be a row no paradata view can place; it is "
    "kept with its bytes in rejection_payloads instead (processors/paradata.py).",
)

RULES: tuple[Rule, ...] = (
    DECODE_TRUNCATED,
    DECODE_BAD_MAGIC_BYTE,
    DECODE_UNKNOWN_SCHEMA_ID,
    DECODE_SCHEMA_MISMATCH,
    DECODE_AVRO_BODY_INVALID,
    DECODE_UNDECODABLE,
    RULE_CRASHED,
    ENRICHED_RECORD_INVALID,
    SUBMISSION_TOO_LARGE,
    RECORD_PROCESSING_FAILED,
    OUTPUT_TOO_LARGE,
    INSERT_REFUSED,
    SAME_REVISION_NEW_CONTENT,
    HOUSEHOLD_OWNED_BY_OTHER_ASSIGNMENT,
    REVISION_JUMP,
    PARADATA_EVENT_INVALID,
)

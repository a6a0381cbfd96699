"""Re-drives on the submissions topic: their Kafka headers, and what the worker made of them.

A re-drive is a quarantined original published again (``regsosek rejections
reprocess``, :mod:`streams.worker.reprocess_page`) with three headers: its
re-drive id (a UUID), the rejected source (``topic/partition/offset``) and an
HMAC-SHA256 over both and the value's digest. The worker's dedup stage lets a
message through once per *re-drive id* instead of per submission id
(:mod:`processors.pipeline`): the submission id is remembered from the first
rejection, so without this a re-drive would be dropped as a duplicate. The
re-drive id then sits in the household's recent ids like a submission id, so
a second delivery of the same re-drive (a producer retry, a copy sent again)
is dropped; a batch read again after a crash is the same batch, made
harmless by the insert tokens and the late state store.

Why signed: field apps may write to the submissions topic (the SDK) and could
otherwise set the header themselves to get a resend past dedup. The key is
derived from the NIK HMAC key, the one secret every worker already has; a
header that does not verify is ignored (the message is an ordinary one) and
logged. The gateway never copies headers from HTTP.

After the batch is inserted, each re-drive's outcome (accepted, rejected with
its reason codes, or dropped) is written to ``reprocess_audit`` as a
``judged`` row under the batch's token, before the offsets are acknowledged.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from processors.pipeline import RawSubmission
from sinks.reprocess import ACCEPTED, DROPPED, REJECTED, Judgement, judged_block
from sinks.rows import Block
from streams.worker.compute import Computed, HouseholdRows

log = logging.getLogger(__name__)

HEADER_ID = "regsosek-redrive-id"
HEADER_SOURCE = "regsosek-redrive-source"
HEADER_MAC = "regsosek-redrive-mac"
_KEY_LABEL = b"regsosek re-drive headers v1"


def redrive_key(nik_key: bytes) -> bytes:
    """The signing key, derived so that a re-drive MAC never equals any NIK hash."""
    return hmac.digest(nik_key, _KEY_LABEL, "sha256")


def _mac(key: bytes, redrive_id: str, source: str, value: bytes) -> str:
    message = b"\n".join(
        (redrive_id.encode(), source.encode(), hashlib.sha256(value).hexdigest().encode())
    )
    return hmac.digest(key, message, "sha256").hex()


def headers(key: bytes, redrive_id: str, source: str, value: bytes) -> list[tuple[str, bytes]]:
    """The Kafka headers of one re-drive of ``value`` from ``source`` (topic/partition/offset)."""
    return [
        (HEADER_ID, redrive_id.encode()),
        (HEADER_SOURCE, source.encode()),
        (HEADER_MAC, _mac(key, redrive_id, source, value).encode()),
    ]


@dataclass(frozen=True)
class Redrive:
    """A verified re-drive as read: its id and the rejected original it came from."""

    redrive_id: str
    source: tuple[str, int, int]


def _as_pairs(raw: Any) -> list[tuple[str, bytes]]:
    if not raw:
        return []
    items = raw.items() if isinstance(raw, Mapping) else raw
    return [(str(name), bytes(value or b"")) for name, value in items]


def verified(raw_headers: Any, value: bytes, key: bytes) -> Redrive | None:
    """The re-drive a message's headers name, if they verify; ``None`` for ordinary messages."""
    found = dict(_as_pairs(raw_headers))
    if HEADER_ID not in found:
        return None
    try:
        redrive_id = found[HEADER_ID].decode()
        source = found[HEADER_SOURCE].decode()
        mac = found[HEADER_MAC].decode()
        topic, partition, offset = source.rsplit("/", 2)
        where = (topic, int(partition), int(offset))
    except (KeyError, UnicodeDecodeError, ValueError):
        log.warning("re-drive headers malformed: treated as an ordinary message")
        return None
    if not hmac.compare_digest(mac, _mac(key, redrive_id, source, value)):
        log.warning("re-drive %s does not verify: treated as an ordinary message", redrive_id)
        return None
    return Redrive(redrive_id, where)


Marks = dict[tuple[int, int], Redrive]


def mark(
    events: Sequence[Any], messages: Sequence[RawSubmission], key: bytes
) -> tuple[list[RawSubmission], Marks]:
    """The batch's messages with re-drive ids set, and its re-drives by (partition, offset)."""
    marks: Marks = {}
    out: list[RawSubmission] = []
    for event, message in zip(events, messages, strict=True):
        found = verified(getattr(event.message, "headers", None), message.value, key)
        if found is None:
            out.append(message)
            continue
        marks[(message.partition, message.offset)] = found
        out.append(replace(message, redrive_id=found.redrive_id))
    return out, marks


def judgements(
    marks: Marks,
    messages: Sequence[RawSubmission],
    computed: Computed,
    refused: Sequence[tuple[HouseholdRows, str]],
) -> list[Judgement]:
    """What became of each re-drive of the batch, from the batch's own results. Pure."""
    accepted = {h.source: h for h in computed.households}
    rejected: dict[tuple[int, int], tuple[str | None, tuple[str, ...]]] = {}
    columns = computed.rejection_columns
    if computed.rejection_rows:
        at = {name: columns.index(name) for name in columns}
        for row in computed.rejection_rows:
            where = (int(row[at["source_partition"]]), int(row[at["source_offset"]]))
            rejected[where] = (row[at["submission_id"]], tuple(row[at["reason_codes"]]))
    for refused_rows, _why in refused:
        accepted.pop(refused_rows.source, None)
        rejected[refused_rows.source] = (refused_rows.submission_id, ("INSERT_REFUSED",))
    by_offset = {(m.partition, m.offset): m for m in messages}
    out = []
    for where, redrive in sorted(marks.items()):
        message = by_offset[where]
        household = message.key.decode("utf-8", "replace") if message.key else None
        outcome, submission = DROPPED, None
        codes: tuple[str, ...] = ()
        if where in accepted:
            outcome, submission = ACCEPTED, accepted[where].submission_id
        elif where in rejected:
            outcome, (submission, codes) = REJECTED, rejected[where]
        out.append(
            Judgement(
                redrive_id=redrive.redrive_id,
                source=redrive.source,
                delivery=(message.topic, message.partition, message.offset),
                submission_id=submission,
                household_id=household,
                outcome=outcome,
                reason_codes=codes,
            )
        )
    return out


def audit_block(
    marks: Marks,
    messages: Sequence[RawSubmission],
    computed: Computed,
    refused: Sequence[tuple[HouseholdRows, str]],
    at: datetime,
) -> Block | None:
    """The ``judged`` rows of the batch's re-drives; ``None`` when it had none."""
    if not marks:
        return None
    return judged_block(judgements(marks, messages, computed, refused), at)


@dataclass(frozen=True)
class RedriveSetup:
    """What the processing stage needs for re-drives: the key, and a writer for the audit rows.

    ``write`` is the sink's ``ClickHouseWriter.write`` (called in its thread).
    """

    key: bytes
    write: Callable[[Sequence[Block], str], object]

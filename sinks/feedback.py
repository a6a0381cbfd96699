"""Feedback to the field: what became of each household an enumerator sent. Pure SQL and cursor.

A tablet syncs now and then and asks "what changed since my last sync?". The
answer is one row per household (or per rejected submission that never became
a household), ordered by the time it last changed and then by its key, read
from the tables the worker writes:

- ``households FINAL``: the latest accepted revision and its warning codes;
- ``interview_status``: its review status (migration 0008);
- ``reviews`` (restricted: the comment is personal data): the latest decision's
  comment, asked only for the enumerators the caller may see;
- ``rejections``: rejections of the submissions topic, by ``enumerator_id``
  (a submission rejected before it became a household is still its sender's).

"Changed" is the latest ``written_at`` among the household's row, its review
decisions and its rejections. ``written_at`` is stamped just before the insert,
so a row becomes visible a moment after the time it carries; rows younger than
``settle_ms`` are left for the next call, so a cursor never steps past a row
that is about to appear.

The cursor is the last (time, key) returned, as base64url JSON with a short
checksum: it is opaque to the tablet, and an edited or truncated one is
refused (:class:`BadCursor`, a 400) rather than silently resyncing from an
arbitrary point. It is no secret and grants nothing: which enumerators a query
covers is decided by the caller's token, never by the cursor.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sinks.migrations import DEFAULT_DATABASE, check_names

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

#: Most rows one call returns; a tablet pages with the cursor.
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
#: Cursor format version; a new format gets a new number.
CURSOR_VERSION = 1
_CHECK_CHARS = 8


class BadCursor(ValueError):
    """A cursor this service did not issue (edited, truncated, another format): 400."""


@dataclass(frozen=True, order=True)
class Position:
    """Where a sync stopped: the last row's change time (ms since the epoch, UTC) and key."""

    updated_ms: int = 0
    key: str = ""


START = Position()


def _check(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:_CHECK_CHARS]


def encode_cursor(position: Position) -> str:
    """The opaque token of a position."""
    payload = json.dumps(
        {"v": CURSOR_VERSION, "t": position.updated_ms, "k": position.key},
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    token = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{token}.{_check(payload)}"


def decode_cursor(cursor: str | None) -> Position:
    """The position of a token from :func:`encode_cursor`; no token is the start."""
    if cursor is None or cursor == "":
        return START
    token, dot, check = cursor.partition(".")
    if not dot or len(cursor) > 2048:
        raise BadCursor("cursor is not one this service issued; start again without a cursor")
    try:
        payload = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (binascii.Error, ValueError):
        raise BadCursor("cursor is not valid base64url") from None
    if check != _check(payload):
        raise BadCursor("cursor was altered; send it back exactly as it was received")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BadCursor("cursor does not decode") from None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION:
        raise BadCursor("cursor of an unknown version; start again without a cursor")
    updated, key = data.get("t"), data.get("k")
    if type(updated) is not int or updated < 0 or not isinstance(key, str):
        raise BadCursor("cursor does not hold a position")
    return Position(updated, key)


def feedback_sql(database: str = DEFAULT_DATABASE) -> str:
    """The feedback query; every value a caller gives is a bound parameter.

    Parameters: ``enumerators`` Array(String), ``topic`` (the submissions topic
    whose rejections count), ``after_ms`` and ``after_key`` (the cursor),
    ``settle_ms`` and ``limit``.
    """
    check_names(database, None)
    db = database
    return f"""
WITH
accepted AS (
    SELECT household_id, revision, submission_id, enumerator_id, warning_codes, written_at
    FROM {db}.households FINAL
    WHERE enumerator_id IN {{enumerators:Array(String)}}
),
decided AS (
    SELECT
        household_id,
        argMax(tuple(revision, decision, comment), tuple(revision, decided_at, review_id))
            AS last_decision,
        argMaxIf(comment, tuple(decided_at, review_id), decision = 'REJECTED_FINAL')
            AS final_comment,
        max(written_at) AS reviewed_at
    FROM {db}.reviews FINAL
    WHERE household_id IN (SELECT household_id FROM accepted)
    GROUP BY household_id
),
reviewed AS (
    SELECT
        a.household_id AS key,
        a.revision AS revision,
        a.submission_id AS submission_id,
        a.warning_codes AS warning_codes,
        s.status AS review_status,
        s.revised AS revised,
        multiIf(
            s.status = 'REJECTED_FINAL', d.final_comment,
            s.status = 'RETURNED', tupleElement(d.last_decision, 3),
            NULL
        ) AS comment,
        a.written_at AS accepted_at,
        greatest(a.written_at, d.reviewed_at) AS changed_at
    FROM accepted AS a
    LEFT JOIN (
        SELECT household_id, status, revised FROM {db}.interview_status
        WHERE enumerator_id IN {{enumerators:Array(String)}}
    ) AS s ON s.household_id = a.household_id
    LEFT JOIN decided AS d ON d.household_id = a.household_id
),
refused AS (
    SELECT
        ifNull(household_id, ifNull(submission_id, '')) AS key,
        argMax(submission_id, tuple(written_at, source_partition, source_offset))
            AS last_submission_id,
        argMax(reason_codes, tuple(written_at, source_partition, source_offset)) AS codes,
        argMax(reason_fields, tuple(written_at, source_partition, source_offset)) AS fields,
        max(written_at) AS rejected_at
    FROM {db}.rejections FINAL
    WHERE enumerator_id IN {{enumerators:Array(String)}}
        AND source_topic = {{topic:String}}
        AND notEmpty(ifNull(household_id, ifNull(submission_id, '')))
    GROUP BY key
),
joined AS (
    -- no join_use_nulls (interview_status is a view built without it): a side
    -- without a match has default values, an empty key and the epoch
    SELECT
        notEmpty(r.key) AS has_household,
        if(has_household, r.key, f.key) AS key,
        if(has_household, toNullable(r.revision), NULL) AS revision,
        notEmpty(f.key) AND (NOT has_household OR f.rejected_at > r.accepted_at) AS rejected,
        if(rejected, f.last_submission_id, toNullable(r.submission_id)) AS submission_id,
        if(has_household, toNullable(r.review_status), NULL) AS review_status,
        r.revised AS revised,
        r.warning_codes AS warning_codes,
        if(rejected, f.codes, []) AS reason_codes,
        if(rejected, f.fields, []) AS reason_fields,
        r.comment AS comment,
        greatest(r.changed_at, f.rejected_at) AS updated_at
    FROM reviewed AS r
    FULL OUTER JOIN refused AS f ON f.key = r.key
)
SELECT
    key AS household_id, revision, submission_id, rejected, review_status, revised,
    warning_codes, reason_codes, reason_fields, comment,
    toUnixTimestamp64Milli(updated_at) AS updated_ms
FROM joined
WHERE (updated_ms, household_id) > ({{after_ms:Int64}}, {{after_key:String}})
    AND updated_at <= now64(3) - toIntervalMillisecond({{settle_ms:Int64}})
ORDER BY updated_ms, household_id
LIMIT {{limit:UInt32}}
"""  # noqa: S608 - the database is a checked identifier; every value is a bound parameter


def feedback_parameters(
    enumerators: list[str],
    after: Position,
    *,
    topic: str,
    limit: int = DEFAULT_LIMIT,
    settle_ms: int = 0,
) -> dict[str, Any]:
    """The bound parameters of :func:`feedback_sql`."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be from 1 to {MAX_LIMIT}")
    return {
        "enumerators": sorted(set(enumerators)),
        "topic": topic,
        "after_ms": after.updated_ms,
        "after_key": after.key,
        "settle_ms": max(0, settle_ms),
        "limit": limit,
    }


def feedback_rows(
    client: Client,
    enumerators: list[str],
    after: Position,
    *,
    topic: str,
    limit: int = DEFAULT_LIMIT,
    settle_ms: int = 0,
    database: str = DEFAULT_DATABASE,
) -> list[dict[str, Any]]:
    """The changed rows after ``after`` for ``enumerators``, oldest change first."""
    if not enumerators:
        return []
    parameters = feedback_parameters(
        enumerators, after, topic=topic, limit=limit, settle_ms=settle_ms
    )
    result = client.query(feedback_sql(database), parameters=parameters)
    return [dict(row) for row in result.named_results()]


def next_position(rows: list[dict[str, Any]], after: Position) -> Position:
    """Where the next call starts: after the last row, or where this one started."""
    if not rows:
        return after
    last = rows[-1]
    return Position(int(last["updated_ms"]), str(last["household_id"]))

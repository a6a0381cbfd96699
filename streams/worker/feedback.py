"""``GET /feedback``: what became of the households of some enumerators, since a cursor.

Field apps never call this page: they call the gateway's ``GET /v1/feedback``
with their own token, and the gateway decides whose households they may see
and asks here with the worker's operator token (only the engine's owner can
query it in embedded mode, and one path serves server mode too). So this page
trusts its ``enumerators`` parameter the way it trusts every operator, and
checks only its shape. The query runs on the pages' bounded read thread
(streams/worker/reads.py): a burst of syncs is refused with 503 and
Retry-After, never queued ahead of the sink.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from processors.feedback import feedback_item
from sinks.feedback import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    BadCursor,
    Position,
    decode_cursor,
    encode_cursor,
    feedback_rows,
    next_position,
)
from streams.worker.reads import Reads, ReadsBusy
from streams.worker.web import BadParameter, busy, single

#: An enumerator or supervisor id as the frame has them.
PERSON_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: Most enumerators in one question: a supervisor's team is a handful to a few dozen.
MAX_ENUMERATORS = 200


def feedback_query(query: Mapping[str, str]) -> tuple[list[str], Position, int]:
    """``enumerators`` (comma-separated), ``cursor`` and ``limit``, checked; raises BadParameter."""
    params = single(query, {"enumerators", "cursor", "limit"})
    enumerators = sorted({e for e in params.get("enumerators", "").split(",") if e})
    if not enumerators:
        raise BadParameter("enumerators is required: comma-separated enumerator ids")
    if len(enumerators) > MAX_ENUMERATORS:
        raise BadParameter(f"at most {MAX_ENUMERATORS} enumerators at once")
    bad = [e for e in enumerators if not PERSON_ID.fullmatch(e)]
    if bad:
        raise BadParameter("enumerator ids are letters, digits, '.', '_' or '-' (1-64)")
    limit_text = params.get("limit", str(DEFAULT_LIMIT))
    if (
        not limit_text.isascii()
        or not limit_text.isdigit()
        or len(limit_text) > len(str(MAX_LIMIT))  # 5,000 digits would not even parse
        or not 1 <= int(limit_text) <= MAX_LIMIT
    ):
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    try:
        position = decode_cursor(params.get("cursor"))
    except BadCursor as exc:
        raise BadParameter(str(exc)) from None
    return enumerators, position, int(limit_text)


def iso_ms(updated_ms: int) -> str:
    """A change time as ISO-8601 UTC with milliseconds."""
    return datetime.fromtimestamp(updated_ms / 1000, UTC).isoformat(timespec="milliseconds")


def feedback_body(rows: list[dict[str, Any]], after: Position, limit: int) -> dict[str, Any]:
    """The page's answer: items, the cursor to send next time, and whether more are waiting."""
    return {
        "items": [feedback_item(row, iso_ms(int(row["updated_ms"]))) for row in rows],
        "cursor": encode_cursor(next_position(rows, after)),
        "more": len(rows) >= limit,
    }


def install_feedback(app: Any, *, reads: Reads, database: str, topic: str, settle_ms: int) -> None:
    """Add ``/feedback`` to the worker's web server (behind the operator tokens)."""

    async def feedback(view: Any, request: Any) -> Any:
        """Changed households of ``enumerators`` after ``cursor``, oldest change first."""
        try:
            enumerators, after, limit = feedback_query(request.query)
            rows = await reads.run(
                lambda client: feedback_rows(
                    client,
                    enumerators,
                    after,
                    topic=topic,
                    limit=limit,
                    settle_ms=settle_ms,
                    database=database,
                )
            )
        except BadParameter as exc:
            return view.json({"error": str(exc)}, status=400)
        except ReadsBusy as exc:
            return busy(view, exc)
        return view.json(feedback_body(rows, after, limit))

    app.page("/feedback")(feedback)

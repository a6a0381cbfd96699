"""Read side: SQL for the progress views, and the answers as plain dicts.

:func:`progress_sql` is pure (unit-tested as text); :func:`progress` runs it
on any client; :func:`progress_json` makes the answer JSON-safe for the
worker's ``GET /progress`` and for ``regsosek progress --json``. In embedded
mode only the worker may open the engine, so the CLI asks the worker, which
calls :func:`progress_json`; both sides therefore return the same rows.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal, get_args

from sinks.migrations import DEFAULT_DATABASE, check_names

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

Dimension = Literal["district", "village", "enumerator"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)

#: View, filter on one district (master or BPS code; ``$db`` = the database), and order.
_SHAPES: dict[str, tuple[str, str, str]] = {
    "district": (
        "progress_by_district",
        "district_code = {district:String} OR bps_district_code = {district:String}",
        "district_code",
    ),
    "village": (
        "progress_by_village",
        "district_code = {district:String} OR district_code IN (SELECT code FROM $db.regions"
        " FINAL WHERE level = 'district' AND bps_code = {district:String})",
        "district_code, village_code",
    ),
    "enumerator": (
        "progress_by_enumerator",
        "has(district_codes, {district:String}) OR hasAny(district_codes, (SELECT"
        " groupArray(code) FROM $db.regions FINAL WHERE level = 'district'"
        " AND bps_code = {district:String}))",
        "enumerator_id",
    ),
}


def progress_sql(
    by: str = "district", district: str | None = None, *, database: str = DEFAULT_DATABASE
) -> tuple[str, dict[str, Any]]:
    """SQL and parameters for one progress view, optionally one district's rows.

    ``district`` may be the region-master code (``35.09.02``) or the BPS code
    (``3509010``): operators know the second, the tables key on the first.
    """
    if by not in _SHAPES:
        raise ValueError(f"progress by {by!r}: choose one of {', '.join(DIMENSIONS)}")
    check_names(database, None)
    view, condition, order = _SHAPES[by]
    sql = f"SELECT * FROM {database}.{view}"  # noqa: S608 - names are checked identifiers
    parameters: dict[str, Any] = {}
    if district:
        sql += f" WHERE {condition.replace('$db', database)}"
        parameters["district"] = district
    return f"{sql} ORDER BY {order}", parameters


def progress(
    client: Client,
    by: str = "district",
    district: str | None = None,
    *,
    database: str = DEFAULT_DATABASE,
) -> list[dict[str, Any]]:
    """Rows of a progress view as dicts (datetimes naive UTC, as the client returns them)."""
    sql, parameters = progress_sql(by, district, database=database)
    result = client.query(sql, parameters=parameters)
    return [dict(row) for row in result.named_results()]


def progress_json(
    client: Client,
    by: str = "district",
    district: str | None = None,
    *,
    database: str = DEFAULT_DATABASE,
) -> list[dict[str, Any]]:
    """:func:`progress` with JSON-safe values: ISO-8601 UTC times, no NaN, lists for arrays."""
    return [
        {key: json_safe(value) for key, value in row.items()}
        for row in progress(client, by, district, database=database)
    ]


def json_safe(value: object) -> object:
    """One value as ``json.dumps`` takes it; naive datetimes from UTC columns get their zone."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, tuple | list):
        return [json_safe(item) for item in value]
    return value


def board_sql(database: str = DEFAULT_DATABASE, window_s: int = 60) -> dict[str, str]:
    """The live board's questions beyond the progress views, one query each. Pure.

    Freshness is ``written_at - received_at`` (Kafka's record timestamp), over the
    rows written in the last ``window_s`` seconds: how long a finished interview
    takes to become queryable, whatever the tablet's clock says.
    """
    check_names(database, None)
    db = database
    recent = f"written_at > now64(3) - INTERVAL {int(window_s)} SECOND"
    return {
        "totals": (
            f"SELECT (SELECT count() FROM {db}.households FINAL) AS households,"  # noqa: S608
            f" (SELECT count() FROM {db}.members_current"
            " WHERE presence IN ('LIVES_WITH_FAMILY', 'NEW_MEMBER')) AS members,"
            f" (SELECT count() FROM {db}.rejections FINAL) AS rejections"
        ),
        "rejections_by_reason": (
            f"SELECT reason, count() AS messages FROM {db}.rejections FINAL"  # noqa: S608
            " ARRAY JOIN arrayDistinct(reason_codes) AS reason"
            " GROUP BY reason ORDER BY messages DESC"
        ),
        "recent": (
            "SELECT uniqExact(enumerator_id) AS active_enumerators,"  # noqa: S608
            " count() AS rows_written,"
            " quantilesExact(0.5, 0.95)(dateDiff('millisecond', received_at, written_at))"
            f" AS freshness_ms FROM {db}.households WHERE {recent} AND received_at IS NOT NULL"
        ),
        "events_by_type": (
            f"SELECT event_type, count() AS events FROM {db}.enumerator_events FINAL"  # noqa: S608
            " GROUP BY event_type ORDER BY event_type"
        ),
        "review_status": (
            "SELECT district_code, awaiting_review, approved, returned,"  # noqa: S608
            f" rejected_final FROM {db}.review_progress_by_district ORDER BY district_code"
        ),
    }


def board_json(
    client: Client, *, database: str = DEFAULT_DATABASE, window_s: int = 60
) -> dict[str, Any]:
    """Everything the live board shows, JSON-safe: progress by district, totals, reasons.

    ``review_status`` maps each district to its households by review status
    (``review_progress_by_district``), so the demo's comparison can check the
    supervisors' decisions as it checks enumeration; ``events_by_type`` counts
    the stored paradata events (``enumerator_events``) by type.
    """
    queries = board_sql(database, window_s)
    totals = next(client.query(queries["totals"]).named_results())
    recent = next(client.query(queries["recent"]).named_results())
    freshness = recent["freshness_ms"] if recent["rows_written"] else [None, None]
    reasons = client.query(queries["rejections_by_reason"]).named_results()
    statuses = client.query(queries["review_status"]).named_results()
    events = client.query(queries["events_by_type"]).named_results()
    return {
        "districts": progress_json(client, "district", database=database),
        "totals": {key: json_safe(value) for key, value in totals.items()},
        "rejections_by_reason": {row["reason"]: row["messages"] for row in reasons},
        "events_by_type": {str(row["event_type"]): row["events"] for row in events},
        "review_status": {
            str(row.pop("district_code")): {key: json_safe(value) for key, value in row.items()}
            for row in statuses
        },
        "active_enumerators": recent["active_enumerators"],
        "window_s": window_s,
        "freshness_p50_ms": json_safe(freshness[0]),
        "freshness_p95_ms": json_safe(freshness[1]),
    }

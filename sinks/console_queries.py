"""Read side of the operator console (issue #16): SQL and JSON answers, ids and codes only.

The SQL builders are pure (unit-tested as text); the ``*_json`` functions run
them on any clickhouse-connect client and shape plain, JSON-safe dicts for the
worker's ``/console/...`` pages, which the gateway passes to the browser.

Nothing here selects a name, NIK, address, phone number, comment, free-text
message or payload: households and rejections are named by id, areas and
reasons by code. ``rejection_payloads`` (the original bytes) and ``reviews``
(the supervisors' comments) are never read; ``rejections`` and
``interview_status`` carry everything the console shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sinks.console_flags import enumerator_flags
from sinks.migrations import DEFAULT_DATABASE, check_names
from sinks.queries import board_json, json_safe, progress_json

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

#: Seconds behind "now" that count as the last hour and the last day of enumeration.
HOUR_S = 3600
DAY_S = 86400
#: Window of the health page's freshness percentiles: rows written in the last minute.
FRESHNESS_WINDOW_S = 60
#: Review statuses the console counts (migration 0008, interview_status).
REVIEW_STATUSES = ("awaiting_review", "approved", "returned", "rejected_final")
#: Data-quality columns merged into each enumerator's progress row.
QUALITY_COLUMNS = (
    "with_warnings",
    "rejection_rate",
    "warning_rate",
    "very_short_interviews",
    "gps_anomalies",
    "duplicate_nik_households",
)

Row = dict[str, Any]


def _rows(client: Client, sql: str, parameters: Mapping[str, Any] | None = None) -> list[Row]:
    result = client.query(sql, parameters=dict(parameters or {}))
    return [{key: json_safe(value) for key, value in row.items()} for row in result.named_results()]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


# --- overview -----------------------------------------------------------------------


def overview_sql(database: str = DEFAULT_DATABASE) -> str:
    """Households enumerated (newest revision COMPLETE): all, last hour, last day; targets.

    "Last hour" is by ``written_at``, when the row became queryable, not by the
    tablet's clock: a day's backlog synced at once counts as today's pace,
    which is what the days-left estimate needs (the work is done).
    """
    check_names(database, None)
    db = database
    return (
        "SELECT count() AS enumerated,"  # noqa: S608 - names are checked identifiers
        f" countIf(written_at > now64(3) - INTERVAL {HOUR_S} SECOND) AS enumerated_last_hour,"
        f" countIf(written_at > now64(3) - INTERVAL {DAY_S} SECOND) AS enumerated_last_day,"
        f" (SELECT sum(expected_households) FROM {db}.targets FINAL) AS target_total"
        f" FROM {db}.households FINAL WHERE result = 'COMPLETE'"
    )


def days_left(remaining: int, enumerated_last_day: int) -> float | None:
    """Days to finish at the last day's pace; ``None`` when nothing was enumerated in it.

    0.0 once nothing remains, however slow the pace. Rounded to a tenth: the
    pace changes by the hour, more digits would promise what it cannot keep.
    """
    if remaining <= 0:
        return 0.0
    if enumerated_last_day <= 0:
        return None
    return round(remaining / enumerated_last_day, 1)


def overview_json(
    client: Client, *, database: str = DEFAULT_DATABASE, window_s: int = 60
) -> dict[str, Any]:
    """:func:`sinks.queries.board_json` plus the pace: last hour, last day, remaining, days left."""
    body = board_json(client, database=database, window_s=window_s)
    pace = _rows(client, overview_sql(database))[0]
    enumerated = int(pace["enumerated"])
    last_day = int(pace["enumerated_last_day"])
    target_total = int(pace["target_total"] or 0)
    remaining = max(target_total - enumerated, 0)
    body.update(
        enumerated=enumerated,
        enumerated_last_hour=int(pace["enumerated_last_hour"]),
        enumerated_last_day=last_day,
        target_total=target_total,
        remaining=remaining,
        days_left=days_left(remaining, last_day),
        as_of=_now_iso(),
    )
    return body


# --- district -----------------------------------------------------------------------


def district_sql(database: str = DEFAULT_DATABASE) -> dict[str, str]:
    """The district page's questions beyond the progress views. Pure.

    ``code`` resolves a BPS code (``3509010``) to the region-master code the
    tables key on; the others take that master code as ``{district:String}``
    and the page's enumerator ids as ``{ids:Array(String)}``.
    """
    check_names(database, None)
    db = database
    ids = "has({ids:Array(String)}, enumerator_id)"
    return {
        "code": (
            f"SELECT code FROM {db}.regions FINAL WHERE level = 'district'"  # noqa: S608
            " AND (code = {district:String} OR bps_code = {district:String})"
            " ORDER BY code LIMIT 1"
        ),
        "review": (
            f"SELECT {', '.join(REVIEW_STATUSES)} FROM {db}.review_progress_by_district"  # noqa: S608
            " WHERE district_code = {district:String}"
        ),
        "sls": (
            "SELECT village_code, sls_code, t.target AS target, h.visited AS visited,"  # noqa: S608
            " h.enumerated AS enumerated,"
            " if(t.target > 0, round(100 * h.enumerated / t.target, 1), NULL) AS percent"
            " FROM (SELECT village_code, sls_code, sum(expected_households) AS target"
            f" FROM {db}.targets FINAL WHERE district_code = {{district:String}}"
            " GROUP BY village_code, sls_code) AS t"
            " FULL OUTER JOIN (SELECT village_code, sls_code, count() AS visited,"
            " countIf(result = 'COMPLETE') AS enumerated"
            f" FROM {db}.households FINAL WHERE district_code = {{district:String}}"
            " GROUP BY village_code, sls_code) AS h USING (village_code, sls_code)"
            " ORDER BY village_code, sls_code"
        ),
        "quality": (
            f"SELECT enumerator_id, {', '.join(QUALITY_COLUMNS)}"  # noqa: S608
            f" FROM {db}.data_quality_by_enumerator WHERE {ids}"
        ),
        "reviews": (
            f"SELECT enumerator_id, {', '.join(REVIEW_STATUSES)}"  # noqa: S608
            f" FROM {db}.review_progress_by_enumerator WHERE {ids}"
        ),
        "activity": (
            "SELECT enumerator_id, days_without_sync, active, last_event_at"  # noqa: S608
            f" FROM {db}.enumerator_activity WHERE {ids}"
        ),
    }


def merge_enumerators(
    progress: Iterable[Row],
    quality: Iterable[Row],
    reviews: Iterable[Row],
    activity: Iterable[Row],
) -> list[Row]:
    """Each enumerator's progress row with its quality, review counts, activity and flags.

    Missing figures are 0 for counts and ``None`` for rates and activity: an
    enumerator with nothing reviewed has 0 awaiting, one whose tablet never
    sent paradata has no "days without sync" (and so no NO_SYNC flag).
    """
    by_id = {
        name: {str(row["enumerator_id"]): row for row in rows}
        for name, rows in (("quality", quality), ("reviews", reviews), ("activity", activity))
    }
    merged: list[Row] = []
    for row in progress:
        enumerator = str(row["enumerator_id"])
        quality_row = by_id["quality"].get(enumerator, {})
        review_row = by_id["reviews"].get(enumerator, {})
        activity_row = by_id["activity"].get(enumerator, {})
        out = dict(row)
        for column in QUALITY_COLUMNS:
            value = quality_row.get(column)
            out[column] = value if value is not None or column.endswith("_rate") else 0
        for status in REVIEW_STATUSES:
            out[status] = int(review_row.get(status) or 0)
        out["days_without_sync"] = activity_row.get("days_without_sync")
        out["active"] = bool(activity_row.get("active") or False)
        out["flags"] = enumerator_flags(out)
        merged.append(out)
    return merged


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def team_rows(enumerators: Sequence[Row]) -> list[Row]:
    """The district's teams (supervisors) from its enumerators' merged rows. Pure.

    Counts are summed and rates recomputed from the sums (as
    ``data_quality_by_team`` does), so the team line always agrees with the
    enumerator lines above it on the same page.
    """
    teams: dict[str, Row] = {}
    for row in enumerators:
        supervisor = str(row.get("supervisor_id") or "")
        team = teams.setdefault(
            supervisor,
            {"supervisor_id": supervisor, "enumerators": 0, "visited": 0, "rejected": 0}
            | {"with_warnings": 0}
            | dict.fromkeys(REVIEW_STATUSES, 0),
        )
        team["enumerators"] += 1
        for column in ("visited", "rejected", "with_warnings", *REVIEW_STATUSES):
            team[column] += int(row.get(column) or 0)
    out = []
    for supervisor in sorted(teams):
        team = teams[supervisor]
        team["rejection_rate"] = _rate(team["rejected"], team["visited"] + team["rejected"])
        team["warning_rate"] = _rate(team["with_warnings"], team["visited"])
        out.append(team)
    return out


def district_json(
    client: Client, district: str, *, database: str = DEFAULT_DATABASE
) -> dict[str, Any]:
    """One district's page: its progress, review counts, villages, SLS units, people, teams.

    ``district`` is a region-master (``35.09.02``) or BPS (``3509010``) code,
    already checked by the caller; a district nobody knows answers with an
    empty page (``"district": null``), not an error.
    """
    queries = district_sql(database)
    found = _rows(client, queries["code"], {"district": district})
    code = str(found[0]["code"]) if found else district
    rows = progress_json(client, "district", code, database=database)
    review = _rows(client, queries["review"], {"district": code})
    progress = progress_json(client, "enumerator", code, database=database)
    ids = {"ids": [str(row["enumerator_id"]) for row in progress]}
    enumerators = merge_enumerators(
        progress,
        _rows(client, queries["quality"], ids),
        _rows(client, queries["reviews"], ids),
        _rows(client, queries["activity"], ids),
    )
    return {
        "code": code,
        "district": rows[0] if rows else None,
        "review": {status: int((review or [{}])[0].get(status) or 0) for status in REVIEW_STATUSES},
        "villages": progress_json(client, "village", code, database=database),
        "sls": _rows(client, queries["sls"], {"district": code}),
        "enumerators": enumerators,
        "teams": team_rows(enumerators),
        "as_of": _now_iso(),
    }


# --- rejections ---------------------------------------------------------------------


def _rejection_filter(district: str | None, enumerator: str | None) -> tuple[str, Row]:
    conditions, parameters = [], {}
    if district:
        conditions.append(
            "(district_code = {district:String} OR bps_district_code = {district:String})"
        )
        parameters["district"] = district
    if enumerator:
        conditions.append("enumerator_id = {enumerator:String}")
        parameters["enumerator"] = enumerator
    return (f" WHERE {' AND '.join(conditions)}" if conditions else ""), parameters


def rejections_sql(
    limit: int = 50,
    district: str | None = None,
    enumerator: str | None = None,
    *,
    database: str = DEFAULT_DATABASE,
) -> tuple[dict[str, str], Row]:
    """The rejections page's queries (recent, by reason / district / enumerator, total). Pure.

    Only ``rejections`` (codes, field paths, ids) is read: the original
    bytes and the messages quoting values stay in ``rejection_payloads``.
    ``by_reason`` counts each message once per distinct code, as the board
    does. Recent means newest received (Kafka's timestamp).
    """
    check_names(database, None)
    table = f"{database}.rejections FINAL"
    where, parameters = _rejection_filter(district, enumerator)

    def grouped(column: str) -> str:
        return (
            f"SELECT {column} AS key, count() AS n FROM {table}{where}"  # noqa: S608
            " GROUP BY key ORDER BY n DESC, key"
        )

    queries = {
        "recent": (
            "SELECT received_at AS at, household_id, enumerator_id, district_code,"  # noqa: S608
            f" reason_codes, reason_fields AS fields FROM {table}{where}"
            f" ORDER BY received_at DESC, source_partition, source_offset DESC LIMIT {int(limit)}"
        ),
        "by_reason": (
            f"SELECT reason AS key, count() AS n FROM {table}"  # noqa: S608
            f" ARRAY JOIN arrayDistinct(reason_codes) AS reason{where}"
            " GROUP BY key ORDER BY n DESC, key"
        ),
        "by_district": grouped("district_code"),
        "by_enumerator": grouped("enumerator_id"),
        "total": f"SELECT count() AS n FROM {table}{where}",  # noqa: S608
    }
    return queries, parameters


def rejections_json(
    client: Client,
    *,
    limit: int = 50,
    district: str | None = None,
    enumerator: str | None = None,
    database: str = DEFAULT_DATABASE,
) -> dict[str, Any]:
    """The rejections feed and its counts; an undecodable message counts under ``""``."""
    queries, parameters = rejections_sql(limit, district, enumerator, database=database)

    def counts(name: str) -> dict[str, int]:
        return {str(r["key"]): int(r["n"]) for r in _rows(client, queries[name], parameters)}

    return {
        "recent": _rows(client, queries["recent"], parameters),
        "by_reason": counts("by_reason"),
        "by_district": counts("by_district"),
        "by_enumerator": counts("by_enumerator"),
        "total": int(_rows(client, queries["total"], parameters)[0]["n"]),
        "as_of": _now_iso(),
    }


# --- review queue -------------------------------------------------------------------


def reviews_sql(
    enumerators: Sequence[str] | None, limit: int = 100, *, database: str = DEFAULT_DATABASE
) -> tuple[dict[str, str], Row]:
    """The review queue (oldest first) and the counts by status, for some enumerators. Pure.

    ``enumerators=None`` is everyone (an operator's read-only view); an empty
    list is no one, never everyone: a supervisor whose team is empty sees an
    empty queue. ``submitted_at`` is when Kafka received the revision (the
    tablet's finish time for rows from before that was recorded).
    """
    check_names(database, None)
    db = database
    parameters: Row = {}
    only = ""
    if enumerators is not None:
        only = " AND has({enumerators:Array(String)}, enumerator_id)"
        parameters["enumerators"] = list(enumerators)
    awaiting = (
        "SELECT s.household_id AS household_id, h.submission_id AS submission_id,"  # noqa: S608
        " s.enumerator_id AS enumerator_id, s.district_code AS district_code,"
        " s.village_code AS village_code, h.sls_code AS sls_code, s.revision AS revision,"
        " ifNull(h.received_at, h.finished_at) AS submitted_at,"
        " h.warning_codes AS warning_codes, s.status AS status"
        f" FROM (SELECT * FROM {db}.interview_status WHERE status = 'AWAITING_REVIEW'{only}) AS s"
        " INNER JOIN (SELECT household_id, revision, submission_id, sls_code, received_at,"
        f" finished_at, warning_codes FROM {db}.households FINAL WHERE 1{only}) AS h"
        " ON h.household_id = s.household_id AND h.revision = s.revision"
        f" ORDER BY submitted_at, household_id LIMIT {int(limit)}"
    )
    counts = (
        "SELECT countIf(status = 'AWAITING_REVIEW') AS awaiting_review,"  # noqa: S608
        " countIf(status = 'APPROVED') AS approved, countIf(status = 'RETURNED') AS returned,"
        " countIf(status = 'REJECTED_FINAL') AS rejected_final"
        f" FROM {db}.interview_status WHERE 1{only}"
    )
    return {"awaiting": awaiting, "counts": counts}, parameters


def reviews_json(
    client: Client,
    enumerators: Sequence[str] | None,
    *,
    limit: int = 100,
    database: str = DEFAULT_DATABASE,
) -> dict[str, Any]:
    """Interviews awaiting review and the counts by status (ids and codes, no comments)."""
    queries, parameters = reviews_sql(enumerators, limit, database=database)
    counts = _rows(client, queries["counts"], parameters)[0]
    return {
        "awaiting": _rows(client, queries["awaiting"], parameters),
        "counts": {status: int(counts[status] or 0) for status in REVIEW_STATUSES},
        "as_of": _now_iso(),
    }


# --- health -------------------------------------------------------------------------


def freshness_sql(database: str = DEFAULT_DATABASE, window_s: int = FRESHNESS_WINDOW_S) -> str:
    """p50/p95/p99 of ``written_at - received_at`` over the rows written in the last window.

    The same definition as the board's freshness (sinks.queries.board_sql),
    with the tail Prometheus' latency histogram shows too.
    """
    check_names(database, None)
    return (
        "SELECT count() AS rows_written,"  # noqa: S608 - names are checked identifiers
        " quantilesExact(0.5, 0.95, 0.99)(dateDiff('millisecond', received_at, written_at))"
        f" AS freshness_ms FROM {database}.households"
        f" WHERE written_at > now64(3) - INTERVAL {int(window_s)} SECOND"
        " AND received_at IS NOT NULL"
    )


def freshness_json(client: Client, *, database: str = DEFAULT_DATABASE) -> dict[str, Any]:
    """``{"p50", "p95", "p99"}`` in milliseconds, ``None`` each when nothing was written."""
    row = _rows(client, freshness_sql(database))[0]
    values = row["freshness_ms"] if row["rows_written"] else [None, None, None]
    return dict(zip(("p50", "p95", "p99"), values, strict=True))

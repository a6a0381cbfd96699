"""Re-driving quarantined originals: which ones, and the audit of what became of them.

``regsosek rejections reprocess`` re-publishes rejected originals so that the
worker judges them again under the current rules (the frame corrected, a rule
relaxed). This module holds its ClickHouse half: the selection from
``rejection_payloads`` (:func:`select_originals`), the ``reprocess_audit`` rows
(:func:`redriven_block`, :func:`judged_block`) and the report
(:func:`report`). The Kafka half (headers, signing, publishing, the dedup
bypass) lives in ``streams.worker.redrive``.

What is never selected, and why:

* rejections of other topics than the submissions topic (a review decision
  re-published as a submission would be nonsense);
* the rejection of a re-drive itself: that is an outcome, reported, not a new
  quarantine entry (``--again`` re-drives the original once more instead);
* without ``again``: any source offset, or submission id, already re-driven
  (a ``redriven`` audit row), so running the same command twice re-drives
  nothing the second time;
* originals kept only in part (over the size limit: the head, its size and
  digest): the whole message no longer exists anywhere to re-drive.

One original per submission id: an app's retries may have been rejected at
several offsets (ownership refusals do not remember the id), and re-driving
each would judge the same send twice; the newest is taken.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sinks.migrations import DEFAULT_DATABASE, check_names
from sinks.rows import Block

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

AUDIT_TABLE = "reprocess_audit"
REDRIVEN = "redriven"
JUDGED = "judged"
#: Outcomes of a judged delivery; ``pending`` until the worker has judged one.
PENDING, ACCEPTED, REJECTED, DROPPED = "pending", "accepted", "rejected", "dropped"
#: Most originals one request re-drives; more are re-driven by running it again.
MAX_SELECTED = 10_000


@dataclass(frozen=True)
class ReprocessFilter:
    """Which quarantined originals to re-drive; every given part must match (AND).

    ``reasons``: any of these reason codes; ``since``/``until``: ``received_at``
    in [since, until); ``district``: region-master or BPS district code.
    """

    reasons: tuple[str, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    enumerator: str | None = None
    district: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The filter as sent to the worker and kept in the audit (times in ISO 8601)."""
        out = asdict(self)
        out["reasons"] = list(self.reasons)
        for name in ("since", "until"):
            value = out[name]
            out[name] = value.isoformat() if value is not None else None
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReprocessFilter:
        """The inverse of :meth:`to_json`; raises ValueError on a wrong shape."""
        unknown = set(data) - {"reasons", "since", "until", "enumerator", "district"}
        if unknown:
            raise ValueError(f"unknown filter field(s): {', '.join(sorted(unknown))}")
        reasons = data.get("reasons") or []
        if not isinstance(reasons, list) or not all(isinstance(r, str) for r in reasons):
            raise ValueError("reasons must be a list of reason codes")

        def when(name: str) -> datetime | None:
            value = data.get(name)
            if value is None:
                return None
            parsed = datetime.fromisoformat(str(value))
            if parsed.tzinfo is None:
                raise ValueError(f"{name} needs a time zone")
            return parsed

        def text(name: str) -> str | None:
            value = data.get(name)
            return None if value in (None, "") else str(value)

        return cls(
            tuple(reasons), when("since"), when("until"), text("enumerator"), text("district")
        )

    def conditions(self) -> tuple[list[str], dict[str, Any]]:
        """SQL conditions on ``rejection_payloads`` and their parameters. Pure."""
        where: list[str] = []
        parameters: dict[str, Any] = {}
        if self.reasons:
            where.append("hasAny(reason_codes, {reasons:Array(String)})")
            parameters["reasons"] = list(self.reasons)
        if self.since is not None:
            where.append("received_at >= {since:DateTime64(3, 'UTC')}")
            parameters["since"] = self.since
        if self.until is not None:
            where.append("received_at < {until:DateTime64(3, 'UTC')}")
            parameters["until"] = self.until
        if self.enumerator:
            where.append("enumerator_id = {enumerator:String}")
            parameters["enumerator"] = self.enumerator
        if self.district:
            where.append(
                "(district_code = {district:String} OR bps_district_code = {district:String})"
            )
            parameters["district"] = self.district
        return where, parameters


@dataclass(frozen=True)
class Original:
    """One quarantined original chosen for a re-drive: where it was, who, and its bytes."""

    source_topic: str
    source_partition: int
    source_offset: int
    submission_id: str | None
    household_id: str | None
    enumerator_id: str
    district_code: str
    reason_codes: tuple[str, ...]
    received_at: datetime
    value: bytes = field(repr=False)

    @property
    def source(self) -> str:
        """``topic/partition/offset``: how the header and the listing name it."""
        return f"{self.source_topic}/{self.source_partition}/{self.source_offset}"

    def listing(self) -> dict[str, Any]:
        """What a dry run shows: everything but the bytes."""
        return {
            "source": self.source,
            "submission_id": self.submission_id,
            "household_id": self.household_id,
            "enumerator_id": self.enumerator_id,
            "district_code": self.district_code,
            "reason_codes": list(self.reason_codes),
            "received_at": self.received_at.isoformat(),
            "size": len(self.value),
        }


def selection_sql(
    filt: ReprocessFilter,
    *,
    topic: str,
    again: bool,
    limit: int = MAX_SELECTED,
    database: str = DEFAULT_DATABASE,
) -> tuple[str, dict[str, Any]]:
    """The query choosing the originals to re-drive, and its parameters. Pure."""
    check_names(database, None)
    db = database
    where, parameters = filt.conditions()
    where = [
        "source_topic = {topic:String}",
        "original_size = length(original)",  # kept whole
        "(source_topic, source_partition, source_offset) NOT IN ("  # noqa: S608 - checked name
        f"SELECT delivery_topic, delivery_partition, delivery_offset FROM {db}.{AUDIT_TABLE}"
        f" WHERE event = '{JUDGED}')",
        *where,
    ]
    if not again:
        where += [
            "(source_topic, source_partition, source_offset) NOT IN ("  # noqa: S608 - checked name
            f"SELECT source_topic, source_partition, source_offset FROM {db}.{AUDIT_TABLE}"
            f" WHERE event = '{REDRIVEN}')",
            "ifNull(submission_id, '') NOT IN ("  # noqa: S608 - checked name
            f"SELECT assumeNotNull(submission_id) FROM {db}.{AUDIT_TABLE}"
            f" WHERE event = '{REDRIVEN}' AND submission_id IS NOT NULL)",
        ]
    parameters |= {"topic": topic, "limit": limit}
    sql = (
        "SELECT source_topic, source_partition, source_offset, submission_id, household_id,"  # noqa: S608 - checked name, values bound
        " enumerator_id, district_code, reason_codes, received_at, original"
        f" FROM {db}.rejection_payloads FINAL"
        f" WHERE {' AND '.join(where)}"
        " ORDER BY received_at DESC, source_partition, source_offset DESC"
        " LIMIT 1 BY ifNull(submission_id, concat(toString(source_partition), '/',"
        " toString(source_offset)))"
        " LIMIT {limit:UInt32}"
    )
    return sql, parameters


def select_originals(
    client: Client,
    filt: ReprocessFilter,
    *,
    topic: str,
    again: bool,
    limit: int = MAX_SELECTED,
    database: str = DEFAULT_DATABASE,
) -> list[Original]:
    """The originals to re-drive, oldest first (the order they were received in)."""
    sql, parameters = selection_sql(filt, topic=topic, again=again, limit=limit, database=database)
    result = client.query(sql, parameters=parameters, column_formats={"original": "bytes"})
    originals = [
        Original(
            source_topic=str(row["source_topic"]),
            source_partition=int(row["source_partition"]),
            source_offset=int(row["source_offset"]),
            submission_id=row["submission_id"],
            household_id=row["household_id"],
            enumerator_id=str(row["enumerator_id"]),
            district_code=str(row["district_code"]),
            reason_codes=tuple(row["reason_codes"]),
            received_at=row["received_at"],
            value=bytes(row["original"]),
        )
        for row in result.named_results()
    ]
    originals.reverse()
    return originals


def redriven_block(
    originals: Sequence[tuple[str, Original]],
    *,
    requested_by: str,
    filt: ReprocessFilter,
    at: datetime,
) -> Block:
    """``redriven`` audit rows of (re-drive id, original) pairs about to be published."""
    text = json.dumps(filt.to_json(), sort_keys=True)
    rows = [
        _row(
            redrive_id,
            REDRIVEN,
            at,
            source=(o.source_topic, o.source_partition, o.source_offset),
            ids=(o.submission_id, o.household_id),
            requested_by=requested_by,
            filt=text,
            outcome=PENDING,
        )
        for redrive_id, o in originals
    ]
    return Block.from_dicts(AUDIT_TABLE, rows)


@dataclass(frozen=True)
class Judgement:
    """The worker's decision on one delivery of a re-drive."""

    redrive_id: str
    source: tuple[str, int, int]
    delivery: tuple[str, int, int]
    submission_id: str | None
    household_id: str | None
    outcome: str
    reason_codes: tuple[str, ...] = ()


def judged_block(judgements: Sequence[Judgement], at: datetime) -> Block:
    """``judged`` audit rows, written by the worker with the batch that decided them."""
    rows = [
        _row(
            j.redrive_id,
            JUDGED,
            at,
            source=j.source,
            ids=(j.submission_id, j.household_id),
            delivery=j.delivery,
            outcome=j.outcome,
            reason_codes=list(j.reason_codes),
        )
        for j in judgements
    ]
    return Block.from_dicts(AUDIT_TABLE, rows)


def _row(
    redrive_id: str,
    event: str,
    at: datetime,
    *,
    source: tuple[str, int, int],
    ids: tuple[str | None, str | None],
    requested_by: str = "",
    filt: str = "",
    delivery: tuple[str, int, int] = ("", 0, 0),
    outcome: str,
    reason_codes: list[str] | None = None,
) -> dict[str, Any]:
    return {
        "redrive_id": redrive_id,
        "event": event,
        "at": at,
        "requested_by": requested_by,
        "filter": filt,
        "source_topic": source[0],
        "source_partition": source[1],
        "source_offset": source[2],
        "submission_id": ids[0],
        "household_id": ids[1],
        "delivery_topic": delivery[0],
        "delivery_partition": delivery[1],
        "delivery_offset": delivery[2],
        "outcome": outcome,
        "reason_codes": reason_codes or [],
    }


def report_sql(
    *, limit: int = 1000, database: str = DEFAULT_DATABASE
) -> tuple[str, dict[str, Any]]:
    """One row per re-drive, newest first: who, when, what, and its first judgement. Pure.

    The first delivery judged is the re-drive's outcome; later ones are
    redeliveries (a producer retry, a copy sent again), counted and expected
    to be ``dropped``.
    """
    check_names(database, None)
    db = database
    sql = (
        "SELECT r.redrive_id AS redrive_id, r.at AS redriven_at, r.requested_by AS requested_by,"  # noqa: S608 - checked name
        " r.filter AS filter,"
        " concat(r.source_topic, '/', toString(r.source_partition), '/',"
        " toString(r.source_offset)) AS source,"
        " r.submission_id AS submission_id, r.household_id AS household_id,"
        f" if(j.deliveries = 0, '{PENDING}', j.first_outcome) AS outcome,"
        " j.first_codes AS reason_codes,"
        " if(j.deliveries = 0, NULL, j.first_at) AS judged_at,"
        " j.deliveries AS deliveries,"
        f" j.dropped - if(j.first_outcome = '{DROPPED}', 1, 0) AS redeliveries_dropped"
        f" FROM (SELECT * FROM {db}.{AUDIT_TABLE} FINAL WHERE event = '{REDRIVEN}') AS r"
        " LEFT JOIN ("
        " SELECT redrive_id, count() AS deliveries,"
        " argMin(outcome, (at, delivery_offset)) AS first_outcome,"
        " argMin(reason_codes, (at, delivery_offset)) AS first_codes,"
        " min(at) AS first_at,"
        f" countIf(outcome = '{DROPPED}') AS dropped"
        f" FROM {db}.{AUDIT_TABLE} FINAL WHERE event = '{JUDGED}' GROUP BY redrive_id"
        " ) AS j ON j.redrive_id = r.redrive_id"
        " ORDER BY redriven_at DESC, source"
        " LIMIT {limit:UInt32}"
    )
    return sql, {"limit": limit}


def report(
    client: Client, *, limit: int = 1000, database: str = DEFAULT_DATABASE
) -> list[dict[str, Any]]:
    """The report's rows as JSON-ready dicts (times in ISO 8601)."""
    sql, parameters = report_sql(limit=limit, database=database)
    rows = []
    for row in client.query(sql, parameters=parameters).named_results():
        rows.append(
            {
                key: value.isoformat() if isinstance(value, datetime) else value
                for key, value in row.items()
            }
            | {"reason_codes": list(row["reason_codes"] or [])}
        )
    return rows

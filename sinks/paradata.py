"""Rows of ``enumerator_events`` (migration 0009) from decoded EnumeratorEvents. Pure.

GPS is coarsened like the households' (:func:`sinks.privacy.coarse_coordinate`):
a ping every few minutes at door precision would trace an enumerator's day
and the doors they knocked on; a 100 m place is enough to see where a team
works. Everything else kept is an id or a count.

The two thresholds of the views live in the SQL (ClickHouse views take no
parameters); their values are named here for the tests and the docs, and a
unit test checks that the SQL uses the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sinks.privacy import coarse_coordinate
from sinks.rows import Block

TABLE = "enumerator_events"

#: Minutes without any event after which an enumerator is no longer active: apps send
#: a HEARTBEAT every 10-15 minutes while open, so two missed ones.
ACTIVE_MINUTES = 30
#: An interview shorter than this is "very short": a complete K form (location, housing,
#: every member's items, assets, programmes) cannot be asked of a family in 10 minutes.
VERY_SHORT_INTERVIEW_SECONDS = 600

COLUMNS = [
    "event_id",
    "enumerator_id",
    "event_type",
    "at",
    "household_id",
    "village_code",
    "sls_code",
    "bps_district_code",
    "latitude",
    "longitude",
    "gps_accuracy_m",
    "pending_count",
    "app_version",
    "device_id",
    "source_topic",
    "source_partition",
    "source_offset",
    "received_at",
    "written_at",
]

#: A BPS village code: province 2 + regency 2 + district 3 + village 3 digits.
_BPS_VILLAGE_DIGITS = 10
_BPS_DISTRICT_DIGITS = 7


def bps_district(village_code: str | None) -> str:
    """The 7-digit BPS district of a 10-digit BPS village code; '' for anything else."""
    code = (village_code or "").strip()
    if len(code) == _BPS_VILLAGE_DIGITS and code.isdigit():
        return code[:_BPS_DISTRICT_DIGITS]
    return ""


def event_row(
    record: Mapping[str, Any],
    source: tuple[str, int, int],
    received_at: datetime,
    written_at: datetime,
) -> list[Any]:
    """One row in :data:`COLUMNS` order; ``source`` is (topic, partition, offset)."""
    village = str(record.get("village_code") or "")
    topic, partition, offset = source
    return [
        str(record["event_id"]),
        str(record["enumerator_id"]).strip(),
        str(record["event_type"]),
        record["at"],
        record.get("household_id"),
        village,
        str(record.get("sls_code") or ""),
        bps_district(village),
        coarse_coordinate(record.get("latitude")),
        coarse_coordinate(record.get("longitude")),
        record.get("gps_accuracy_m"),
        record.get("pending_count"),
        str(record.get("app_version") or ""),
        str(record.get("device_id") or ""),
        topic,
        partition,
        offset,
        received_at,
        written_at,
    ]


def event_block(rows: list[list[Any]]) -> Block:
    """The ``enumerator_events`` block of a batch."""
    return Block(TABLE, list(COLUMNS), rows)

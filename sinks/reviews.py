"""Rows of the ``reviews`` table: one per accepted supervisor review decision. No I/O.

``reviews`` keeps the supervisor's comment (free text that may name family
members, so it is restricted, like ``rejection_payloads``); a materialized
view copies every other column into ``review_decisions``, which analysts
read and the ``interview_status`` view is built on (migration 0008).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sinks.rows import Block

REVIEWS_TABLE = "reviews"

#: Where one review was read: (topic, partition, offset, Kafka timestamp).
Position = tuple[str, int, int, datetime]


def review_row(review: Mapping[str, Any], position: Position, written_at: datetime) -> list[Any]:
    """One ``reviews`` row, in :data:`REVIEW_COLUMNS` order."""
    topic, partition, offset, received_at = position
    return [
        review["review_id"],
        review["household_id"],
        review["submission_id"],
        int(review["revision"]),
        review["enumerator_id"],
        review["supervisor_id"],
        review["decision"],
        review.get("comment"),
        review["decided_at"],
        topic,
        partition,
        offset,
        received_at,
        written_at,
    ]


REVIEW_COLUMNS = [
    "review_id",
    "household_id",
    "submission_id",
    "revision",
    "enumerator_id",
    "supervisor_id",
    "decision",
    "comment",
    "decided_at",
    "source_topic",
    "source_partition",
    "source_offset",
    "received_at",
    "written_at",
]


def review_block(
    reviews: Sequence[tuple[Mapping[str, Any], Position]], written_at: datetime
) -> Block:
    """The ``reviews`` block of a batch's accepted reviews."""
    rows = [review_row(review, position, written_at) for review, position in reviews]
    return Block(REVIEWS_TABLE, list(REVIEW_COLUMNS), rows)

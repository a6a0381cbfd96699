"""Insert one computed batch, narrowing a refusal to the rows that cause it.

Runs in the worker's ClickHouse thread. Tables go in one after the other
(households, members, rejection payloads), each under the batch's token, so a
batch read again after a crash is dropped by the engine.

When the engine refuses rows for good (:func:`sinks.writer.is_row_error`: a
constraint, a value out of range) the table's rows are split in halves and
inserted again, under tokens derived from the batch's, down to the single
households that are refused. Those leave the later tables and the valid topic
and become rejections (``INSERT_REFUSED``) with their original bytes; the rest
of the batch is written once. A refusal of a whole table (missing, read-only,
no connection) is not the rows' fault: it is raised as ``SinkUnavailable`` and
the caller holds the batch and retries.

A household refused at ``members`` after its ``households`` row went in keeps
that row; its rejection says so. A rejection payload row the engine refuses is
dropped from the table only (logged): the Rejection record with the original
bytes is still published on the rejected topic.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from processors.records import rejection
from processors.rules import RULES_BY_CODE
from sinks.rows import Block, rejection_block
from sinks.writer import ClickHouseWriter, SinkUnavailable
from streams.worker.compute import Computed, Encoder, HouseholdRows

log = logging.getLogger(__name__)

#: Where a refused household's original is: (partition, offset) -> (topic, bytes).
Originals = Callable[[tuple[int, int]], tuple[str, bytes]]


@dataclass
class Inserted:
    """What went in, and what the engine refused for good."""

    rows: dict[str, int] = field(default_factory=dict)
    refused: list[tuple[HouseholdRows, str]] = field(default_factory=list)
    #: Rejections of the refused households, to publish: (key, Rejection bytes).
    quarantined: list[tuple[bytes | None, bytes]] = field(default_factory=list)


def stamp(rows: Sequence[list[Any]], columns: Sequence[str], when: datetime) -> None:
    """Set ``written_at`` of rows built in the compute process to the insert's time."""
    if "written_at" not in columns:
        return
    index = list(columns).index("written_at")
    for row in rows:
        row[index] = when


class BatchInserter:
    """The insert half of a batch, synchronous, for the ClickHouse thread."""

    def __init__(self, writer: ClickHouseWriter, encode_rejected: Encoder) -> None:
        self._writer = writer
        self._encode_rejected = encode_rejected

    def insert(self, batch: Computed, token: str, now: datetime, originals: Originals) -> Inserted:
        """Every table of the batch; raises SinkUnavailable only for a transient refusal."""
        out = Inserted()
        households = batch.households
        stamp([h.household for h in households], batch.household_columns, now)
        stamp([m for h in households for m in h.members], batch.member_columns, now)
        stamp(batch.rejection_rows, batch.rejection_columns, now)
        refused: dict[int, str] = {}
        self._table(
            "households",
            batch.household_columns,
            [(i, [h.household]) for i, h in enumerate(households)],
            token=token,
            refused=refused,
            out=out,
        )
        self._table(
            "members",
            batch.member_columns,
            [(i, h.members) for i, h in enumerate(households) if i not in refused and h.members],
            token=token,
            refused=refused,
            out=out,
        )
        dropped: dict[int, str] = {}
        rows = [(i, [row]) for i, row in enumerate(batch.rejection_rows)]
        self._table(
            "rejection_payloads",
            batch.rejection_columns,
            rows,
            token=token,
            refused=dropped,
            out=out,
        )
        for index, why in dropped.items():
            log.error("rejection payload row %d of %s refused, not stored: %s", index, token, why)
        out.refused = [(households[i], why) for i, why in sorted(refused.items())]
        if out.refused:
            self._quarantine(out, token, now, originals, batch.rules_version)
        return out

    def _table(
        self,
        table: str,
        columns: list[str],
        items: list[tuple[int, list[list[Any]]]],
        *,
        token: str,
        refused: dict[int, str],
        out: Inserted,
    ) -> None:
        """Insert ``items`` (index, rows); record in ``refused`` the indexes refused for good."""
        if not items:
            return
        block = Block(table, columns, [row for _, rows in items for row in rows])
        try:
            self._writer.write([block], token)
        except SinkUnavailable as exc:
            if not exc.permanent:
                raise
            if len(items) == 1:
                refused[items[0][0]] = str(exc.__cause__ or exc)[:300]
                return
            middle = len(items) // 2
            for half, part in ((items[:middle], "a"), (items[middle:], "b")):
                self._table(table, columns, half, token=f"{token}/{part}", refused=refused, out=out)
            return
        out.rows[table] = out.rows.get(table, 0) + len(block.rows)

    def _quarantine(
        self, out: Inserted, token: str, now: datetime, originals: Originals, rules_version: str
    ) -> None:
        """Rejections of the refused households: a payload row each, and the record to publish."""
        records = []
        for household, why in out.refused:
            topic, original = originals(household.source)
            finding = RULES_BY_CODE["INSERT_REFUSED"].finding(None, error=why[:200])
            record = rejection(
                original,
                topic,
                household.source[0],
                household.source[1],
                now,
                [finding],
                None,
                None,
                key=household.household_id,
                district=household.district,
            )
            record["submission_id"] = household.submission_id
            record["enumerator_id"] = household.enumerator_id
            records.append(record)
            log.error(
                "household %s refused by ClickHouse, quarantined: %s", household.household_id, why
            )
        block = rejection_block(records, written_at=now, rules_version=rules_version)
        dropped: dict[int, str] = {}
        items = [(i, [row]) for i, row in enumerate(block.rows)]
        self._table(
            block.table,
            block.columns,
            items,
            token=f"{token}/quarantine",
            refused=dropped,
            out=out,
        )
        for index, why in dropped.items():
            log.error("quarantine row %d of %s refused, not stored: %s", index, token, why)
        out.quarantined = [
            (record["household_id"].encode(), self._encode_rejected(record)) for record in records
        ]

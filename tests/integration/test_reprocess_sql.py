"""The reprocess selection and report on the real engine: filters, exclusions, outcomes."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from schemas.regions import load_regions
from sinks.migrations import migrate
from sinks.reprocess import (
    ACCEPTED,
    DROPPED,
    Judgement,
    ReprocessFilter,
    judged_block,
    redriven_block,
    report,
    select_originals,
)
from sinks.rows import Block, rejection_block
from tests import builders as b

pytestmark = pytest.mark.integration

TOPIC = "regsosek.submissions"
DAY = dt.datetime(2022, 10, 20, tzinfo=dt.UTC)


def _reject(offset: int, **fields: Any) -> dict[str, Any]:
    reasons = [{"code": fields.pop("code", "OUTSIDE_ASSIGNMENT"), "message": "m"}]
    return b.rejection(
        source_topic=fields.pop("topic", TOPIC),
        source_partition=0,
        source_offset=offset,
        original=fields.pop("original", f"bytes-{offset}".encode()),
        submission_id=fields.pop("submission_id", f"s{offset}"),
        household_id=f"h{offset}",
        enumerator_id=fields.pop("enumerator_id", "0412"),
        district_code="35.09.02",
        reasons=reasons,
        received_at=DAY + dt.timedelta(hours=offset),
        **fields,
    )


def _insert(client: Client, database: str, block: Block) -> None:
    client.insert(block.table, block.rows, column_names=block.columns, database=database)


@pytest.fixture
def seeded(clickhouse_client: Client, scratch_database: str) -> tuple[Client, str]:
    migrate(clickhouse_client, database=scratch_database)
    rejections = [
        _reject(1),
        _reject(2, code="NIK_FORMAT"),
        _reject(3, enumerator_id="0413"),
        _reject(4, submission_id="s1"),  # a retry of s1, rejected again later
        _reject(5, topic="regsosek.reviews"),
        _reject(6, original=b"head", original_size=9_000_000, original_sha256="0" * 64),
        _reject(7, submission_id=None),  # undecodable: no submission id
    ]
    block = rejection_block(rejections, regions=load_regions())  # fills the BPS district code
    _insert(clickhouse_client, scratch_database, block)
    return clickhouse_client, scratch_database


def _offsets(
    client: Client, database: str, filt: ReprocessFilter, *, again: bool = False
) -> list[int]:
    chosen = select_originals(client, filt, topic=TOPIC, again=again, database=database)
    return [o.source_offset for o in chosen]


def test_filters_choose_and_the_newest_rejection_of_a_send_wins(seeded: tuple[Client, str]) -> None:
    client, db = seeded
    assert _offsets(client, db, ReprocessFilter()) == [2, 3, 4, 7]  # oldest first
    assert _offsets(client, db, ReprocessFilter(reasons=("OUTSIDE_ASSIGNMENT",))) == [3, 4, 7]
    assert _offsets(client, db, ReprocessFilter(enumerator="0413")) == [3]
    since = ReprocessFilter(since=DAY + dt.timedelta(hours=3), until=DAY + dt.timedelta(hours=5))
    assert _offsets(client, db, since) == [3, 4]
    assert _offsets(client, db, ReprocessFilter(district="3509010")) == [2, 3, 4, 7]  # BPS code
    assert _offsets(client, db, ReprocessFilter(district="35.09.03")) == []
    chosen = select_originals(client, ReprocessFilter(), topic=TOPIC, again=False, database=db)
    assert chosen[0].value == b"bytes-2" and isinstance(chosen[0].value, bytes)


def test_redriven_originals_and_their_own_rejections_are_skipped(
    seeded: tuple[Client, str],
) -> None:
    client, db = seeded
    chosen = select_originals(client, ReprocessFilter(), topic=TOPIC, again=False, database=db)
    first = [(f"r{o.source_offset}", o) for o in chosen if o.source_offset in (3, 4)]
    _insert(client, db, redriven_block(first, requested_by="Ani", filt=ReprocessFilter(), at=DAY))
    # the re-drive of offset 3, read at offset 20, rejected again there: an outcome, not a new entry
    _insert(client, db, rejection_block([_reject(20, submission_id="s3")]))
    judged = [
        Judgement("r3", (TOPIC, 0, 3), (TOPIC, 0, 20), "s3", "h3", "rejected", ("X",)),
        Judgement("r4", (TOPIC, 0, 4), (TOPIC, 0, 21), "s1", "h4", ACCEPTED),
        Judgement("r4", (TOPIC, 0, 4), (TOPIC, 0, 22), None, "h4", DROPPED),
    ]
    _insert(client, db, judged_block(judged, DAY + dt.timedelta(minutes=1)))
    assert _offsets(client, db, ReprocessFilter()) == [2, 7]  # s1 (offsets 1 and 4) went
    assert _offsets(client, db, ReprocessFilter(), again=True) == [2, 3, 4, 7]
    rows = {r["redrive_id"]: r for r in report(client, database=db)}
    assert rows["r4"]["outcome"] == ACCEPTED and rows["r4"]["requested_by"] == "Ani"
    assert (rows["r4"]["deliveries"], rows["r4"]["redeliveries_dropped"]) == (2, 1)
    assert (rows["r3"]["outcome"], rows["r3"]["reason_codes"]) == ("rejected", ["X"])
    assert rows["r3"]["source"] == f"{TOPIC}/0/3"

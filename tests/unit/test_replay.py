"""Replay's pure parts: which objects are replayed, the shadow DDL, the swap, the positions."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from benchmarks.report import replay_lines
from sinks.replay import ShadowWriter, derived_objects, exchange_sql, renamed
from sinks.rows import Block
from streams.worker.replay_consumer import ChangelogOnly, Progress, as_event, caught_up

#: The views of the shipped migrations: view -> (reads, writes).
VIEWS = {
    "rejections_copy_mv": ("rejection_payloads", "rejections"),
    "rejections_daily_mv": ("rejection_payloads", "rejections_daily"),
    "progress_village_daily_mv": ("households", "progress_village_daily"),
    "progress_enumerator_daily_mv": ("households", "progress_enumerator_daily"),
    "nik_households_mv": ("members", "nik_households"),
    "review_decisions_mv": ("reviews", "review_decisions"),  # another topic: not replayed
}
SINK = ("households", "members", "rejection_payloads")


def test_every_table_fed_from_the_sink_is_replayed_and_nothing_else() -> None:
    derived = derived_objects(SINK, VIEWS)
    assert set(derived.tables) == {
        *SINK,
        "rejections",
        "rejections_daily",
        "progress_village_daily",
        "progress_enumerator_daily",
        "nik_households",
    }
    assert set(derived.views) == set(VIEWS) - {"review_decisions_mv"}


def test_view_targets_are_swapped_before_their_sources() -> None:
    derived = derived_objects(SINK, VIEWS)
    order = {table: i for i, table in enumerate(derived.tables)}
    for view in derived.views:
        reads, writes = VIEWS[view]
        assert order[writes] < order[reads], view


def test_a_chain_of_views_is_followed() -> None:
    """A view on a view's target (added by a later migration) is replayed too."""
    views = {**VIEWS, "daily_rollup_mv": ("progress_village_daily", "progress_monthly")}
    derived = derived_objects(SINK, views)
    assert "progress_monthly" in derived.tables
    assert derived.tables.index("progress_monthly") < derived.tables.index("progress_village_daily")
    assert derived.views.index("daily_rollup_mv") > derived.views.index("progress_village_daily_mv")


def test_shadow_ddl_renames_every_replayed_name_and_only_those() -> None:
    create = (
        "CREATE MATERIALIZED VIEW regsosek.progress_village_daily_mv "
        "TO regsosek.progress_village_daily (`day` Date) AS SELECT day "
        "FROM regsosek.households JOIN regsosek.targets USING (village_code) "
        "WHERE x = 'regsosek.households_note'"
    )
    names = ["households", "progress_village_daily", "progress_village_daily_mv"]
    text = renamed(create, "regsosek", names, "__replay")
    assert text.startswith(
        "CREATE MATERIALIZED VIEW IF NOT EXISTS regsosek.progress_village_daily_mv__replay "
    )
    assert "TO regsosek.progress_village_daily__replay " in text
    assert "FROM regsosek.households__replay " in text
    assert "regsosek.targets USING" in text  # reference data stays the live table
    assert "'regsosek.households_note'" in text  # a longer name is not a replayed one


def test_one_statement_swaps_every_pair_in_order() -> None:
    assert exchange_sql("regsosek", ["rejections", "households"]) == (
        "EXCHANGE TABLES regsosek.rejections AND regsosek.rejections__replay, "
        "regsosek.households AND regsosek.households__replay"
    )


class Recorder:
    def __init__(self) -> None:
        self.tables: list[str] = []

    def insert(
        self,
        table: str,
        data: Sequence[Sequence[object]],
        /,
        *,
        column_names: Sequence[str],
        database: str,
        settings: dict[str, object],
    ) -> object:
        self.tables.append(table)
        return None


def test_the_shadow_writer_aims_at_the_copies_until_the_swap() -> None:
    client = Recorder()
    writer = ShadowWriter(client, "regsosek")
    block = Block("households", ["household_id"], [["h1"]])
    writer.write([block], "t:0:0-0")
    writer.suffix = ""
    writer.write([block], "t:0:1-1")
    assert client.tables == ["households__replay", "households"]
    assert block.table == "households"  # the caller's block is not changed


def test_caught_up_needs_every_partition() -> None:
    assert caught_up({0: 10, 1: 5}, {0: 10, 1: 5}, [0, 1])
    assert caught_up({0: 11, 1: 5}, {0: 10}, [0, 1])  # no live commit yet on 1: nothing to reach
    assert not caught_up({0: 10, 1: 4}, {0: 10, 1: 5}, [0, 1])


def test_a_consumer_record_reads_as_a_faust_event() -> None:
    record = SimpleNamespace(
        topic="p.submissions", partition=2, offset=7, key=b"h", value=None, timestamp=1_500
    )
    message = as_event(record).message
    assert (message.topic, message.partition, message.offset, message.key) == (
        "p.submissions",
        2,
        7,
        b"h",
    )
    assert message.value == b""
    assert message.timestamp == pytest.approx(1.5)  # Faust's seconds, not Kafka's ms


def test_only_the_changelog_is_published() -> None:
    def no_producer() -> Any:
        raise AssertionError("a replay must not publish to the output topics")

    publisher = ChangelogOnly(no_producer, "p-replay-1-household-dedup-changelog")
    asyncio.run(publisher.publish("p.submissions.valid", [(b"h", b"v")]))
    asyncio.run(publisher.publish("p.submissions.rejected", [(b"h", b"v")]))
    with pytest.raises(AssertionError):
        asyncio.run(publisher.publish("p-replay-1-household-dedup-changelog", [(b"h", b"s")]))


def test_progress_estimates_the_time_left_from_the_rate() -> None:
    assert Progress(done=400, total=1_000, rate=200.0).json()["eta_seconds"] == 3.0
    assert Progress(done=0, total=1_000, rate=0.0).json()["eta_seconds"] is None


def test_the_readme_figure_says_whether_a_million_was_measured(tmp_path: Path) -> None:
    figures = {
        "households": 200_000,
        "replay_seconds": 120.0,
        "replay_households_per_s": 1666.7,
        "seconds_per_million": 600.0,
        "live_ingest_seconds_incl_publish": 150.0,
        "cpus": 2,
        "measured_at": "2026-12-07T04:00:00+00:00",
        "command": "python -m benchmarks.replay --households 200000",
    }
    path = tmp_path / "replay.json"
    path.write_text(json.dumps(figures))
    text = " ".join(replay_lines(path))
    assert "200,000 households (one million not measured here; linearly extrapolated: 10.0" in text
    assert "`python -m benchmarks.replay --households 200000`" in text
    path.write_text(json.dumps(figures | {"households": 1_000_000}))
    assert "extrapolated" not in " ".join(replay_lines(path))
    assert replay_lines(tmp_path / "none.json") == []

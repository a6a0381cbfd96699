"""Each demo starts clean: what it deletes for a prefix, and the comparison under --keep-data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from schemas.errors import ConfigurationError
from simulator import demo, demo_reset
from simulator.truth import GroundTruth
from simulator.verify import EARLIER_RUNS_NOTE, compare
from streams.cli import cli
from streams.settings import Settings
from streams.worker.app import build_app

CLUSTER_TOPICS = [
    "__consumer_offsets",
    "regsosek.submissions",
    "regsosek.enumerator-events",
    "regsosek.submissions.valid",
    "regsosek.submissions.rejected",
    "regsosek.reviews",
    "regsosek-worker-household-dedup-changelog",
    "regsosek-worker-__assignor-__leader",
    # another environment's topics on the same cluster
    "regsosek.staging.submissions",
    "regsosek.staging-worker-household-dedup-changelog",
    "staging.submissions",
    "regsosek.submissions.archive",
    "regsosek-workers-elsewhere",
]


def test_deletes_the_platform_topics_and_the_workers_internal_ones_only() -> None:
    assert demo_reset.topics_to_delete("regsosek", CLUSTER_TOPICS) == [
        "regsosek-worker-__assignor-__leader",
        "regsosek-worker-household-dedup-changelog",
        "regsosek.enumerator-events",
        "regsosek.reviews",
        "regsosek.submissions",
        "regsosek.submissions.rejected",
        "regsosek.submissions.valid",
    ]


def test_another_prefix_deletes_its_own_topics() -> None:
    assert demo_reset.topics_to_delete("regsosek.staging", CLUSTER_TOPICS) == [
        "regsosek.staging-worker-household-dedup-changelog",
        "regsosek.staging.submissions",
    ]
    assert demo_reset.topics_to_delete("staging", ["regsosek.submissions"]) == []


def test_plan_matches_what_the_worker_creates(tmp_path: Path) -> None:
    """Group, internal topics and Faust folder as the worker's Faust app names them."""
    settings = Settings(
        state_dir=tmp_path, topic_prefix="demo7", clickhouse_database="demo7db", topic_replication=1
    )
    reset = demo_reset.plan(settings, tmp_path / "demo")
    worker = build_app(settings)
    assert reset.group == worker.app.conf.id == "demo7-worker"
    changelog = worker.dedup.changelog_topic.get_topic_name()
    assert demo_reset.topics_to_delete("demo7", [changelog]) == [changelog]
    faust_dir = Path(worker.app.conf.datadir).resolve()
    assert reset.folders == (faust_dir, tmp_path / "demo")
    assert Path(worker.app.conf.tabledir).resolve().is_relative_to(faust_dir)
    assert reset.drop_sql == "DROP DATABASE IF EXISTS demo7db SYNC"
    # nothing the demo keeps is among them
    for kept in ("kafka", "frame", "secrets"):
        assert all(not (tmp_path / kept).is_relative_to(folder) for folder in reset.folders)


def test_drop_statement_on_a_cluster_and_refused_names() -> None:
    sql = demo_reset.drop_database_sql("regsosek", "census")
    assert sql == "DROP DATABASE IF EXISTS regsosek ON CLUSTER 'census' SYNC"
    with pytest.raises(ConfigurationError):
        demo_reset.drop_database_sql("regsosek; DROP TABLE x", None)


def test_the_line_names_what_was_cleared(tmp_path: Path) -> None:
    cleared = demo_reset.Cleared(
        topics=("regsosek.submissions", "regsosek-worker-household-dedup-changelog"),
        group="regsosek-worker",
        database="regsosek",
        folders=(tmp_path / "faust",),
    )
    line = cleared.line()
    assert line.startswith("Cleared the previous run's data: 2 topics (regsosek.submissions, ")
    assert "consumer group regsosek-worker" in line
    assert "ClickHouse database regsosek" in line
    assert str(tmp_path / "faust") in line
    assert "--keep-data" in line
    nothing = demo_reset.Cleared(topics=(), group=None, database=None, folders=()).line()
    assert nothing.startswith("No data of an earlier demo to clear")


# --- the closing comparison --------------------------------------------------------------


def _truth() -> GroundTruth:
    truth = GroundTruth(
        seed=7, scale=0.002, regency="35.09", selected_districts=[], topic="t", via="sdk"
    )
    truth.accepted_households = 10
    truth.accepted_members = 30
    truth.rejected_messages = 5
    truth.rejections_by_reason = {"NIK_FORMAT": 2, "DECODE_TRUNCATED": 3}
    return truth


def _board(nik: int, truncated: int, households: int = 10, bad_magic: int = 0) -> dict[str, Any]:
    reasons = {"NIK_FORMAT": nik, "DECODE_TRUNCATED": truncated}
    if bad_magic:
        reasons["DECODE_BAD_MAGIC_BYTE"] = bad_magic
    return {
        "totals": {"households": households, "members": 30, "rejections": sum(reasons.values())},
        "rejections_by_reason": reasons,
    }


def _failing(board: dict[str, Any], *, earlier_runs: bool) -> list[str]:
    return [c.label for c in compare(_truth(), board, earlier_runs=earlier_runs) if not c.ok]


def test_a_second_run_over_kept_data_fails_the_exact_comparison() -> None:
    """The problem the clearing solves: corrupt messages count twice, households once."""
    second_run = _board(nik=2, truncated=6)
    assert _failing(second_run, earlier_runs=False) == [
        "rejected messages",
        "  rejected: DECODE_TRUNCATED",
    ]


def test_kept_data_compares_corrupt_rows_as_at_least() -> None:
    assert _failing(_board(nik=2, truncated=6, bad_magic=4), earlier_runs=True) == []
    checks = {c.label: c for c in compare(_truth(), _board(2, 6), earlier_runs=True)}
    assert checks["  rejected: DECODE_TRUNCATED"].shown_expected == "≥ 3"
    assert checks["rejected messages"].shown_expected == "≥ 5"
    assert checks["  rejected: NIK_FORMAT"].shown_expected == "2"


def test_kept_data_still_catches_a_lost_corrupt_message_and_rule_rows_stay_exact() -> None:
    assert _failing(_board(nik=2, truncated=2), earlier_runs=True) == [
        "rejected messages",
        "  rejected: DECODE_TRUNCATED",
    ]
    assert _failing(_board(nik=3, truncated=3), earlier_runs=True) == ["  rejected: NIK_FORMAT"]
    assert _failing(_board(nik=2, truncated=3, households=11), earlier_runs=True) == [
        "households (deduplicated)"
    ]
    assert "DECODE_*" in EARLIER_RUNS_NOTE


def test_keep_data_flag_and_its_env_var_reach_the_demo(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[demo.DemoOptions] = []

    def fake_run(settings: Settings, options: demo.DemoOptions) -> int:
        seen.append(options)
        return 0

    monkeypatch.setattr(demo, "run", fake_run)
    env = {"REGSOSEK_STATE_DIR": str(tmp_path)}
    for args, extra in (([], {}), (["--keep-data"], {}), ([], {"REGSOSEK_DEMO_KEEP_DATA": "1"})):
        result = CliRunner().invoke(cli, ["demo", *args], env={**env, **extra})
        assert result.exit_code == 0, result.output
    assert [options.keep_data for options in seen] == [False, True, True]


def test_the_demo_clears_only_the_embedded_engine_and_a_broker_on_this_machine() -> None:
    assert demo_reset.refusal("chdb:///tmp/x/clickhouse", "127.0.0.1:9092") is None
    assert demo_reset.refusal("chdb:///tmp/x/clickhouse", "localhost:9092,127.0.0.1:9094") is None
    server = demo_reset.refusal("https://w:p@ch.bps.internal:8443/regsosek", "127.0.0.1:9092")
    assert server is not None and "ClickHouse server" in server
    shared = demo_reset.refusal("chdb:///tmp/x/clickhouse", "127.0.0.1:9092,kafka-2.bps:9092")
    assert shared is not None and "not on this machine" in shared

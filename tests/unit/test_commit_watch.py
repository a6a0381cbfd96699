"""The commit watch: stuck commits are told apart from busy, idle and held partitions."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from monitoring.metrics import WorkerMetrics
from monitoring.observer import PrometheusObserver
from streams.worker.commits import CommitState, CommitWatch
from streams.worker.observer import Fanout, WorkerStats

P0, P1 = ("t", 0), ("t", 1)


def test_a_commit_that_moves_is_never_stalled() -> None:
    watch = CommitWatch()
    for second in range(10):
        assert watch.observe(float(second), {P0: CommitState(100 + second, 50)}) == {P0: 0.0}


def test_nothing_waiting_is_idle_or_held_not_stalled() -> None:
    # idle, or a sink holding its batch through a ClickHouse outage: nothing acked behind
    watch = CommitWatch()
    for second in range(10):
        assert watch.observe(float(second), {P0: CommitState(100, 0)}) == {P0: 0.0}


def test_acks_waiting_behind_an_unmoving_commit_count_up() -> None:
    watch = CommitWatch()
    assert watch.observe(0.0, {P0: CommitState(100, 5), P1: CommitState(7, 3)})[P0] == 0.0
    assert watch.observe(5.0, {P0: CommitState(100, 9), P1: CommitState(8, 3)}) == {
        P0: 5.0,
        P1: 0.0,
    }
    assert watch.observe(12.5, {P0: CommitState(100, 20), P1: CommitState(8, 3)}) == {
        P0: 12.5,
        P1: 7.5,
    }
    # the commit moves again (restart, or the event turned up): back to 0
    assert watch.observe(13.0, {P0: CommitState(130, 2), P1: CommitState(8, 3)})[P0] == 0.0


def test_a_revoked_partition_is_forgotten() -> None:
    watch = CommitWatch()
    watch.observe(0.0, {P0: CommitState(100, 5)})
    watch.observe(5.0, {})
    assert watch.observe(60.0, {P0: CommitState(100, 5)}) == {P0: 0.0}


def test_stats_and_prometheus_get_the_stalled_partitions() -> None:
    registry = CollectorRegistry()
    stats = WorkerStats()
    prometheus = PrometheusObserver(
        WorkerMetrics.create(registry), valid_topic="t.valid", rejected_topic="t.rejected"
    )
    fanout = Fanout(stats, prometheus)
    fanout.on_commits({P0: 42.0, P1: 0.0})
    assert stats.commits_stalled == {"t[0]": 42.0}
    get = registry.get_sample_value
    assert get("regsosek_commit_stalled_seconds", {"topic": "t", "partition": "0"}) == 42.0
    assert get("regsosek_commit_stalled_seconds", {"topic": "t", "partition": "1"}) == 0.0
    fanout.on_commits({P1: 0.0})  # P0 revoked: its series goes, P1 stays
    assert get("regsosek_commit_stalled_seconds", {"topic": "t", "partition": "0"}) is None
    assert get("regsosek_commit_stalled_seconds", {"topic": "t", "partition": "1"}) == 0.0
    assert stats.commits_stalled == {}

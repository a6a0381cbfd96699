"""The desired topics are a pure function of the settings; reports are pure shaping."""

from __future__ import annotations

import pytest

from schemas.errors import BrokerError
from schemas.limits import BROKER_MESSAGE_MAX_BYTES, MAX_RECORD_BYTES
from streams import topics
from streams.settings import Settings
from streams.topics import TopicReport, TopicSpec, TopicState


def test_every_platform_topic_is_desired_with_settings_applied() -> None:
    settings = Settings(topic_partitions=12, topic_replication=3, topic_retention_ms=86_400_000)
    specs = topics.desired_topics(settings)
    assert [spec.name for spec in specs] == [
        "regsosek.submissions",
        "regsosek.enumerator-events",
        "regsosek.submissions.valid",
        "regsosek.submissions.rejected",
        "regsosek.reviews",
    ]
    for spec in specs:
        assert (spec.partitions, spec.replication) == (12, 3)
        assert spec.configs["retention.ms"] == "86400000"
        assert spec.configs["min.insync.replicas"] == "2"
        assert spec.configs["compression.type"] == "producer"
        assert spec.purpose


@pytest.mark.parametrize(("replication", "expected"), [(1, 1), (2, 1), (3, 2), (5, 2)])
def test_min_insync_replicas_lets_one_broker_fail(replication: int, expected: int) -> None:
    assert topics.min_insync_replicas(replication) == expected


def test_admin_request_is_what_kafka_python_3_takes() -> None:
    spec = TopicSpec("t", 3, 1, {"retention.ms": "1000"})
    assert spec.admin_request() == {
        "num_partitions": 3,
        "replication_factor": 1,
        "configs": {"retention.ms": "1000"},
    }


def test_configs_are_all_strings_as_the_admin_protocol_requires() -> None:
    configs = topics.topic_configs(Settings(topic_replication=1))
    assert all(isinstance(value, str) for value in configs.values())


def test_record_size_limit_is_set_on_purpose_above_the_producers() -> None:
    """Every topic takes what a producer may send (schemas/limits.py)."""
    configs = topics.topic_configs(Settings(topic_replication=1))
    assert configs["max.message.bytes"] == str(BROKER_MESSAGE_MAX_BYTES)
    assert BROKER_MESSAGE_MAX_BYTES > MAX_RECORD_BYTES


def test_reports_tell_created_exists_and_too_few_partitions() -> None:
    specs = [TopicSpec("a", 6, 1), TopicSpec("b", 6, 1), TopicSpec("c", 6, 1)]
    reports = topics.reports_for(specs, created={"a"}, existing={"b": 6, "c": 3})
    assert reports == [
        TopicReport("a", TopicState.CREATED, 6, 6),
        TopicReport("b", TopicState.EXISTS, 6, 6),
        TopicReport("c", TopicState.TOO_FEW_PARTITIONS, 6, 3),
    ]
    assert topics.summary(reports) == "3 topics: 1 created, 1 exists, 1 exists, too few partitions"


def test_more_partitions_than_desired_is_fine() -> None:
    (report,) = topics.reports_for([TopicSpec("a", 3, 1)], created=set(), existing={"a": 6})
    assert report.state is TopicState.EXISTS


def test_creation_answer_splits_created_and_existing() -> None:
    answer = {
        "topics": [
            {"name": "new", "error_code": 0},
            {"name": "old", "error_code": 36, "error_message": "Topic 'old' already exists."},
            {"name": "theirs", "error_code": 29, "error_message": "Authorization failed."},
        ]
    }
    assert topics._creation_outcome(answer) == ({"new"}, {"old"}, {"theirs"})


def test_other_creation_errors_are_broker_errors() -> None:
    answer = {
        "topics": [
            {"name": "x", "error_code": 38, "error_message": "Replication factor: 3 larger than 1"}
        ]
    }
    with pytest.raises(BrokerError, match="x: broker refused creation: Replication factor"):
        topics._creation_outcome(answer)


@pytest.mark.parametrize(
    ("configured", "brokers", "expected"),
    [(None, 1, 1), (None, 2, 2), (None, 3, 3), (None, 5, 3), (2, 5, 2), (3, 1, 3)],
)
def test_replication_is_three_once_the_cluster_allows_it(
    configured: int | None, brokers: int, expected: int
) -> None:
    """Unset: as many replicas as brokers up to 3; set: the operator's number, even if refused."""
    assert topics.replication_for(configured, brokers) == expected


def test_three_replicas_need_two_in_sync_for_every_topic_and_the_changelog() -> None:
    settings = Settings(topic_replication=3)
    assert {spec.replication for spec in topics.desired_topics(settings)} == {3}
    assert {spec.configs["min.insync.replicas"] for spec in topics.desired_topics(settings)} == {
        "2"
    }
    assert topics.compacted_configs(settings) == {
        "cleanup.policy": "compact",
        "min.insync.replicas": "2",
    }


def test_an_undecided_replication_is_a_wiring_error_not_a_silent_one() -> None:
    with pytest.raises(RuntimeError, match="resolve_replication"):
        topics.desired_topics(Settings())

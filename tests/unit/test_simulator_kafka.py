"""The simulator as a field app on a secured cluster: its login, and only its own topic."""

from __future__ import annotations

from pathlib import Path

from simulator.launch import missing_topics, sending_topics
from simulator.transport import producer_options
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings
from streams.topics import TopicInfo

FIELD = KafkaSecurity(
    protocol="SASL_SSL", username="field", password="secret-of-field", ca_file=Path("ca.pem")
)


def test_the_producer_logs_in_as_the_settings_say() -> None:
    config = producer_options(security=FIELD).producer_config("broker:9093")
    assert config["security_protocol"] == "SASL_SSL"
    assert config["sasl_plain_username"] == "field"
    assert config["sasl_plain_password"] == "secret-of-field"
    assert config["ssl_cafile"] == "ca.pem"
    assert config["acks"] == "all" and config["enable_idempotence"] is True


def test_without_security_the_producer_stays_plaintext() -> None:
    config = producer_options().producer_config("127.0.0.1:9092")
    assert config["security_protocol"] == "PLAINTEXT"
    assert "sasl_plain_username" not in config


def test_the_simulator_ensures_only_the_topic_a_field_app_writes() -> None:
    settings = Settings(topic_prefix="staging", topic_partitions=4, topic_replication=1)
    (spec,) = sending_topics(settings)
    assert spec.name == "staging.submissions"
    assert spec.partitions == 4


def test_only_absent_topics_are_created() -> None:
    specs = sending_topics(Settings(topic_partitions=6, topic_replication=1))
    assert missing_topics(specs, []) == specs
    assert missing_topics(specs, [TopicInfo("regsosek.submissions", 6, 1)]) == []
    # fewer partitions than desired: reported by ensure_topics' report, never re-created
    assert missing_topics(specs, [TopicInfo("regsosek.submissions", 2, 1)]) == []
    assert missing_topics(specs, [TopicInfo("other.submissions", 6, 1)]) == specs

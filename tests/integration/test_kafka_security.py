"""Issue #14 item 1: the pipeline over SASL_SSL with SCRAM and ACLs, and what is refused.

One secure local broker for the module (``regsosek kafka start --secure`` as a
library call: local CA, SCRAM users made at format time, StandardAuthorizer).
The admin creates the topics, the SDK publishes as the field apps' principal,
the worker (a real child process) consumes and writes as ``worker``; then
each door that must stay shut is tried: a PLAINTEXT client, a wrong password,
the field principal reading submissions or writing the worker's output.
The broker's own log is checked, so a refusal is known to be the broker's
authentication or authorisation, not a network accident.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.errors import TopicAuthorizationFailedError

from schemas.errors import BrokerError
from schemas.frame import Assignment, write_frame
from schemas.registry import LocalRegistry
from streams import local_kafka
from streams.kafka_admin import group_lag, metadata_answered
from streams.kafka_security import KafkaSecurity
from streams.local_kafka_secure import PRINCIPALS, SecureLayout, principal_security
from streams.sdk import ProducerOptions, PublishError, SubmissionPublisher
from streams.settings import Settings
from streams.topics import (
    SUBMISSIONS,
    SUBMISSIONS_VALID,
    TopicSpec,
    desired_topics,
    ensure_topics,
    named,
)
from tests import builders as b
from tests.backends import free_port
from tests.worker_harness import WorkerProcess, running

pytestmark = pytest.mark.integration

PREFIX = "secure"
HOUSEHOLDS = 5


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[local_kafka.BrokerSpec]:
    """A broker of this module's own, in secure mode, with ACLs for ``PREFIX``."""
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=free_port(),
        controller_port=free_port(),
        state_dir=tmp_path_factory.mktemp("secure-kafka"),
        cache_dir=Settings().cache_dir,
        heap="512m",
        partitions=3,
        secure=True,
        topic_prefix=PREFIX,
    )
    local_kafka.start(spec, echo=lambda _line: None)
    try:
        ensure_topics(
            spec.bootstrap,
            desired_topics(Settings(topic_prefix=PREFIX, topic_partitions=3, topic_replication=1)),
            security=as_(spec, "admin"),
        )
        yield spec
    finally:
        local_kafka.stop(spec)


def as_(spec: local_kafka.BrokerSpec, principal: str) -> KafkaSecurity:
    return principal_security(SecureLayout(spec.layout.root), principal)


def _env_file(path: Path) -> dict[str, str]:
    lines = [ln for ln in path.read_text().splitlines() if ln and not ln.startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def _household(n: int) -> dict[str, Any]:
    record = b.kemendagri_submission(
        household_id=f"35.09.02.2001-0003-{n:04d}-01",
        submission_id=str(uuid.UUID(int=random.Random(n).getrandbits(128))),
    )
    for member in record["members"]:
        if member.get("nik"):
            member["nik"] = member["nik"][:12] + f"{n % 10000:04d}"
    return record


def test_secret_files_are_private_and_client_settings_name_the_password_file(
    broker: local_kafka.BrokerSpec,
) -> None:
    layout = SecureLayout(broker.layout.root)
    for directory in (layout.tls_dir, layout.secrets_dir):
        assert directory.stat().st_mode & 0o777 == 0o700, directory
    for private in [*layout.secrets_dir.iterdir(), *layout.tls_dir.iterdir(), broker.layout.config]:
        assert private.stat().st_mode & 0o777 == 0o600, private
    for principal in PRINCIPALS:
        env = _env_file(layout.client_env(principal))
        assert env["REGSOSEK_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["REGSOSEK_KAFKA_USERNAME"] == principal
        assert "REGSOSEK_KAFKA_PASSWORD" not in env, "the password stays in its 0600 file"
        fields: dict[str, Any] = {k.removeprefix("REGSOSEK_").lower(): v for k, v in env.items()}
        settings = Settings.model_validate(fields)
        assert KafkaSecurity.from_settings(settings) == as_(broker, principal)


def test_pipeline_over_sasl_ssl(broker: local_kafka.BrokerSpec, tmp_path: Path) -> None:
    """SDK as ``field`` -> worker as ``worker`` -> rows in the embedded ClickHouse."""
    options = ProducerOptions(client_id="secure-test", security=as_(broker, "field"))
    topic = named(SUBMISSIONS, PREFIX)
    with SubmissionPublisher(
        broker.bootstrap, LocalRegistry(), topic=topic, options=options
    ) as sdk:
        receipts = [sdk.publish(_household(n)) for n in range(HOUSEHOLDS)]
    assert {r.topic for r in receipts} == {topic}

    frame = b.rules_frame()
    cells = [a for e, c in frame.assignments.items() for a in _assignments(e, c)]
    write_frame(tmp_path / "frame", frame.enumerators.values(), cells, [])
    env = _env_file(SecureLayout(broker.layout.root).client_env("worker"))
    env["REGSOSEK_FRAME_DIR"] = str(tmp_path / "frame")
    worker = WorkerProcess(broker.bootstrap, PREFIX, tmp_path / "worker", env)
    admin = as_(broker, "admin")
    with running(worker):
        deadline = time.monotonic() + 180
        while group_lag(broker.bootstrap, f"{PREFIX}-worker", [topic], security=admin) != 0:
            assert worker.proc is not None and worker.proc.poll() is None, worker.log.read_text()
            assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
            time.sleep(1.0)
        ready = worker.page("/readyz")
    assert ready["kafka"] is True, ready  # the readiness probe logs in as the worker too
    rows = worker.query(f"SELECT household_id FROM {Settings().clickhouse_database}.households")
    assert sorted(r["household_id"] for r in rows) == sorted(
        _household(n)["household_id"] for n in range(HOUSEHOLDS)
    )


def test_plaintext_client_is_refused(broker: local_kafka.BrokerSpec) -> None:
    assert not metadata_answered(broker.bootstrap, timeout_s=3)
    assert "(SSL handshake failed)" in broker.layout.server_log.read_text()


def test_wrong_password_is_refused(broker: local_kafka.BrokerSpec) -> None:
    wrong = replace(as_(broker, "field"), password="not-the-password")
    assert not metadata_answered(broker.bootstrap, timeout_s=3, security=wrong)
    assert "invalid credentials with SASL mechanism SCRAM-SHA-512" in (
        broker.layout.server_log.read_text()
    )
    assert metadata_answered(broker.bootstrap, timeout_s=10, security=as_(broker, "field"))


def test_field_principal_cannot_read_submissions(broker: local_kafka.BrokerSpec) -> None:
    topic = named(SUBMISSIONS, PREFIX)
    consumer = KafkaConsumer(
        bootstrap_servers=broker.bootstrap,
        enable_auto_commit=False,
        **as_(broker, "field").kafka_python(),
    )
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(3)])
        consumer.seek_to_beginning()
        with pytest.raises(TopicAuthorizationFailedError):
            for _ in range(20):
                consumer.poll(timeout_ms=500)
    finally:
        consumer.close()


def test_field_principal_cannot_write_the_workers_output(broker: local_kafka.BrokerSpec) -> None:
    producer = KafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", **as_(broker, "field").kafka_python()
    )
    try:
        future = producer.send(named(SUBMISSIONS_VALID, PREFIX), b"forged")
        with pytest.raises(TopicAuthorizationFailedError):
            future.get(timeout=30)
    finally:
        producer.close()


def test_sdk_reports_a_refused_topic_as_not_retriable(broker: local_kafka.BrokerSpec) -> None:
    options = ProducerOptions(timeout_ms=5000, security=as_(broker, "field"))
    elsewhere = named(SUBMISSIONS_VALID, PREFIX)
    publisher = SubmissionPublisher(
        broker.bootstrap, LocalRegistry(), topic=elsewhere, options=options
    )
    try:
        with pytest.raises(PublishError) as refused:
            publisher.publish(_household(99))
    finally:
        publisher.close()
    assert not refused.value.retriable
    assert "TopicAuthorization" in str(refused.value)


def test_worker_principal_cannot_create_other_topics(broker: local_kafka.BrokerSpec) -> None:
    with pytest.raises(BrokerError, match="not authorised to create"):
        ensure_topics(
            broker.bootstrap, [TopicSpec(f"{PREFIX}.sneaky", 1, 1)], security=as_(broker, "worker")
        )


def _assignments(enumerator: str, cells: set[tuple[str, str]]) -> Iterator[Any]:
    for village, sls in sorted(cells):
        yield Assignment(enumerator, village, sls)

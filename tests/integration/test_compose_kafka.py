"""The compose stack's Kafka, without Docker: its own start script on Kafka's own jars.

deploy/kafka/compose/start.sh (the `kafka` service's entry point) and
acls.sh (the `kafka-setup` one-shot) are run here exactly as compose runs
them, with /opt/kafka/bin replaced by scripts that start the same classes from
the jars of deploy/kafka/pom.xml (the release the image ships), and with the
secrets deploy/compose/init.py draws. The platform's own clients then show
what the compose file promises: SCRAM over TLS works for each login, a
plaintext client or a wrong password gets nothing, field apps may write
submissions and nothing else, and the worker may read and write its topics.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from streams import local_kafka
from streams.kafka_admin import metadata_answered
from streams.kafka_security import PLAINTEXT, KafkaSecurity
from streams.settings import Settings
from tests.backends import free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "deploy" / "kafka" / "compose"
#: bin/ script of the image -> the class it runs.
TOOLS = {
    "kafka-storage.sh": "kafka.tools.StorageTool",
    "kafka-server-start.sh": "kafka.Kafka",
    "kafka-configs.sh": "kafka.admin.ConfigCommand",
    "kafka-acls.sh": "kafka.admin.AclCommand",
    "kafka-broker-api-versions.sh": "kafka.admin.BrokerApiVersionsCommand",
}


def _init_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "compose_init_kafka", ROOT / "deploy/compose/init.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class ComposeBroker:
    bootstrap: str  # the HOST listener (localhost:<port>), as the Docker host sees it
    secrets: Path

    def security(self, user: str, password: str | None = None) -> KafkaSecurity:
        if password is None:
            password = (self.secrets / "kafka" / f"{user}.password").read_text("utf-8").strip()
        return KafkaSecurity(
            protocol="SASL_SSL",
            username=user,
            password=password,
            ca_file=self.secrets / "ca" / "ca.pem",
        )


def _fake_kafka_home(home: Path, libs: Path, logs: Path) -> None:
    (home / "bin").mkdir(parents=True)
    for script, main_class in TOOLS.items():
        path = home / "bin" / script
        path.write_text(
            "#!/bin/sh\n"
            f"exec java -Xmx384m -Dlog4j.configuration=file:{ROOT}/deploy/kafka/log4j.properties"
            f' -Dkafka.logs.dir={logs} -cp "{libs}/*" {main_class} "$@"\n',
            encoding="utf-8",
        )
        path.chmod(0o755)


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeBroker]:
    base = tmp_path_factory.mktemp("compose-kafka")
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=free_port(),
        controller_port=free_port(),
        state_dir=base / "state",
        cache_dir=Settings().cache_dir,
    )
    jars, _fetched = local_kafka.fetch_jars(spec)
    init = _init_module()
    secrets = base / "secrets"
    regsosek = str(Path(sys.executable).with_name("regsosek"))
    users = ROOT / "deploy/clickhouse/users.d"
    init.run(secrets, base / "users", users, regsosek, "0.02", chown=False)
    _fake_kafka_home(base / "kafka", jars.libs, base / "logs")
    host_port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "SECRETS_DIR": str(secrets),
        "KAFKA_HOME": str(base / "kafka"),
        "KAFKA_DATA_DIR": str(base / "data"),
        "KAFKA_CONF_DIR": str(base / "conf"),
        "KAFKA_ADVERTISED_HOST": "localhost",
        "KAFKA_CLIENT_PORT": str(free_port()),
        "KAFKA_HOST_PORT": str(host_port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
    }
    process = subprocess.Popen(
        ["sh", str(SCRIPTS / "start.sh")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        bootstrap = f"localhost:{host_port}"
        healthcheck = [
            str(base / "kafka/bin/kafka-broker-api-versions.sh"),
            "--bootstrap-server", bootstrap,
            "--command-config", str(secrets / "kafka/admin.properties"),
        ]  # fmt: skip
        deadline = time.monotonic() + 120
        while subprocess.run(healthcheck, capture_output=True, check=False).returncode != 0:
            assert process.poll() is None, "the broker exited: see its server.log"
            assert time.monotonic() < deadline, "the broker's healthcheck never passed"
            time.sleep(2)
        setup_env = {**env, "KAFKA_BOOTSTRAP": f"localhost:{env['KAFKA_CLIENT_PORT']}"}
        subprocess.run(
            ["sh", str(SCRIPTS / "acls.sh")], env=setup_env, check=True, capture_output=True
        )
        admin = ComposeBroker(bootstrap, secrets).security("admin")
        topics_env = {
            key: value for key, value in os.environ.items() if not key.startswith("REGSOSEK_")
        } | {
            "REGSOSEK_KAFKA_BOOTSTRAP": bootstrap,
            "REGSOSEK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "REGSOSEK_KAFKA_USERNAME": "admin",
            "REGSOSEK_KAFKA_PASSWORD_FILE": str(secrets / "kafka/admin.password"),
            "REGSOSEK_KAFKA_CA_FILE": str(admin.ca_file),
            "REGSOSEK_STATE_DIR": str(base / "state"),
            "REGSOSEK_TOPIC_PARTITIONS": "1",
        }
        regsosek = str(Path(sys.executable).with_name("regsosek"))
        subprocess.run(
            [regsosek, "topics", "create"], env=topics_env, check=True, capture_output=True
        )
        yield ComposeBroker(bootstrap, secrets)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _produce(broker: ComposeBroker, security: KafkaSecurity, topic: str) -> str:
    producer = KafkaProducer(bootstrap_servers=broker.bootstrap, **security.kafka_python())
    try:
        producer.send(topic, b"probe").get(timeout=20)
        return "ok"
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        producer.close(timeout=5)


def _consume(broker: ComposeBroker, security: KafkaSecurity, topic: str, group: str) -> str:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=broker.bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
        **security.kafka_python(),
    )
    try:
        return f"read {sum(1 for _ in consumer)}"
    except KafkaError as exc:
        return type(exc).__name__
    finally:
        consumer.close()


def test_each_login_reaches_the_broker_over_sasl_ssl(broker: ComposeBroker) -> None:
    for user in ("admin", "worker", "field"):
        assert metadata_answered(broker.bootstrap, 15, security=broker.security(user)), user


def test_plaintext_and_wrong_passwords_get_nothing(broker: ComposeBroker) -> None:
    assert not metadata_answered(broker.bootstrap, 5, security=PLAINTEXT)
    assert not metadata_answered(broker.bootstrap, 10, security=broker.security("field", "x" * 32))


def test_field_apps_may_write_submissions_and_nothing_else(broker: ComposeBroker) -> None:
    field = broker.security("field")
    assert _produce(broker, field, "regsosek.submissions") == "ok"
    assert _produce(broker, field, "regsosek.submissions.valid") == "TopicAuthorizationFailedError"
    refused = _consume(broker, field, "regsosek.submissions", "regsosek-worker")
    assert refused.endswith("AuthorizationFailedError"), refused


def test_the_worker_reads_its_input_and_writes_its_outputs(broker: ComposeBroker) -> None:
    worker = broker.security("worker")
    assert _produce(broker, broker.security("field"), "regsosek.submissions") == "ok"
    assert _produce(broker, worker, "regsosek.submissions.valid") == "ok"
    assert _produce(broker, worker, "regsosek.submissions.rejected") == "ok"
    read = _consume(broker, worker, "regsosek.submissions", "regsosek-worker")
    assert read.startswith("read ") and int(read.split()[1]) >= 1, read
    other_group = _consume(broker, worker, "regsosek.submissions", "someone-else")
    assert other_group == "GroupAuthorizationFailedError", other_group

"""Which real Kafka and ClickHouse the tests run against, chosen once per session.

Order of preference, for each service: what the environment names
(``REGSOSEK_KAFKA_BOOTSTRAP`` / ``REGSOSEK_CLICKHOUSE_DSN``), else a container
when a Docker engine answers, else the project's own local stack (the broker
assembled from Maven Central; the embedded chdb engine). Never a fake.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from clickhouse_connect.driver.client import Client

from sinks.clickhouse import client_from_dsn, describe
from streams import local_kafka
from streams.kafka_admin import broker_api_version, metadata_answered
from streams.settings import Settings

KAFKA_IMAGE = "confluentinc/cp-kafka:7.7.1"  # Apache Kafka 3.7; testcontainers' KRaft support
CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:24.8"


@dataclass(frozen=True)
class KafkaBackend:
    """A reachable broker and how we got it."""

    bootstrap: str
    kind: str  # "env", "testcontainers" or "local"
    version: str

    def describe(self) -> str:
        return f"Apache Kafka {self.version} at {self.bootstrap} ({self.kind})"


@dataclass(frozen=True)
class ClickHouseBackend:
    """A ClickHouse DSN and how we got it."""

    dsn: str
    kind: str  # "env", "testcontainers" or "embedded"
    description: str

    def describe(self) -> str:
        return f"{self.description} ({self.kind})"


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def free_port_run(count: int, stride: int) -> int:
    """A port p with p, p+stride, … (count ports) all free on loopback: a local cluster's."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000)
        if all(local_kafka.port_free("127.0.0.1", base + i * stride) for i in range(count)):
            return base
    raise RuntimeError(f"no run of {count} free ports with stride {stride} found")


def docker_engine_answers() -> bool:
    """True only when a Docker *engine* answers; the client alone is not enough."""
    if not shutil.which("docker"):
        return False
    try:
        result = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0 and bool(result.stdout.strip())


@contextmanager
def kafka_backend(tmp_dir: Path) -> Iterator[KafkaBackend]:
    """Yield a running broker for the whole session and stop what we started."""
    external = os.environ.get("REGSOSEK_KAFKA_BOOTSTRAP")
    if external:
        if not metadata_answered(external, timeout_s=10):
            raise RuntimeError(f"REGSOSEK_KAFKA_BOOTSTRAP={external} does not answer metadata")
        yield KafkaBackend(external, "env", broker_api_version(external) or "unknown")
        return
    if docker_engine_answers():
        with _kafka_container() as backend:
            yield backend
        return
    spec = local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=free_port(),
        controller_port=free_port(),
        state_dir=tmp_dir,
        cache_dir=Settings().cache_dir,
        heap="512m",
        partitions=3,
    )
    state = local_kafka.start(spec, echo=lambda _line: None)
    try:
        yield KafkaBackend(spec.bootstrap, "local broker from Maven Central", str(state.version))
    finally:
        local_kafka.stop(spec)


@contextmanager
def _kafka_container() -> Iterator[KafkaBackend]:  # pragma: no cover - needs a Docker engine
    from testcontainers.kafka import KafkaContainer  # noqa: PLC0415

    with KafkaContainer(KAFKA_IMAGE).with_kraft() as container:
        bootstrap = container.get_bootstrap_server()
        yield KafkaBackend(bootstrap, "testcontainers", broker_api_version(bootstrap) or "?")


@contextmanager
def clickhouse_backend(tmp_dir: Path) -> Iterator[ClickHouseBackend]:
    """Yield a ClickHouse DSN for the whole session.

    The embedded engine can hold one directory per process, so the whole test
    session shares one ``chdb://`` directory; tests isolate themselves by
    database name instead.
    """
    dsn = os.environ.get("REGSOSEK_CLICKHOUSE_DSN")
    kind = "env"
    if not dsn and docker_engine_answers():
        with _clickhouse_container() as backend:
            yield backend
        return
    if not dsn:
        dsn, kind = f"chdb://{tmp_dir / 'clickhouse'}", "embedded"
    client: Client = client_from_dsn(dsn)
    try:
        yield ClickHouseBackend(dsn, kind, describe(client, dsn))
    finally:
        client.close()


@contextmanager
def _clickhouse_container() -> Iterator[ClickHouseBackend]:  # pragma: no cover - needs Docker
    from testcontainers.clickhouse import ClickHouseContainer  # noqa: PLC0415

    with ClickHouseContainer(CLICKHOUSE_IMAGE) as container:
        host = container.get_container_host_ip()
        port = container.get_exposed_port(8123)
        dsn = f"http://{container.username}:{container.password}@{host}:{port}/default"
        client = client_from_dsn(dsn)
        yield ClickHouseBackend(dsn, "testcontainers", describe(client, dsn))
        client.close()

"""Session fixtures: one real Kafka broker and one real ClickHouse engine for all tests.

They start lazily, only when an integration or e2e test asks for them, so
``pytest tests/unit`` needs neither. The end of the run prints which backends
were used, so a reader of CI output can see the tests touched the real thing.
The headless Chromium of the browser tests (``browser``, ``page``) lives in
tests/browser.py, registered here as a plugin.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import pytest
from clickhouse_connect.driver.client import Client

from sinks.clickhouse import client_from_dsn
from tests.backends import ClickHouseBackend, KafkaBackend, clickhouse_backend, kafka_backend

pytest_plugins = ("tests.browser",)

_USED: dict[str, str] = {}


@pytest.fixture(scope="session")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBackend]:
    """A running broker (env, container or the local one from Maven Central)."""
    with kafka_backend(tmp_path_factory.mktemp("kafka-state")) as backend:
        _USED["Kafka"] = backend.describe()
        print(f"\n[backends] {backend.describe()}")
        yield backend


@pytest.fixture(scope="session")
def clickhouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClickHouseBackend]:
    """A ClickHouse engine (env DSN, container, or the embedded chdb engine)."""
    with clickhouse_backend(tmp_path_factory.mktemp("clickhouse")) as backend:
        _USED["ClickHouse"] = backend.describe()
        print(f"\n[backends] {backend.describe()}")
        yield backend


@pytest.fixture
def clickhouse_client(clickhouse: ClickHouseBackend) -> Iterator[Client]:
    """A fresh client on the session's engine; close it after the test."""
    client = client_from_dsn(clickhouse.dsn)
    yield client
    client.close()


@pytest.fixture
def scratch_database(clickhouse_client: Client) -> Iterator[str]:
    """A database of the test's own, dropped afterwards (the engine is shared)."""
    name = f"t_{uuid4().hex[:12]}"
    clickhouse_client.command(f"CREATE DATABASE {name}")
    yield name
    clickhouse_client.command(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture
def unique_topic() -> Callable[[str], str]:
    """Factory of topic names no other test uses."""

    def make(prefix: str = "test") -> str:
        return f"{prefix}.{uuid4().hex[:10]}"

    return make


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Say which real backends this run used (or that none was needed)."""
    terminalreporter.section("backends used")
    if not _USED:
        terminalreporter.write_line("none (only tests without a broker or engine ran)")
    for name, text in _USED.items():
        terminalreporter.write_line(f"{name}: {text}")

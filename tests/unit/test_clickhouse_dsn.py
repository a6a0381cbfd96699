"""DSN parsing: one setting chooses the engine; mistakes are configuration errors."""

from __future__ import annotations

import pytest

from schemas.errors import ConfigurationError
from sinks.clickhouse import parse_dsn


def test_embedded() -> None:
    target = parse_dsn("chdb:///var/lib/regsosek/clickhouse")
    assert target.embedded
    assert target.where == "/var/lib/regsosek/clickhouse"


def test_server_with_database_and_default_ports() -> None:
    assert parse_dsn("http://u:p@ch:8123/regsosek").where == "ch:8123"
    assert parse_dsn("http://u:p@ch:8123/regsosek").database == "regsosek"
    assert parse_dsn("https://ch.example").where == "ch.example:8443"
    assert parse_dsn("http://ch.example").where == "ch.example:8123"
    assert not parse_dsn("http://ch.example").embedded


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("clickhouse://ch:9000/db", "unsupported ClickHouse DSN scheme"),
        ("chdb://", "needs a directory"),
        ("http:///db", "no host"),
    ],
)
def test_bad_dsn(dsn: str, problem: str) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        parse_dsn(dsn)

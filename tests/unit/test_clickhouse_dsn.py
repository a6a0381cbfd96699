"""DSN parsing: one setting chooses the engine; mistakes are configuration errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from schemas.errors import ConfigurationError
from sinks.clickhouse import connection, parse_dsn


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


@pytest.mark.parametrize(
    ("dsn", "secure", "where"),
    [
        ("https://u:p@ch:8123/db", True, "ch:8123"),  # clickhouse-connect alone: plain, by port
        ("http://u:p@ch:8443/db", False, "ch:8443"),  # and here TLS, by port
        ("http://u:p@ch/db?secure=true", True, "ch:8443"),
        ("http://u:p@ch:8123/db?secure=1", True, "ch:8123"),
        ("http://u:p@ch:8123/db?secure=false", False, "ch:8123"),
        ("https://ch?secure=yes", True, "ch:8443"),
    ],
)
def test_the_scheme_not_the_port_chooses_tls(dsn: str, secure: bool, where: str) -> None:
    target = parse_dsn(dsn)
    assert (target.secure, target.where) == (secure, where)
    assert connection(dsn).interface == ("https" if secure else "http")


def test_the_embedded_engine_has_no_transport() -> None:
    conn = connection("chdb:///tmp/x", Path("/etc/ssl/ca.pem"))
    assert conn.interface is None and conn.ca_cert is None and conn.dsn == "chdb:///tmp/x"


def test_secure_is_passed_explicitly_and_other_options_kept() -> None:
    conn = connection("http://u:p%40ss@ch:8123/db?secure=true&compress=lz4", Path("/ca.pem"))
    assert conn.dsn == "http://u:p%40ss@ch:8123/db?compress=lz4"
    assert (conn.interface, conn.ca_cert) == ("https", "/ca.pem")


def test_a_ca_file_with_plain_http_is_refused_not_ignored() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        connection("http://u:p@ch:8123/db", Path("/ca.pem"))


@pytest.mark.parametrize(
    ("dsn", "problem"),
    [
        ("https://u:p@ch/db?secure=false", "https:// with secure=false"),
        ("http://u:p@ch/db?secure=maybe", "not true or false"),
        ("https://u:p@ch/db?verify=false", "verify not accepted"),
        ("https://u:p@ch/db?ca_cert=/x.pem", "ca_cert not accepted"),
    ],
)
def test_contradictions_and_weakened_checks_are_configuration_errors(
    dsn: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem):
        connection(dsn)

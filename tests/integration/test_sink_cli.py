"""The ClickHouse commands end to end: `db migrate`, `db analyst-role-sql`, `progress`.

The session's engine is already open in this process at the fixture's
directory (chdb allows one per process), so the commands get that same DSN
and a database of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner, Result
from clickhouse_connect.driver.client import Client

from schemas.frame import Assignment, Enumerator, Frame, Target
from schemas.regions import load_regions
from sinks.migrations import load_migrations, migrate
from sinks.queries import progress_json
from sinks.rows import household_blocks
from sinks.writer import ClickHouseWriter, load_reference
from streams.cli import cli
from tests import builders
from tests.backends import ClickHouseBackend, free_port

pytestmark = pytest.mark.integration


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, clickhouse: ClickHouseBackend, scratch_database: str
) -> str:
    """REGSOSEK_* pointing at the session engine and this test's database."""
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", clickhouse.dsn)
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DATABASE", scratch_database)
    monkeypatch.delenv("REGSOSEK_CLICKHOUSE_CLUSTER", raising=False)
    return scratch_database


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_db_migrate_then_up_to_date(env: str, clickhouse_client: Client) -> None:
    first = run("db", "migrate", "--database", env)
    assert first.exit_code == 0, first.output
    assert f"Applied {len(load_migrations())} migration(s) to {env}" in first.output
    second = run("db", "migrate")  # database from REGSOSEK_CLICKHOUSE_DATABASE
    assert second.exit_code == 0 and "is up to date" in second.output
    count = clickhouse_client.query(f"SELECT count() FROM {env}.schema_migrations FINAL")
    assert count.result_rows[0][0] == len(load_migrations())


def test_db_migrate_sql_prints_cluster_ddl_without_touching_the_engine(env: str) -> None:
    result = run("db", "migrate", "--sql", "--cluster", "jatim", "--database", "regsosek")
    assert result.exit_code == 0
    assert "ON CLUSTER 'jatim'" in result.output and "ENGINE = Distributed(" in result.output


def test_analyst_role_sql(env: str) -> None:
    result = run("db", "analyst-role-sql", "--no-nik-hash", "--user", "ana_jember")
    assert result.exit_code == 0
    password = result.stderr.rsplit(": ", 1)[1].strip()
    assert len(password) >= 24 and password not in result.stdout
    assert f"GRANT SELECT ON {env}.members_current TO regsosek_analyst;" in result.output
    assert f"REVOKE SELECT(nik_hash) ON {env}.members FROM regsosek_analyst;" in result.output
    assert "CREATE USER IF NOT EXISTS ana_jember" in result.output
    grants = [line for line in result.output.splitlines() if line.startswith("GRANT")]
    assert not any("rejection_payloads" in line for line in grants)


def seed(client: Client, database: str) -> None:
    """The Kencong family, with Jember's regions and a one-SLS frame as reference data."""
    migrate(client, database=database)
    regions = load_regions()
    frame = Frame.build(
        [Enumerator("0412", "041", "35.09")],
        [Assignment("0412", "35.09.02.2001", "0003")],
        [Target("35.09.02.2001", "0003", 8)],
    )
    writer = ClickHouseWriter(client, database)
    load_reference(writer, regions, frame)
    written = dt.datetime(2022, 10, 20, 3, tzinfo=dt.UTC)
    blocks = household_blocks(
        [builders.validated_submission()], nik_key=b"k", written_at=written, regions=regions
    )
    writer.write(blocks, "t:0:0-0")


def test_progress_direct_json_and_table(
    env: str, clickhouse_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps to the terminal width
    seed(clickhouse_client, env)
    result = run("progress", "--direct", "--json", "--by", "enumerator")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert rows[0]["enumerator_id"] == "0412" and rows[0]["enumerated"] == 1
    assert (rows[0]["target"], rows[0]["percent"]) == (8, 12.5)
    table = run("progress", "--direct", "--district", "3509010")
    assert table.exit_code == 0
    assert "3509010" in table.output and "Kencong" in table.output
    assert "total" in table.output and "12.5%" in table.output
    assert "2022-10-20 09:47" in table.output  # last submission shown in WIB


class _ProgressHandler(BaseHTTPRequestHandler):
    """Stands in for the worker's GET /progress, answering from the real engine."""

    client: Client | None = None
    database = ""

    def do_GET(self) -> None:
        query = parse_qs(urlsplit(self.path).query)
        by, district = query["by"][0], query.get("district", [None])[0]
        assert self.client is not None, "set by the fixture before serving"
        rows = progress_json(self.client, by, district, database=self.database)
        body = json.dumps({"by": by, "district": district, "rows": rows}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        del args


@pytest.fixture
def worker_port(env: str, clickhouse_client: Client) -> Iterator[int]:
    seed(clickhouse_client, env)
    _ProgressHandler.client, _ProgressHandler.database = clickhouse_client, env
    server = HTTPServer(("127.0.0.1", 0), _ProgressHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_progress_asks_the_worker_in_embedded_mode(
    worker_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REGSOSEK_WEB_PORT", str(worker_port))
    result = run("progress", "--json", "--district", "35.09.02")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)[0]["district_code"] == "35.09.02"


def test_progress_says_when_no_worker_answers(env: str, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()
    monkeypatch.setenv("REGSOSEK_WEB_PORT", str(port))
    result = CliRunner().invoke(cli, ["progress"])
    assert result.exit_code == 7
    assert f"no worker answering on :{port}" in result.output
    assert "--direct" in result.output and "regsosek worker" in result.output


def test_progress_watch_refreshes_until_ctrl_c(
    env: str, clickhouse_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(clickhouse_client, env)
    naps: list[float] = []

    def sleep(seconds: float) -> None:
        naps.append(seconds)
        if len(naps) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr("streams.cli.progress.time.sleep", sleep)
    as_json = run("progress", "--direct", "--watch", "--json", "--interval", "0.5")
    assert as_json.exit_code == 0 and naps == [0.5, 0.5]
    assert [json.loads(line)[0]["enumerated"] for line in as_json.output.splitlines()] == [1, 1]
    naps.clear()
    table = run("progress", "--direct", "--watch", "--by", "village")
    assert table.exit_code == 0 and "Regsosek progress by village" in table.output
    assert len(naps) == 2

"""Every SQL example in docs/analytics.md runs on the real engine against the real schema."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from clickhouse_connect.driver.client import Client

from schemas.regions import load_regions
from sinks.clickhouse import client_from_dsn
from sinks.migrations import migrate
from sinks.rows import household_blocks, rejection_block
from sinks.writer import ClickHouseWriter
from tests import builders
from tests.backends import ClickHouseBackend

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "analytics.md"
EXAMPLES = re.findall(r"```sql\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)


@pytest.fixture(scope="module")
def seeded(clickhouse: ClickHouseBackend) -> Iterator[tuple[Client, str]]:
    """A migrated database with one household and one rejection, for the whole module."""
    client = client_from_dsn(clickhouse.dsn)
    database = f"t_docs_{uuid4().hex[:10]}"
    migrate(client, database=database)
    blocks = household_blocks(
        [builders.validated_submission()],
        nik_key=b"k",
        written_at=dt.datetime.now(dt.UTC),
        regions=load_regions(),
    )
    blocks.append(rejection_block([builders.rejection()]))
    ClickHouseWriter(client, database).write(blocks, "docs:0:0-0")
    yield client, database
    client.command(f"DROP DATABASE IF EXISTS {database}")
    client.close()


def test_the_doc_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("sql", EXAMPLES, ids=[f"example{i}" for i in range(len(EXAMPLES))])
def test_example_runs(sql: str, seeded: tuple[Any, str]) -> None:
    client, database = seeded
    client.query(sql.replace("regsosek.", f"{database}."))  # raises on any error

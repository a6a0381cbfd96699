"""Versioned ClickHouse schema: ordered DDL steps, applied once, recorded in the database.

The steps live in ``sinks/sql/NNNN_name.sql`` so a DBA can read them as SQL.
They are written for one node with three placeholders (``${db}``,
``${on_cluster}``, ``${local}``); :func:`render` fills them, and in cluster
mode also turns every MergeTree engine into its Replicated twin and puts a
``Distributed`` table in front of each sharded (``${local}``) table. So one
text serves the embedded engine, a server and a cluster.

``per_node=True`` renders the cluster form without ``ON CLUSTER``: the same
Replicated and Distributed tables, to be applied on every node in turn. That
is the form for an engine with no distributed DDL queue (the embedded chdb
engine has no DDL worker: ``ON CLUSTER`` fails there with "Replicated DDL
queries are disabled") or a cluster whose servers run without
``<distributed_ddl>``; tests/integration/test_cluster_ddl.py applies it.

:func:`migrate` runs at worker start and from ``regsosek db migrate``. Every
statement is ``IF NOT EXISTS`` / ``OR REPLACE``, and a step is recorded in
``{database}.schema_migrations`` only after all its statements succeeded, so
an interrupted run is finished by the next one.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from string import Template
from typing import TYPE_CHECKING

from schemas.errors import ClickHouseError, ConfigurationError

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

log = logging.getLogger(__name__)

SQL_DIR = Path(__file__).resolve().parent / "sql"
DEFAULT_DATABASE = "regsosek"
MIGRATIONS_TABLE = "schema_migrations"

#: Distributed sharding keys of the tables the sink inserts into. All revisions
#: and members of a household must land on one shard for FINAL to see them.
SHARDING_KEYS = {
    "households": "cityHash64(household_id)",
    "members": "cityHash64(household_id)",
    "rejection_payloads": "cityHash64(source_topic, source_partition, source_offset)",
    # an event and the app's resent copy must meet on one shard for FINAL to collapse them
    "enumerator_events": "cityHash64(enumerator_id)",
    "reviews": "cityHash64(household_id)",
}

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CLUSTER_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_FILE_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+$")
_STATEMENT_END = re.compile(r";[ \t]*(?:\n|$)")
_CREATED = re.compile(
    r"^CREATE (?:OR REPLACE )?(?:TABLE|VIEW|MATERIALIZED VIEW)(?: IF NOT EXISTS)? \w+\.(\w+)"
)
_CREATE_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+)\.(\w+)")
_ENGINE = re.compile(
    r"ENGINE = (?P<engine>(?:Replacing|Aggregating|Summing)?MergeTree)(?:\((?P<args>[^)]*)\))?"
)

_BOOTSTRAP = """
CREATE TABLE IF NOT EXISTS ${db}.schema_migrations ${on_cluster}
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version
SETTINGS non_replicated_deduplication_window = 10000;
"""


@dataclass(frozen=True)
class Migration:
    """One versioned step: the SQL template of ``NNNN_name.sql``."""

    version: int
    name: str
    template: str

    @property
    def checksum(self) -> str:
        """Of the template, not the rendering: the same for every database and cluster."""
        return hashlib.sha256(self.template.encode("utf-8")).hexdigest()

    def statements(
        self, database: str, cluster: str | None = None, *, per_node: bool = False
    ) -> list[str]:
        return render(self.template, database=database, cluster=cluster, per_node=per_node)


def load_migrations(directory: Path = SQL_DIR) -> list[Migration]:
    """Every ``NNNN_name.sql`` in version order; a duplicate version is an error."""
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.stem)
        if not match:
            raise ConfigurationError(f"migration file {path.name} is not named NNNN_name.sql")
        migrations.append(Migration(int(match.group(1)), path.stem, path.read_text("utf-8")))
    versions = [m.version for m in migrations]
    if len(set(versions)) != len(versions):
        raise ConfigurationError(f"two migrations share a version in {directory}")
    return migrations


def check_names(database: str, cluster: str | None) -> None:
    """Names go into DDL text unquoted, so only plain identifiers are accepted."""
    if not _IDENTIFIER.match(database):
        raise ConfigurationError(f"database name {database!r} must be a plain identifier")
    if cluster is not None and not _CLUSTER_NAME.match(cluster):
        raise ConfigurationError(f"cluster name {cluster!r} has characters DDL cannot take")


def render(
    template: str, *, database: str, cluster: str | None = None, per_node: bool = False
) -> list[str]:
    """The executable statements of a template for one node or for ``cluster``.

    ``per_node`` keeps the cluster's tables but drops ``ON CLUSTER`` (see the
    module docstring); it means nothing without a cluster.
    """
    check_names(database, cluster)
    on_cluster = on_cluster_clause(cluster, per_node=per_node)
    text = Template(template).substitute(
        db=database, on_cluster=on_cluster, local="_local" if cluster else ""
    )
    statements = split_statements(text)
    if cluster is None:
        return statements
    rendered: list[str] = []
    for statement in statements:
        rendered.extend(_for_cluster(statement, database, cluster, on_cluster))
    return rendered


def on_cluster_clause(cluster: str | None, *, per_node: bool = False) -> str:
    """``ON CLUSTER 'name'`` for DDL the cluster's DDL queue runs everywhere; else empty."""
    if cluster is None or per_node:
        return ""
    check_names(DEFAULT_DATABASE, cluster)
    return f"ON CLUSTER '{cluster}'"


def split_statements(text: str) -> list[str]:
    """Statements ended by ``;`` at the end of a line, whole-line ``--`` comments dropped.

    Only a line-final ``;`` ends a statement, so column comments may contain one.
    """
    kept = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    parts = (part.strip() for part in _STATEMENT_END.split("\n".join(kept)))
    return [part for part in parts if part]


def _for_cluster(statement: str, database: str, cluster: str, on_cluster: str) -> list[str]:
    """Replicated engine for a table; a Distributed table in front of a sharded one."""
    match = _CREATE_TABLE.match(statement)
    if not match:
        return [statement]
    table = match.group(2)
    sharded = table.endswith("_local")
    path = f"/clickhouse/tables/{{shard}}/{database}/{table}"
    if not sharded:  # small tables: one replica set spanning every node
        path = f"/clickhouse/tables/all/{database}/{table}"

    def replicated(engine: re.Match[str]) -> str:
        args = f", {engine.group('args')}" if engine.group("args") else ""
        return f"ENGINE = Replicated{engine.group('engine')}('{path}', '{{replica}}'{args})"

    local_statement = _ENGINE.sub(replicated, statement, count=1)
    if not sharded:
        return [local_statement]
    front = table.removesuffix("_local")
    key = SHARDING_KEYS.get(front)
    distributed_args = f"'{cluster}', '{database}', '{table}'" + (f", {key}" if key else "")
    return [
        local_statement,
        f"CREATE TABLE IF NOT EXISTS {database}.{front}{' ' if on_cluster else ''}{on_cluster}"
        f" AS {database}.{table} ENGINE = Distributed({distributed_args})",
    ]


def plan(
    database: str = DEFAULT_DATABASE, cluster: str | None = None, *, per_node: bool = False
) -> list[str]:
    """Every statement a fresh database needs, in order (for review and ``--sql``)."""
    statements = _preamble(database, cluster, per_node=per_node)
    for migration in load_migrations():
        statements.extend(migration.statements(database, cluster, per_node=per_node))
    return statements


def created_objects(statements: list[str]) -> list[str]:
    """Names (without database) of the tables and views that ``statements`` create."""
    names = (_CREATED.match(statement) for statement in statements)
    return [match.group(1) for match in names if match]


def _preamble(database: str, cluster: str | None, *, per_node: bool = False) -> list[str]:
    check_names(database, cluster)
    on_cluster = on_cluster_clause(cluster, per_node=per_node)
    return [
        f"CREATE DATABASE IF NOT EXISTS {database}{' ' if on_cluster else ''}{on_cluster}",
        *render(_BOOTSTRAP, database=database, cluster=cluster, per_node=per_node),
    ]


def applied_migrations(client: Client, database: str = DEFAULT_DATABASE) -> dict[str, str]:
    """Names and checksums already recorded (empty before the first migration)."""
    check_names(database, None)
    exists = client.query(f"EXISTS TABLE {database}.{MIGRATIONS_TABLE}").result_rows[0][0]
    if not int(exists):
        return {}
    sql = f"SELECT name, checksum FROM {database}.{MIGRATIONS_TABLE} FINAL"  # noqa: S608 - checked name
    rows = client.query(sql)
    return {str(name): str(checksum) for name, checksum in rows.result_rows}


def migrate(
    client: Client,
    *,
    database: str = DEFAULT_DATABASE,
    cluster: str | None = None,
    per_node: bool = False,
) -> list[str]:
    """Apply the pending migrations in order; return the names applied (empty = up to date).

    ``per_node``: the cluster form without ``ON CLUSTER``, for this node only.
    """
    for statement in _preamble(database, cluster, per_node=per_node):
        _execute(client, statement, "bootstrap")
    done = applied_migrations(client, database)
    applied: list[str] = []
    for migration in load_migrations():
        if migration.name in done:
            if done[migration.name] != migration.checksum:
                log.warning(
                    "migration %s changed after it was applied; edits to applied "
                    "migrations are not re-run: add a new migration instead",
                    migration.name,
                )
            continue
        for statement in migration.statements(database, cluster, per_node=per_node):
            _execute(client, statement, migration.name)
        _record(client, database, migration)
        log.info("applied migration %s to %s", migration.name, database)
        applied.append(migration.name)
    return applied


def _execute(client: Client, statement: str, step: str) -> None:
    try:
        client.command(statement)
    except Exception as exc:  # clickhouse-connect raises several unrelated types
        first_line = statement.splitlines()[0]
        raise ClickHouseError(f"migration {step} failed at `{first_line}`: {exc}") from exc


def _record(client: Client, database: str, migration: Migration) -> None:
    client.insert(
        MIGRATIONS_TABLE,
        [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
        column_names=["version", "name", "checksum", "applied_at"],
        database=database,
    )

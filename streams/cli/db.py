"""``regsosek db``: the ClickHouse side: engine check, schema migrations, analyst access."""

from __future__ import annotations

import hashlib
import json
import secrets

import click

from schemas.errors import ClickHouseError
from sinks.clickhouse import client_from_dsn, describe, parse_dsn
from sinks.migrations import migrate, plan
from sinks.privacy import RESTRICTED_TABLES, AnalystQuota, analyst_role_sql
from streams.settings import Settings

_DATABASE_HELP = "Database of the analytics tables [default: REGSOSEK_CLICKHOUSE_DATABASE]."
_CLUSTER_HELP = "Cluster for ON CLUSTER DDL [default: REGSOSEK_CLICKHOUSE_CLUSTER, none]."


@click.group("db")
def command() -> None:
    """ClickHouse: the embedded engine (chdb://) or a server (http(s)://)."""


@command.command("ping")
@click.pass_obj
def ping(settings: Settings) -> None:
    """Open the configured engine, run a query, and say which engine and version answered."""
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    try:
        one = client.query("SELECT 1").result_rows[0][0]
        click.echo(f"{describe(client, dsn)}: answered SELECT 1 = {one}")
    finally:
        client.close()


@command.command("migrate")
@click.option("--database", default=None, help=_DATABASE_HELP)
@click.option("--cluster", default=None, help=_CLUSTER_HELP)
@click.option("--sql", "print_sql", is_flag=True, help="Print the full DDL instead of running it.")
@click.pass_obj
def migrate_command(
    settings: Settings, database: str | None, cluster: str | None, print_sql: bool
) -> None:
    """Create or update the tables and views; applying twice changes nothing.

    The worker runs the same migrations at start. In embedded mode stop the
    worker first (one process per engine) or let it migrate.
    """
    database = database or settings.clickhouse_database
    cluster = cluster or settings.clickhouse_cluster
    if print_sql:
        for statement in plan(database, cluster):
            click.echo(f"{statement};\n")
        return
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    try:
        applied = migrate(client, database=database, cluster=cluster)
    finally:
        client.close()
    where = f"{database} on {parse_dsn(dsn).where}" + (f" (cluster {cluster})" if cluster else "")
    if applied:
        click.echo(f"Applied {len(applied)} migration(s) to {where}: {', '.join(applied)}")
    else:
        click.echo(f"{where} is up to date")


@command.command("analyst-role-sql")
@click.option("--database", default=None, help=_DATABASE_HELP)
@click.option("--cluster", default=None, help=_CLUSTER_HELP)
@click.option("--role", default="regsosek_analyst", show_default=True)
@click.option("--user", default="analyst_example", show_default=True, help="Example user.")
@click.option(
    "--nik-hash/--no-nik-hash",
    default=True,
    show_default=True,
    help="Let the role read members.nik_hash (duplicate-person analysis).",
)
@click.option(
    "--area",
    default=None,
    help="Region master code (35.09 = Jember, 35.09.19 = one district): row policies "
    "limit the role to that area [default: the whole database].",
)
@click.option(
    "--queries-per-hour",
    type=click.IntRange(min=1),
    default=AnalystQuota.queries_per_hour,
    show_default=True,
    help="Quota per analyst user and hour.",
)
@click.option(
    "--password/--no-password",
    "with_password",
    default=True,
    show_default=True,
    help="Give the example user a random password (printed once on stderr, only its "
    "SHA-256 in the DDL); --no-password creates it unable to log in.",
)
@click.pass_obj
def analyst_role_sql_command(
    settings: Settings,
    *,
    database: str | None,
    cluster: str | None,
    role: str,
    user: str,
    nik_hash: bool,
    area: str | None,
    queries_per_hour: int,
    with_password: bool,
) -> None:
    """Print DDL for a read-only analyst role on a ClickHouse server; run it as an admin."""
    database = database or settings.clickhouse_database
    cluster = cluster or settings.clickhouse_cluster
    password = secrets.token_urlsafe(24) if with_password else None
    try:
        statements = analyst_role_sql(
            database,
            cluster=cluster,
            role=role,
            user=user,
            nik_hash=nik_hash,
            area=area,
            quota=AnalystQuota(queries_per_hour=queries_per_hour),
            password_sha256=hashlib.sha256(password.encode()).hexdigest() if password else None,
        )
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    click.echo("-- Read-only analyst access (ClickHouse server; the embedded engine has no users).")
    for table, why in RESTRICTED_TABLES.items():
        click.echo(f"-- Not granted: {database}.{table} ({why}).")
    click.echo("")
    for statement in statements:
        click.echo(f"{statement};")
    if password:
        click.echo(f"password of {user} (shown once, not in the DDL): {password}", err=True)


@command.command("query")
@click.argument("sql")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per row.")
@click.pass_obj
def query_command(settings: Settings, sql: str, as_json: bool) -> None:
    """Run one read-only SQL query (readonly=1) and print the rows.

    In embedded mode the worker holds the engine: stop it first, or use
    `regsosek progress`, which asks the running worker.
    """
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    try:
        result = client.query(sql, settings={"readonly": 1})
    except Exception as exc:  # the engine's own message is the useful part
        raise ClickHouseError(f"query failed: {str(exc).splitlines()[0][:300]}") from exc
    finally:
        client.close()
    names = list(result.column_names)
    for row in result.result_rows:
        if as_json:
            click.echo(json.dumps(dict(zip(names, row, strict=True)), default=str))
        else:
            click.echo("\t".join(str(value) for value in row))

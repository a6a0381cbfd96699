"""``regsosek db``: the ClickHouse side (engine check now; migrations come with the sink)."""

from __future__ import annotations

import click

from sinks.clickhouse import client_from_dsn, describe
from streams.settings import Settings


@click.group("db")
def command() -> None:
    """ClickHouse: the embedded engine (chdb://) or a server (http(s)://)."""


@command.command("ping")
@click.pass_obj
def ping(settings: Settings) -> None:
    """Open the configured engine, run a query, and say which engine and version answered."""
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn)
    try:
        one = client.query("SELECT 1").result_rows[0][0]
        click.echo(f"{describe(client, dsn)}: answered SELECT 1 = {one}")
    finally:
        client.close()

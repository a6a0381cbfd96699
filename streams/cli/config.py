"""``regsosek config``: show the effective settings, secrets masked."""

from __future__ import annotations

import json
import os

import click
from rich.console import Console
from rich.table import Table

from streams.settings import Settings


@click.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_obj
def command(settings: Settings, as_json: bool) -> None:
    """Print the effective settings and where each came from (env or default)."""
    shown = settings.masked()
    if as_json:
        click.echo(json.dumps(shown, indent=2))
        return
    table = Table(title="regsosek settings (secrets masked)")
    for column in ("setting", "value", "source", "meaning"):
        table.add_column(column)
    for name, value in shown.items():
        env = Settings.env_name(name)
        source = "env" if env in os.environ else "default"
        meaning = Settings.model_fields[name].description or ""
        table.add_row(env, value, source, meaning)
    Console().print(table)

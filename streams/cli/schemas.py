"""``regsosek schemas``: list registered schemas, check compatibility, release a version.

``check`` is what CI runs before a schema change merges: it needs no registry,
only the files, and exits non-zero (listing each problem with its field path)
when a change would break readers of data already written.
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from schemas import catalog
from schemas.errors import IncompatibleSchemaError
from schemas.evolution import check_directory, release
from schemas.registry import SchemaRegistry, registry_from_url
from streams.settings import Settings, mask_url

_DIR_OPTION = click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False, exists=True),
    default=catalog.SCHEMAS_DIR,
    show_default=True,
    help="Schemas directory: <Name>.avsc files and released/.",
)


@click.group("schemas")
def command() -> None:
    """Event contracts: Avro schemas, their registry ids and compatibility."""


@command.command("list")
@_DIR_OPTION
@click.pass_obj
def list_schemas(settings: Settings, directory: Path) -> None:
    """Print subject, version and id of every schema.

    Asks the registry at REGSOSEK_SCHEMA_REGISTRY_URL when it is set,
    otherwise the local registry built from --dir.
    """
    url = settings.schema_registry_url.get_secret_value() if settings.schema_registry_url else ""
    catalog.clear_cache()
    registry = registry_from_url(url or None, directory=directory)
    source = mask_url(url) if url else f"local registry ({directory})"
    table = Table(title=f"schemas in {source}")
    for column in ("subject", "version", "id", "schema"):
        table.add_column(column)
    for row in _rows(registry):
        table.add_row(*row)
    Console(width=160).print(table)


def _rows(registry: SchemaRegistry) -> list[tuple[str, str, str, str]]:
    rows = []
    for subject in registry.subjects():
        for version in registry.versions(subject):
            entry = registry.get_version(subject, version)
            name = str(entry.schema.get("name", "?"))
            rows.append((subject, str(version), str(entry.schema_id), name))
    return rows


@command.command("check")
@_DIR_OPTION
def check(directory: Path) -> None:
    """Check every schema against ALL its released versions (BACKWARD_TRANSITIVE).

    Also checks the house rules (a doc on every field, form codes on enums)
    and that released files are unchanged. Exits non-zero on any problem.
    """
    reports = check_directory(directory)
    table = Table(title=f"schema check ({directory})")
    for column in ("schema", "subject", "released", "current", "result"):
        table.add_column(column)
    for report in reports:
        released = ", ".join(f"v{v}" for v in report.released) or "-"
        result = "ok" if report.ok else f"{len(report.problems)} problem(s)"
        table.add_row(report.name, report.subject, released, report.status, result)
    console = Console(width=160)
    console.print(table)
    failed = [report for report in reports if not report.ok]
    for report in failed:
        for problem in report.problems:
            click.echo(f"{report.name}: {problem}")
    if failed:
        count = sum(len(report.problems) for report in failed)
        raise IncompatibleSchemaError(f"{count} schema problem(s); see the lines above")
    unreleased = [r.name for r in reports if r.status.startswith("unreleased")]
    for name in unreleased:
        click.echo(
            f"{name}: compatible change not yet released: run `regsosek schemas release {name}`"
        )


@command.command("release")
@click.argument("name", type=click.Choice(catalog.NAMES))
@_DIR_OPTION
def release_schema(name: str, directory: Path) -> None:
    """Freeze the current NAME schema as its next released version with the next id."""
    entry = release(name, directory)
    click.echo(
        f"released {entry.name} v{entry.version} as id {entry.schema_id}: "
        f"{catalog.RELEASED_DIR}/{entry.name}/v{entry.version}.avsc and {catalog.IDS_FILE} written"
    )

"""``regsosek export``: one regency's (or district's) households and members as files.

Parquet, CSV, Stata (.dta) and SPSS (.sav), pseudonymised exactly as the
analyst tables are (no names, NIK only as its HMAC), with a data dictionary
in CSV and Markdown. See docs/lifecycle.md, "Exports".

The command reads ClickHouse directly. The embedded engine (``chdb://``) can
be opened by one process only, so stop the worker first, as for
``regsosek db query``; a ClickHouse server can be read at any time, best with
a read-only analyst user in ``REGSOSEK_CLICKHOUSE_DSN`` (every query runs with
``readonly=1`` anyway).
"""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from schemas.errors import ClickHouseError
from sinks.clickhouse import client_from_dsn, parse_dsn
from streams.export import ExportRequest, Start, area_for, run_export
from streams.export import Progress as RowsDone
from streams.export_files import FORMATS
from streams.settings import Settings

_FORMAT_CHOICES = (*FORMATS, "all")


@click.command("export")
@click.option("--regency", required=True, help="Region master code of the regency, e.g. 35.09.")
@click.option("--district", default=None, help="Only this district, e.g. 35.09.02.")
@click.option(
    "--format",
    "formats",
    type=click.Choice(_FORMAT_CHOICES),
    multiple=True,
    default=("all",),
    show_default=True,
    help="File format; repeat for several.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (created if missing).",
)
@click.option(
    "--database",
    default=None,
    help="Database of the analytics tables [default: REGSOSEK_CLICKHOUSE_DATABASE].",
)
@click.option(
    "--nik-hash/--no-nik-hash",
    default=True,
    show_default=True,
    help="Include members.nik_hash (the NIK's HMAC), as the analyst role does by default.",
)
@click.option(
    "--labels",
    type=click.Choice(("id", "en")),
    default="id",
    show_default=True,
    help="Language of the Stata and SPSS variable and value labels.",
)
@click.pass_obj
def command(
    settings: Settings,
    *,
    regency: str,
    district: str | None,
    formats: tuple[str, ...],
    out: Path,
    database: str | None,
    nik_hash: bool,
    labels: str,
) -> None:
    """Export households and members of a regency or district, with a data dictionary."""
    request = ExportRequest(
        area=area_for(regency, district),
        formats=tuple(FORMATS) if "all" in formats else tuple(dict.fromkeys(formats)),
        out=out,
        database=database or settings.clickhouse_database,
        nik_hash=nik_hash,
        language=labels,
    )
    dsn = settings.clickhouse_dsn.get_secret_value()
    try:
        client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    except ClickHouseError as exc:
        if parse_dsn(dsn).embedded:
            raise ClickHouseError(
                f"{exc}. regsosek export reads the embedded engine directly: stop the "
                "worker first (as for `regsosek db query`), or use a ClickHouse server"
            ) from exc
        raise
    console = Console(stderr=True)
    try:
        with _RowsBar(console) as (start, advance):
            result = run_export(client, request, start=start, progress=advance)
    finally:
        client.close()
    for table, rows in result.rows.items():
        click.echo(f"{table}: {rows:,} rows")
    for path in result.files:
        click.echo(str(path))


class _RowsBar:
    """A rich progress bar per table: rows written of the table's total."""

    def __init__(self, console: Console) -> None:
        self._progress = Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> tuple[Start, RowsDone]:
        self._progress.start()
        return self.start, self.advance

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, table: str, total: int) -> None:
        self._tasks[table] = self._progress.add_task(table, total=total)

    def advance(self, table: str, rows: int, total: int) -> None:
        self._progress.update(self._tasks[table], advance=rows, total=max(total, 1))

"""``regsosek export``'s work: one area's households and members to files, plus a dictionary.

Reads through :mod:`sinks.exports` (the analyst tables, the analyst role's
area condition), writes through :mod:`streams.export_files`, and reports rows
as they are written so the command can draw a progress bar. The engine is
read once per table, whatever the number of formats.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from sinks.export_dictionary import Variable, dictionary_csv, dictionary_markdown
from sinks.exports import EXPORT_TABLES, ExportTable, count_rows, stream_columns, table_variables
from sinks.privacy import AREA_CODE
from streams.export_files import FORMATS, ExportError, TableWriter, arrow_schema, open_writer
from streams.export_files import record_batch as to_batch

#: Called with (table, rows written by this block, the table's total rows).
Progress = Callable[[str, int, int], None]
#: Called once per table before its rows: (table, total rows).
Start = Callable[[str, int], None]


@dataclass(frozen=True)
class ExportRequest:
    """What to export, where, and in which formats."""

    area: str  # a region master code: regency 35.09 or district 35.09.02
    formats: tuple[str, ...]
    out: Path
    database: str
    nik_hash: bool = True
    language: str = "id"  # labels of Stata and SPSS files: id (Indonesian) or en


@dataclass
class ExportResult:
    """What was written: files, and rows per table."""

    files: list[Path] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)


def area_for(regency: str, district: str | None) -> str:
    """The area code an export covers: the district when given, which must lie in the regency."""
    if not re.fullmatch(r"\d{2}\.\d{2}", regency):
        raise ExportError(f"--regency must be a region master code like 35.09: {regency!r}")
    if district is None:
        return regency
    if not AREA_CODE.fullmatch(district) or district.count(".") != 2:
        raise ExportError(f"--district must be a code like 35.09.02: {district!r}")
    if not district.startswith(regency + "."):
        raise ExportError(f"district {district} is not in regency {regency}")
    return district


def file_stem(area: str) -> str:
    """``regsosek_3509`` for Jember: no dots, which some tools take for an extension."""
    return f"regsosek_{area.replace('.', '')}"


def run_export(
    client: Client,
    request: ExportRequest,
    *,
    start: Start | None = None,
    progress: Progress | None = None,
) -> ExportResult:
    """Write every table in every format, then the dictionary (CSV and Markdown)."""
    unknown = [fmt for fmt in request.formats if fmt not in FORMATS]
    if unknown:
        raise ExportError(f"unknown format(s) {unknown}: choose from {', '.join(FORMATS)}")
    request.out.mkdir(parents=True, exist_ok=True)
    result = ExportResult()
    described: dict[str, Sequence[Variable]] = {}
    for table in EXPORT_TABLES:
        variables = table_variables(client, request.database, table, nik_hash=request.nik_hash)
        described[table.name] = variables
        total = count_rows(client, table, request.database, request.area)
        if start is not None:
            start(table.name, total)
        files, rows = _export_table(
            client, request, table, variables, total=total, progress=progress
        )
        result.files += files
        result.rows[table.name] = rows
    stem = request.out / file_stem(request.area)
    title = f"Regsosek export {request.area}: data dictionary"
    for path, text in (
        (stem.with_name(stem.name + "_dictionary.csv"), dictionary_csv(described)),
        (stem.with_name(stem.name + "_dictionary.md"), dictionary_markdown(described, title)),
    ):
        path.write_text(text, encoding="utf-8")
        result.files.append(path)
    return result


def _export_table(
    client: Client,
    request: ExportRequest,
    table: ExportTable,
    variables: Sequence[Variable],
    *,
    total: int,
    progress: Progress | None,
) -> tuple[list[Path], int]:
    metadata = {
        "regsosek.table": table.name,
        "regsosek.area": request.area,
        "regsosek.exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    schema = arrow_schema(variables, metadata)
    stem = file_stem(request.area)
    writers: list[TableWriter] = []
    rows = 0
    try:
        for fmt in request.formats:
            path = request.out / f"{stem}_{table.name}.{FORMATS[fmt]}"
            writers.append(open_writer(fmt, path, variables, schema, request.language))
        names = [v.name for v in variables]
        for block in stream_columns(client, table, request.database, request.area, names):
            batch = to_batch(schema, block)
            for writer in writers:
                writer.write(batch)
            rows += batch.num_rows
            if progress is not None:
                progress(table.name, batch.num_rows, total)
        return [writer.close() for writer in writers], rows
    except BaseException:
        for writer in writers:
            writer.abort()
        raise

"""What ``regsosek export`` reads: the analyst tables of one area, streamed in blocks.

An export must not become a second privacy policy. It reads exactly what the
analyst role reads (:mod:`sinks.privacy`): ``households FINAL`` (the newest
revision of each household) and ``members_current`` (the members of that
revision), filtered by the same area condition as the role's row policies.
Those tables hold no names and the NIK only as its HMAC; the only choice left
is the role's own ``--no-nik-hash``.

Rows are streamed in the engine's blocks (Native format, which clickhouse-
connect streams from chdb and from a server alike), so a regency's members
never sit in memory at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from clickhouse_connect.driver.client import Client

from sinks.export_dictionary import Variable, variable
from sinks.migrations import check_names
from sinks.privacy import area_condition


@dataclass(frozen=True)
class ExportTable:
    """One exported table: the analyst view it reads and the order of its rows."""

    name: str
    source: str  # the table whose columns and comments describe the view
    relation: str  # what the SELECT reads, with {db}
    order_by: str


EXPORT_TABLES = (
    ExportTable("households", "households", "{db}.households FINAL", "household_id"),
    ExportTable("members", "members", "{db}.members_current", "household_id, member_number"),
)
#: Columns an analyst may be denied (``analyst-role-sql --no-nik-hash``).
NIK_HASH_COLUMN = "nik_hash"
#: ClickHouse settings of every export query: read only, whatever the DSN's user may do.
READ_ONLY = {"readonly": 1}


def table_variables(
    client: Client, database: str, table: ExportTable, *, nik_hash: bool = True
) -> list[Variable]:
    """The table's columns in table order, each with its dictionary entry."""
    check_names(database, None)
    rows = client.query(
        "SELECT name, type, comment FROM system.columns"
        " WHERE database = {db:String} AND table = {table:String} ORDER BY position",
        parameters={"db": database, "table": table.source},
        settings=READ_ONLY,
    ).result_rows
    return [
        variable(str(name), str(kind), str(comment))
        for name, kind, comment in rows
        if nik_hash or name != NIK_HASH_COLUMN
    ]


def select_sql(
    table: ExportTable, database: str, area: str, columns: Sequence[str], *, count: bool = False
) -> str:
    """The SELECT (or count) of one table's rows in ``area``, in a stable order."""
    check_names(database, None)
    where = area_condition(table.source, area, database)
    relation = table.relation.format(db=database)
    if count:
        return f"SELECT count() FROM {relation} WHERE {where}"  # noqa: S608 - checked names
    names = ", ".join(f"`{name}`" for name in columns)
    # names come from system.columns, the database and area are checked
    return f"SELECT {names} FROM {relation} WHERE {where} ORDER BY {table.order_by}"  # noqa: S608


def count_rows(client: Client, table: ExportTable, database: str, area: str) -> int:
    """How many rows the export of ``table`` will write (the progress bar's total)."""
    sql = select_sql(table, database, area, (), count=True)
    return int(client.query(sql, settings=READ_ONLY).result_rows[0][0])


def stream_columns(
    client: Client, table: ExportTable, database: str, area: str, columns: Sequence[str]
) -> Iterator[list[Sequence[Any]]]:
    """The rows of ``table`` in ``area`` as blocks of columns (one sequence per column)."""
    sql = select_sql(table, database, area, columns)
    with client.query_column_block_stream(sql, settings=READ_ONLY) as blocks:
        yield from blocks

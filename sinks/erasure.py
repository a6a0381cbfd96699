"""Erase one household on a lawful request: every table that holds it, every aggregate it fed.

Where the household is comes from the engine's own catalogue, not from a list
kept by hand, so a table added by a later migration is covered the day it
appears:

* every MergeTree table with a ``household_id`` column (households, members,
  rejection_payloads and its copy rejections, reviews and review_decisions,
  enumerator_events, nik_households, reprocess_audit, ...) loses its rows
  with ``ALTER TABLE ... DELETE`` (a mutation that rewrites the parts, so the
  bytes are gone from the active data, not only masked as a lightweight
  DELETE would leave them until a merge), run with ``mutations_sync = 2`` so
  the call returns once the data is gone;
* every materialized view whose target has no ``household_id`` (the progress
  aggregates: ``uniqExact`` states cannot drop one id) has the target's rows
  of the *keys* the household touched (its village and day, its enumerator
  and day, ...) deleted and re-computed from the rows that remain, with the
  view's own SELECT read from ``system.tables``: the rebuild cannot drift
  from the view. A view whose source holds no ``household_id`` either is an
  error (:class:`ErasureError`): someone must decide how it is erased.

Order: aggregates first (they are recomputed from the source rows of the
household's keys, read while those rows are still there to name the keys),
then the tables; a run interrupted half-way is finished by running it again.
Embedded engine or one server only: on a cluster the ``_local`` tables would
need ``ON CLUSTER`` mutations, which nothing here has been tried on.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from schemas.errors import ClickHouseError
from sinks.migrations import DEFAULT_DATABASE, check_names

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

#: The column that names a household wherever one is kept.
HOUSEHOLD_COLUMN = "household_id"
#: Where the audit of each erasure goes (migration 0012); it keeps only the id's HMAC.
AUDIT_TABLE = "erasures"
#: An aggregate is recomputed from this table instead of its view's source: the source
#: expires (rejection_payloads has a TTL, sinks/retention.py) while its copy does not,
#: and the copy has every column the view reads.
REBUILD_FROM = {"rejection_payloads": "rejections"}
#: Session settings of every mutation: return when every replica has applied it.
MUTATION_SETTINGS = {"mutations_sync": 2}
#: The rebuild's INSERT ... SELECT may produce a block identical to one deleted
#: earlier; insert deduplication would silently drop it.
REBUILD_SETTINGS = {"insert_deduplicate": 0}
#: Domain of the audit HMAC, so the digest of an id never equals a NIK's.
HASH_DOMAIN = b"regsosek-erasure-household:"

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_TARGET = re.compile(r"\bTO\s+`?(\w+)`?\.`?(\w+)`?")


class ErasureError(ClickHouseError):
    """The household cannot be erased as asked: unhandled table, cluster, rows left behind."""


def household_hash(key: bytes, household_id: str) -> str:
    """HMAC-SHA256 (hex) of the id under the operation's NIK key, for the audit.

    A plain SHA-256 would not hide it: household ids are a village code and a
    few serial numbers, so every id of a regency can be hashed in seconds.
    Whoever holds the key can still answer "was this household erased?".
    """
    return hmac.new(key, HASH_DOMAIN + household_id.encode(), hashlib.sha256).hexdigest()


# --- the plan: what the catalogue says holds a household ------------------------------------


@dataclass(frozen=True)
class CatalogTable:
    """One row of ``system.tables`` with what the plan needs."""

    name: str
    engine: str
    sorting_key: str = ""
    as_select: str = ""
    create_table_query: str = ""
    dependencies: tuple[str, ...] = ()  # materialized views fed by this table
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rebuild:
    """A view-fed aggregate: its target keys' rows are recomputed without the household."""

    view: str
    source: str  # the table the recomputation reads (REBUILD_FROM applied)
    target: str
    keys: tuple[str, ...]
    select: str  # the view's SELECT, reading ``database.source``
    columns: tuple[str, ...]  # the target's columns, in insert order


@dataclass(frozen=True)
class ErasurePlan:
    """Where one database keeps households: tables to delete from, aggregates to rebuild."""

    database: str
    tables: tuple[str, ...]
    rebuilds: tuple[Rebuild, ...]


def plan_from_catalog(database: str, catalog: Sequence[CatalogTable]) -> ErasurePlan:
    """The plan for ``database`` from its catalogue; raises ErasureError on a view it can't handle.

    Pure, so a unit test can show what a new kind of table does to it.
    """
    check_names(database, None)
    by_name = {table.name: table for table in catalog}
    holders = sorted(
        t.name for t in catalog if t.engine.endswith("MergeTree") and HOUSEHOLD_COLUMN in t.columns
    )
    rebuilds: list[Rebuild] = []
    for view in sorted(t.name for t in catalog if t.engine == "MaterializedView"):
        target = _view_target(by_name[view], database)
        if target in holders:
            continue  # its rows carry the id: deleted like any other table
        sources = [t.name for t in catalog if view in t.dependencies]
        if len(sources) != 1 or sources[0] not in holders:
            raise ErasureError(
                f"materialized view {view} feeds {target}, which keeps no {HOUSEHOLD_COLUMN}, "
                f"from {', '.join(sources) or 'no table'}: erasure does not know how to remove "
                "one household from it"
            )
        rebuilds.append(_rebuild(database, by_name[view], sources[0], by_name[target], by_name))
    return ErasurePlan(database, tuple(holders), tuple(rebuilds))


def _view_target(view: CatalogTable, database: str) -> str:
    match = _TARGET.search(view.create_table_query)
    if not match or match.group(1) != database:
        raise ErasureError(f"materialized view {view.name} has no TO table in {database}")
    return match.group(2)


def _rebuild(
    database: str,
    view: CatalogTable,
    source: str,
    target: CatalogTable,
    by_name: Mapping[str, CatalogTable],
) -> Rebuild:
    keys = tuple(key.strip() for key in target.sorting_key.split(","))
    if not all(_IDENTIFIER.match(key) for key in keys):
        raise ErasureError(f"{target.name} is sorted by an expression ({target.sorting_key})")
    read_from = REBUILD_FROM.get(source, source)
    if read_from not in by_name:
        raise ErasureError(f"{target.name} would be rebuilt from {read_from}, which is missing")
    select = replace_source(view.as_select, database, source, read_from)
    return Rebuild(view.name, read_from, target.name, keys, select, target.columns)


def replace_source(select: str, database: str, source: str, replacement: str) -> str:
    """The view's SELECT reading ``replacement`` where it read ``source`` (exactly once)."""
    pattern = re.compile(rf"\bFROM\s+`?{database}`?\.`?{source}`?(?=\s|$)")
    found = pattern.findall(select)
    if len(found) != 1:
        raise ErasureError(f"cannot find the one FROM {database}.{source} in a view's SELECT")
    return pattern.sub(f"FROM {database}.{replacement}", select)


def load_plan(client: Client, database: str = DEFAULT_DATABASE) -> ErasurePlan:
    """Read the catalogue of ``database`` and make its plan."""
    check_names(database, None)
    tables = client.query(
        "SELECT name, engine, sorting_key, as_select, create_table_query, dependencies_table"
        " FROM system.tables WHERE database = {db:String}",
        parameters={"db": database},
    ).result_rows
    columns: dict[str, list[str]] = {}
    for table, column in client.query(
        "SELECT table, name FROM system.columns WHERE database = {db:String}"
        " AND default_kind NOT IN ('ALIAS', 'MATERIALIZED') ORDER BY table, position",
        parameters={"db": database},
    ).result_rows:
        columns.setdefault(str(table), []).append(str(column))
    catalog = [
        CatalogTable(
            name=str(name),
            engine=str(engine),
            sorting_key=str(key),
            as_select=str(select),
            create_table_query=str(create),
            dependencies=tuple(str(d) for d in dependencies),
            columns=tuple(columns.get(str(name), ())),
        )
        for name, engine, key, select, create, dependencies in tables
    ]
    return plan_from_catalog(database, catalog)


# --- SQL of one erasure (household id always a bound parameter) -----------------------------


def _household_rows(database: str, table: str, *, keep: bool = False) -> str:
    operator = "!=" if keep else "="
    return (
        f"(SELECT * FROM {database}.{table}"  # noqa: S608 - names from the catalogue, checked
        f" WHERE {HOUSEHOLD_COLUMN} {operator} {{household:String}}) AS {table}"
    )


def _reading(database: str, rebuild: Rebuild, *, keep: bool) -> str:
    """The view's SELECT over the household's source rows (or, ``keep``, everyone else's)."""
    pattern = re.compile(rf"\bFROM {database}\.{rebuild.source}(?=\s|$)")
    rows = _household_rows(database, rebuild.source, keep=keep)
    return pattern.sub(lambda _match: f"FROM {rows}", rebuild.select, count=1)


def keys_sql(database: str, rebuild: Rebuild) -> str:
    """The target keys the household's source rows produce (its villages and days, ...)."""
    select = _reading(database, rebuild, keep=False)
    return f"SELECT DISTINCT {', '.join(rebuild.keys)} FROM ({select})"  # noqa: S608


def _in_keys(database: str, rebuild: Rebuild) -> str:
    return f"({', '.join(rebuild.keys)}) IN ({keys_sql(database, rebuild)})"


def rebuild_sqls(database: str, rebuild: Rebuild) -> tuple[str, str, str, str]:
    """Count keys, count their rows, delete their rows, insert them again without the household."""
    target = f"{database}.{rebuild.target}"
    others = _reading(database, rebuild, keep=True)
    columns = ", ".join(rebuild.columns)
    return (
        f"SELECT count() FROM ({keys_sql(database, rebuild)})",  # noqa: S608
        f"SELECT count() FROM {target} WHERE {_in_keys(database, rebuild)}",  # noqa: S608
        f"ALTER TABLE {target} DELETE WHERE {_in_keys(database, rebuild)}",
        f"INSERT INTO {target} ({columns}) SELECT {columns} FROM ({others})"  # noqa: S608
        f" WHERE {_in_keys(database, rebuild)}",
    )


def count_sql(database: str, table: str) -> str:
    """Rows of ``table`` holding the household."""
    where = f"{HOUSEHOLD_COLUMN} = {{household:String}}"
    return f"SELECT count() FROM {database}.{table} WHERE {where}"  # noqa: S608


def delete_sql(database: str, table: str) -> str:
    """The mutation that removes them (run with :data:`MUTATION_SETTINGS`)."""
    return f"ALTER TABLE {database}.{table} DELETE WHERE {HOUSEHOLD_COLUMN} = {{household:String}}"


# --- running it ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableOutcome:
    """What one table lost: rows with the id, or (an aggregate) rows of keys recomputed."""

    table: str
    rows: int
    rebuilt_keys: int = 0  # aggregates only: keys recomputed from the remaining rows


@dataclass(frozen=True)
class ErasureReport:
    """The answer of one erasure (or dry run): per table, and the audit's hash of the id."""

    household_hash: str
    dry_run: bool
    tables: tuple[TableOutcome, ...]
    erased_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat())

    @property
    def rows(self) -> int:
        """Rows that held the household (aggregates' recomputed rows not counted)."""
        return sum(t.rows for t in self.tables if not t.rebuilt_keys)

    @property
    def nothing(self) -> bool:
        """Nothing anywhere: the household was never here, or is already erased."""
        return all(t.rows == 0 and t.rebuilt_keys == 0 for t in self.tables)

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"rows": self.rows, "nothing": self.nothing}

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> ErasureReport:
        return cls(
            household_hash=str(body["household_hash"]),
            dry_run=bool(body["dry_run"]),
            tables=tuple(TableOutcome(**t) for t in body["tables"]),
            erased_at=str(body["erased_at"]),
        )


def _count(client: Client, sql: str, household_id: str) -> int:
    return int(client.query(sql, parameters={"household": household_id}).result_rows[0][0])


def erase_household(
    client: Client,
    plan: ErasurePlan,
    household_id: str,
    *,
    key: bytes,
    dry_run: bool = False,
) -> ErasureReport:
    """Remove ``household_id`` everywhere ``plan`` names (or, dry, count it); verify it is gone."""
    if not household_id.strip():
        raise ErasureError("an empty household id names no household")
    db = plan.database
    params = {"household": household_id}
    outcomes: list[TableOutcome] = []
    for rebuild in plan.rebuilds:
        count_keys, count_rows, delete_keys, insert_again = rebuild_sqls(db, rebuild)
        keys = _count(client, count_keys, household_id)
        rows = _count(client, count_rows, household_id) if keys else 0
        if keys and not dry_run:
            client.command(delete_keys, parameters=params, settings=MUTATION_SETTINGS)
            client.command(insert_again, parameters=params, settings=REBUILD_SETTINGS)
        outcomes.append(TableOutcome(rebuild.target, rows, keys))
    for table in plan.tables:
        rows = _count(client, count_sql(db, table), household_id)
        if rows and not dry_run:
            client.command(delete_sql(db, table), parameters=params, settings=MUTATION_SETTINGS)
        outcomes.append(TableOutcome(table, rows))
    if not dry_run:
        left = [t for t in plan.tables if _count(client, count_sql(db, t), household_id)]
        if left:  # a batch of the same household written meanwhile: run it again
            raise ErasureError(f"rows of the household are still in {', '.join(left)}")
    return ErasureReport(household_hash(key, household_id), dry_run, tuple(outcomes))


def record_audit(
    client: Client, database: str, report: ErasureReport, *, request: str, by: str
) -> None:
    """One audit row per erasure run: who, on which request, what went; never the id itself."""
    client.insert(
        AUDIT_TABLE,
        [
            [
                datetime.fromisoformat(report.erased_at),
                request,
                by,
                report.household_hash,
                [t.table for t in report.tables],
                [t.rows for t in report.tables],
                [t.rebuilt_keys for t in report.tables],
            ]
        ],
        column_names=[
            "erased_at",
            "request_ref",
            "erased_by",
            "household_hmac",
            "tables",
            "rows",
            "rebuilt_keys",
        ],
        database=database,
    )

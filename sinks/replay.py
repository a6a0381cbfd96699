"""The ClickHouse side of a replay: shadow tables, the swap, the old tables, the run's state.

A replay (``regsosek replay``, issue #17) recomputes every table the worker
derives from the submissions topic. It writes into *shadow* copies named
``<table>__replay``, made from the live tables' own DDL (``SHOW CREATE``), the
materialized views included, so the shadow aggregates are fed by the shadow
households exactly as the live ones are. Which tables those are is found, not
listed: the three the sink inserts into (:data:`SINK_TABLES`) and, transitively,
every materialized view reading one of them and the table it writes to
(:func:`derived_objects`); a view added by a later migration is replayed too.

The swap is one ``EXCHANGE TABLES a AND a__replay, b AND b__replay, ...``
statement (Atomic database; measured on chdb 26.9 and the same on a server).
The engine exchanges the pairs one after the other under one statement, not as
one transaction, so an insert can fall between two pairs. The order makes that
harmless: view targets first, then the tables the sink writes, so a live insert
in that window lands in an old source table whose views already feed the *new*
targets (uniqExact states, ReplacingMergeTree keys: adding a household that is
there anyway changes nothing), and the replay, which goes on to the end offsets
noted at the swap, writes the same offsets into the new source tables.
Materialized views follow table *names* (measured: after the exchange the live
``X_mv`` feeds the new tables and ``X_mv__replay`` the old ones), so the views
are not exchanged; the shadow views are dropped with the old tables' move to
``<table>__replaced``.

Single node only (embedded or one server): on a cluster a swap would have to
exchange every shard's local table and the Distributed front together.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from schemas.errors import ClickHouseError
from sinks.clickhouse import Client
from sinks.rows import Block
from sinks.writer import ClickHouseWriter

#: The tables the worker's sink inserts submissions' rows into.
SINK_TABLES = ("households", "members", "rejection_payloads")
SHADOW_SUFFIX = "__replay"
OLD_SUFFIX = "__replaced"
RUNS_TABLE = "replay_runs"

_TARGET = re.compile(r"\bTO\s+`?(\w+)`?\.`?(\w+)`?")
_CREATE = re.compile(r"^CREATE (TABLE|MATERIALIZED VIEW) ")


@dataclass(frozen=True)
class Derived:
    """The replayed objects: tables in swap order (view targets first), views in create order."""

    tables: tuple[str, ...]
    views: tuple[str, ...]


def derived_objects(sources: Iterable[str], views: Mapping[str, tuple[str, str]]) -> Derived:
    """Every table fed from ``sources`` through views, and those views.

    ``views`` maps a materialized view to (the table it reads, the table it
    writes). Tables come out targets first (a view's target before its
    source), views in an order where each view's tables exist already.
    """
    tables: list[str] = list(dict.fromkeys(sources))
    chosen: list[str] = []
    frontier = list(tables)
    while frontier:
        source = frontier.pop(0)
        for view, (reads, writes) in sorted(views.items()):
            if reads == source and view not in chosen:
                chosen.append(view)
                if writes not in tables:
                    tables.append(writes)
                    frontier.append(writes)
    return Derived(tables=tuple(reversed(tables)), views=tuple(chosen))


def view_edges(client: Client, database: str) -> dict[str, tuple[str, str]]:
    """Materialized views of ``database``, copies left out: view -> (reads, writes)."""
    rows = client.query(
        "SELECT name, create_table_query, dependencies_table FROM system.tables "
        "WHERE database = {db:String}",
        parameters={"db": database},
    ).result_rows
    writes: dict[str, str] = {}
    reads: dict[str, str] = {}
    for name, create, dependents in rows:
        if _is_copy(str(name)):
            continue
        view = str(create).startswith("CREATE MATERIALIZED")
        match = _TARGET.search(str(create)) if view else None
        if match:
            writes[str(name)] = match.group(2)
        for view in dependents or ():
            reads[str(view)] = str(name)
    return {view: (reads[view], target) for view, target in writes.items() if view in reads}


def _is_copy(name: str) -> bool:
    return name.endswith((SHADOW_SUFFIX, OLD_SUFFIX))


def renamed(statement: str, database: str, names: Iterable[str], suffix: str) -> str:
    """A ``SHOW CREATE`` statement for the copies: every replayed name suffixed, IF NOT EXISTS."""
    alternatives = "|".join(sorted(map(re.escape, names), key=len, reverse=True))
    pattern = re.compile(rf"\b{re.escape(database)}\.`?({alternatives})`?(?!\w)")
    text = pattern.sub(lambda m: f"{database}.{m.group(1)}{suffix}", statement)
    return _CREATE.sub(lambda m: f"CREATE {m.group(1)} IF NOT EXISTS ", text, count=1)


def exchange_sql(database: str, tables: Sequence[str]) -> str:
    """One statement swapping every live table with its shadow, in the order given."""
    pairs = ", ".join(f"{database}.{t} AND {database}.{t}{SHADOW_SUFFIX}" for t in tables)
    return f"EXCHANGE TABLES {pairs}"


def discover(client: Client, database: str) -> Derived:
    """The replayed objects of ``database`` as its views are now."""
    return derived_objects(SINK_TABLES, view_edges(client, database))


def existing(client: Client, database: str) -> set[str]:
    """Names of the tables and views of ``database``."""
    rows = client.query(
        "SELECT name FROM system.tables WHERE database = {db:String}", parameters={"db": database}
    ).result_rows
    return {str(row[0]) for row in rows}


def create_shadows(client: Client, database: str, derived: Derived) -> list[str]:
    """Create the ``__replay`` copies that are missing (tables, then views); their names."""
    names = (*derived.tables, *derived.views)
    made = []
    for name in (*derived.tables, *derived.views):
        create = client.query(f"SHOW CREATE TABLE {database}.{name}").result_rows[0][0]
        client.command(renamed(str(create), database, names, SHADOW_SUFFIX))
        made.append(f"{name}{SHADOW_SUFFIX}")
    return made


def table_uuid(client: Client, database: str, table: str) -> str:
    """The engine's UUID of a table: tells whether a swap happened (names do not)."""
    rows = client.query(
        "SELECT toString(uuid) FROM system.tables "
        "WHERE database = {db:String} AND name = {t:String}",
        parameters={"db": database, "t": table},
    ).result_rows
    return str(rows[0][0]) if rows else ""


def swap(client: Client, database: str, derived: Derived) -> None:
    """Live and shadow tables exchanged, in one statement."""
    client.command(exchange_sql(database, derived.tables))


def retire(client: Client, database: str, derived: Derived) -> None:
    """After the swap: the shadow views dropped, the old tables kept as ``__replaced``."""
    for view in derived.views:
        client.command(f"DROP VIEW IF EXISTS {database}.{view}{SHADOW_SUFFIX}")
    present = existing(client, database)
    moves = [
        f"{database}.{t}{SHADOW_SUFFIX} TO {database}.{t}{OLD_SUFFIX}"
        for t in derived.tables
        if f"{t}{SHADOW_SUFFIX}" in present
    ]
    if moves:
        client.command(f"RENAME TABLE {', '.join(moves)}")


def old_tables(client: Client, database: str) -> list[str]:
    """The ``__replaced`` tables left by earlier replays."""
    return sorted(name for name in existing(client, database) if name.endswith(OLD_SUFFIX))


def drop_old(client: Client, database: str) -> list[str]:
    """Drop the ``__replaced`` tables; their names."""
    dropped = old_tables(client, database)
    for name in dropped:
        client.command(f"DROP TABLE IF EXISTS {database}.{name}")
    return dropped


def drop_shadows(client: Client, database: str) -> list[str]:
    """Drop an abandoned run's ``__replay`` copies (views first); their names."""
    names = sorted(n for n in existing(client, database) if n.endswith(SHADOW_SUFFIX))
    views = [n for n in names if n.removesuffix(SHADOW_SUFFIX).endswith("_mv")]
    for name in views:
        client.command(f"DROP VIEW IF EXISTS {database}.{name}")
    for name in names:
        if name not in views:
            client.command(f"DROP TABLE IF EXISTS {database}.{name}")
    return names


class ShadowWriter(ClickHouseWriter):
    """The sink's writer aimed at other tables: ``households`` goes to ``households__replay``.

    ``suffix`` is switched to ``""`` at the swap: the shadow tables then have
    the live names, and the replay finishes into them.
    """

    def __init__(self, *args: Any, suffix: str = SHADOW_SUFFIX, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.suffix = suffix

    def _insert(self, block: Block, block_token: str) -> None:
        super()._insert(replace(block, table=f"{block.table}{self.suffix}"), block_token)


PHASES = ("catching_up", "swapping", "finishing", "done", "failed")
UNFINISHED = ("catching_up", "swapping", "finishing")


@dataclass(frozen=True)
class RunState:
    """One replay run as ``replay_runs`` keeps it."""

    run_id: str
    started_at: datetime
    rules_version: str
    phase: str = "catching_up"
    live_uuid: str = ""
    end_offsets: dict[int, int] = field(default_factory=dict)
    detail: str = ""

    @property
    def finished(self) -> bool:
        return self.phase not in UNFINISHED


def save_run(client: Client, database: str, state: RunState) -> None:
    """Record the run's phase (a new row; the newest wins)."""
    client.insert(
        RUNS_TABLE,
        [
            [
                state.run_id,
                state.started_at,
                state.rules_version,
                state.phase,
                state.live_uuid,
                json.dumps({str(p): o for p, o in sorted(state.end_offsets.items())}),
                state.detail[:500],
                datetime.now(UTC),
            ]
        ],
        column_names=[
            "run_id",
            "started_at",
            "rules_version",
            "phase",
            "live_uuid",
            "end_offsets",
            "detail",
            "updated_at",
        ],
        database=database,
    )


def finished_runs(client: Client, database: str) -> list[str]:
    """Ids of the runs that are done or failed."""
    rows = client.query(
        f"SELECT run_id FROM {database}.{RUNS_TABLE} FINAL "  # noqa: S608 - checked name
        f"WHERE phase NOT IN ('catching_up', 'swapping', 'finishing') ORDER BY run_id"
    ).result_rows
    return [str(row[0]) for row in rows]


def latest_run(client: Client, database: str) -> RunState | None:
    """The most recently started run, finished or not."""
    try:
        rows = client.query(
            f"SELECT run_id, started_at, rules_version, phase, live_uuid, end_offsets, detail "  # noqa: S608 - checked name
            f"FROM {database}.{RUNS_TABLE} FINAL ORDER BY started_at DESC LIMIT 1"
        ).result_rows
    except Exception as exc:  # clickhouse-connect and chdb raise several unrelated types
        raise ClickHouseError(f"cannot read {database}.{RUNS_TABLE}: {exc}") from exc
    if not rows:
        return None
    run_id, started, version, phase, live_uuid, offsets, detail = rows[0]
    started_at = started if started.tzinfo else started.replace(tzinfo=UTC)
    return RunState(
        run_id=str(run_id),
        started_at=started_at,
        rules_version=str(version),
        phase=str(phase),
        live_uuid=str(live_uuid),
        end_offsets={int(p): int(o) for p, o in json.loads(offsets or "{}").items()},
        detail=str(detail),
    )

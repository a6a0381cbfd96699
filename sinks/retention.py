"""How long ClickHouse keeps rejected originals: a TTL on ``rejection_payloads``, from a setting.

``rejection_payloads.original`` is the Kafka value as received: names, NIKs and
the address in clear whenever the body was a household. It is kept so that an
operator can fix and re-drive a quarantined record (``regsosek rejections
reprocess``), which is fieldwork's business, not the census's archive. Its
rows expire ``days`` after the sink wrote them (``written_at``, the platform's
clock: ``received_at`` of a replayed record may be months old). ``rejections``
(the same rows without the bytes and messages) keeps them, so counts, reasons
and the ``rejections_daily`` aggregate stay; docs/lifecycle.md lists every
table's retention.

The TTL is not in a migration: migrations are fixed DDL, and the number of
days is an operation's choice. :func:`apply_payload_retention` runs at worker
start, after the migrations, and changes the table only when its TTL differs
from the setting (``MODIFY TTL`` rewrites the table's parts).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from sinks.migrations import DEFAULT_DATABASE, check_names, render

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

PAYLOAD_TABLE = "rejection_payloads"
_TTL_DAYS = re.compile(r"\bTTL toDateTime\(written_at\) \+ toIntervalDay\((\d+)\)")


def payload_ttl_statements(days: int, *, database: str, cluster: str | None = None) -> list[str]:
    """The DDL that gives the rejected originals ``days`` of life (0: kept until erased)."""
    if days < 0:
        raise ValueError("retention days cannot be negative")
    change = (
        f"MODIFY TTL toDateTime(written_at) + INTERVAL {int(days)} DAY" if days else "REMOVE TTL"
    )
    return render(
        f"ALTER TABLE ${{db}}.{PAYLOAD_TABLE}${{local}} ${{on_cluster}} {change};",
        database=database,
        cluster=cluster,
    )


def payload_ttl_days(client: Client, database: str = DEFAULT_DATABASE) -> int:
    """Days of the table's TTL now (0 when it has none); the shard-local table in a cluster."""
    check_names(database, None)
    rows = client.query(
        "SELECT create_table_query FROM system.tables WHERE database = {db:String}"
        " AND name IN ({plain:String}, {local:String}) ORDER BY name DESC LIMIT 1",
        parameters={"db": database, "plain": PAYLOAD_TABLE, "local": f"{PAYLOAD_TABLE}_local"},
    ).result_rows
    match = _TTL_DAYS.search(str(rows[0][0])) if rows else None
    return int(match.group(1)) if match else 0


def apply_payload_retention(
    client: Client, days: int, *, database: str = DEFAULT_DATABASE, cluster: str | None = None
) -> bool:
    """Make the TTL ``days`` if it is not already; True when the table was changed."""
    if payload_ttl_days(client, database) == days:
        return False
    for statement in payload_ttl_statements(days, database=database, cluster=cluster):
        client.command(statement)
    return True

"""One DSN, one clickhouse-connect client: the only place that knows which engine we use.

``chdb:///path`` opens ClickHouse in process (the embedded default; one process
per path at a time), ``http(s)://user:pass@host:port/db`` talks to a server or
cluster. Everything above this module receives a client and runs the same DDL
and queries on both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import clickhouse_connect

from schemas.errors import ClickHouseError, ConfigurationError

EMBEDDED_SCHEME = "chdb"
SERVER_SCHEMES = ("http", "https")


@dataclass(frozen=True)
class Target:
    """What a DSN points at, without credentials (safe to log and print)."""

    embedded: bool
    where: str  # the chdb directory, or host:port
    database: str | None


def parse_dsn(dsn: str) -> Target:
    """Classify a DSN and reject what clickhouse-connect would misread."""
    parts = urlsplit(dsn)
    if parts.scheme == EMBEDDED_SCHEME:
        path = (parts.netloc + parts.path) if parts.netloc else parts.path
        if not path:
            raise ConfigurationError(f"chdb DSN needs a directory, e.g. chdb:///var/lib/x: {dsn!r}")
        return Target(embedded=True, where=path, database=None)
    if parts.scheme in SERVER_SCHEMES:
        if not parts.hostname:
            raise ConfigurationError("ClickHouse DSN has no host: expected http(s)://host:8123/db")
        port = parts.port or (8443 if parts.scheme == "https" else 8123)
        database = parts.path.strip("/") or None
        return Target(embedded=False, where=f"{parts.hostname}:{port}", database=database)
    raise ConfigurationError(
        f"unsupported ClickHouse DSN scheme {parts.scheme!r}: use chdb:///path or http(s)://..."
    )


def client_from_dsn(dsn: str, **settings: Any) -> Any:
    """Open a clickhouse-connect client for ``dsn``; failures become one clear error."""
    target = parse_dsn(dsn)
    if target.embedded:
        Path(target.where).mkdir(parents=True, exist_ok=True)
    try:
        return clickhouse_connect.get_client(dsn=dsn, settings=settings or None)
    except Exception as exc:  # clickhouse-connect and chdb raise several unrelated types
        hint = ""
        if target.embedded and "EmbeddedServer" in str(exc):
            hint = " (another process, probably the worker, has this embedded engine open)"
        raise ClickHouseError(f"cannot open ClickHouse at {target.where}: {exc}{hint}") from exc


def describe(client: Any, dsn: str) -> str:
    """A one-line, credential-free description: engine kind, version and location."""
    target = parse_dsn(dsn)
    kind = "embedded ClickHouse (chdb)" if target.embedded else "ClickHouse server"
    return f"{kind} {client.server_version} at {target.where}"

"""One DSN, one clickhouse-connect client: the only place that knows which engine we use.

``chdb:///path`` opens ClickHouse in process (the embedded default; one process
per path at a time), ``http(s)://user:pass@host:port/db`` talks to a server or
cluster. Everything above this module receives a client and runs the same DDL
and queries on both.

The DSN's scheme decides the transport. clickhouse-connect alone would choose
TLS by port (443/8443) or its ``secure`` flag, so ``https://...:8123`` would
send the credentials in clear: here ``https://`` (or ``?secure=true``) always
means TLS with the server's certificate verified, against the system's trust
store or the CA file given, and ``http://`` always means plain HTTP.
Verification cannot be turned off from the DSN.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas.errors import ClickHouseError, ConfigurationError

EMBEDDED_SCHEME = "chdb"
SERVER_SCHEMES = ("http", "https")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
#: DSN options that would weaken or bypass certificate checks: set by the CA-file setting.
_REFUSED_OPTIONS = frozenset({"verify", "ca_cert", "interface"})

__all__ = ["Client", "Connection", "Target", "client_from_dsn", "connection", "parse_dsn"]


@dataclass(frozen=True)
class Target:
    """What a DSN points at, without credentials (safe to log and print)."""

    embedded: bool
    where: str  # the chdb directory, or host:port
    database: str | None
    secure: bool = False  # TLS to a server


@dataclass(frozen=True)
class Connection:
    """What :func:`clickhouse_connect.get_client` is given for one DSN.

    ``dsn`` keeps host, port, user, database and clickhouse-connect's own
    options; ``secure`` is taken out of it and passed explicitly, with the
    interface, so that the scheme and not the port chooses TLS.
    """

    dsn: str
    target: Target
    ca_cert: str | None = None

    @property
    def interface(self) -> str | None:
        """``https``/``http`` for a server; None for the embedded engine."""
        if self.target.embedded:
            return None
        return "https" if self.target.secure else "http"


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
        secure = _secure(parts.scheme, dict(parse_qsl(parts.query, keep_blank_values=True)))
        port = parts.port or (8443 if secure else 8123)
        database = parts.path.strip("/") or None
        return Target(
            embedded=False, where=f"{parts.hostname}:{port}", database=database, secure=secure
        )
    raise ConfigurationError(
        f"unsupported ClickHouse DSN scheme {parts.scheme!r}: use chdb:///path or http(s)://..."
    )


def connection(dsn: str, ca_file: Path | None = None) -> Connection:
    """The client's arguments for ``dsn``: TLS from the scheme, the CA file for TLS only.

    A CA file with a plain ``http://`` server DSN is refused rather than
    ignored: whoever set it expected TLS, and the password would go in clear.
    """
    target = parse_dsn(dsn)
    if target.embedded:
        return Connection(dsn=dsn, target=target)
    parts = urlsplit(dsn)
    options = parse_qsl(parts.query, keep_blank_values=True)
    refused = sorted({name for name, _ in options} & _REFUSED_OPTIONS)
    if refused:
        raise ConfigurationError(
            f"ClickHouse DSN option(s) {', '.join(refused)} not accepted: the scheme chooses "
            "TLS, the certificate is always verified, and the CA file is its own setting"
        )
    if ca_file is not None and not target.secure:
        raise ConfigurationError(
            "a ClickHouse CA file is set but the DSN is plain http://: use https:// "
            "(or ?secure=true) so that the connection is encrypted"
        )
    kept = urlencode([(name, value) for name, value in options if name != "secure"])
    return Connection(
        dsn=urlunsplit(parts._replace(query=kept)),
        target=target,
        ca_cert=str(ca_file) if ca_file is not None else None,
    )


def _secure(scheme: str, options: Mapping[str, str]) -> bool:
    """TLS for ``https``, or for ``http`` with ``secure=true``; a contradiction is an error."""
    flag = options.get("secure")
    if flag is None:
        return scheme == "https"
    value = flag.strip().lower()
    if value not in _TRUE | _FALSE:
        raise ConfigurationError(f"ClickHouse DSN: secure={flag!r} is not true or false")
    if scheme == "https" and value in _FALSE:
        raise ConfigurationError("ClickHouse DSN: https:// with secure=false; use http://")
    return scheme == "https" or value in _TRUE


def client_from_dsn(
    dsn: str,
    *,
    ca_file: Path | None = None,
    settings: Mapping[str, str | int] | None = None,
) -> Client:
    """Open a clickhouse-connect client for ``dsn``; failures become one clear error.

    ``settings`` are ClickHouse session settings sent with every request
    (``readonly=2`` for a client that must never write).
    """
    conn = connection(dsn, ca_file)
    target = conn.target
    if target.embedded:
        Path(target.where).mkdir(parents=True, exist_ok=True)
    elif ca_file is not None and not ca_file.is_file():
        raise ConfigurationError(f"ClickHouse CA file {ca_file} does not exist")
    session: dict[str, object] | None = dict(settings) if settings else None
    try:
        if conn.interface is None:
            return clickhouse_connect.get_client(dsn=conn.dsn, settings=session)
        return clickhouse_connect.get_client(
            dsn=conn.dsn,
            interface=conn.interface,
            secure=target.secure,
            settings=session,
            verify=True,
            ca_cert=conn.ca_cert,
        )
    except Exception as exc:  # clickhouse-connect and chdb raise several unrelated types
        hint = ""
        if target.embedded and "EmbeddedServer" in str(exc):
            hint = " (another process, probably the worker, has this embedded engine open)"
        raise ClickHouseError(f"cannot open ClickHouse at {target.where}: {exc}{hint}") from exc


def describe(client: Client, dsn: str) -> str:
    """A one-line, credential-free description: engine kind, version, location, transport."""
    target = parse_dsn(dsn)
    if target.embedded:
        return f"embedded ClickHouse (chdb) {client.server_version} at {target.where}"
    transport = "TLS" if target.secure else "plain HTTP"
    return f"ClickHouse server {client.server_version} at {target.where} ({transport})"

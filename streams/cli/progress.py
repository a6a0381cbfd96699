"""``regsosek progress``: enumeration progress by district, village or enumerator.

Where the rows come from depends on the engine. A ClickHouse server can be
queried by anyone, so the command asks it directly. The embedded engine
(``chdb://``) can be opened by one process only, and while the worker runs
that process is the worker: the command then asks the worker's
``GET /progress`` on ``REGSOSEK_WEB_PORT``, which runs the same
:func:`sinks.queries.progress_json`. ``--direct`` opens the embedded engine
itself (the worker must be stopped).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import urlencode

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from schemas.errors import ClickHouseError, RegsosekError
from sinks.clickhouse import client_from_dsn, parse_dsn
from sinks.queries import DIMENSIONS, progress_json
from streams.secret_files import client_token
from streams.settings import Settings

WIB = timezone(timedelta(hours=7), "WIB")
Fetch = Callable[[str, str | None], list[dict[str, Any]]]

#: (key, header) of the columns shown per dimension, in order.
_COLUMNS: dict[str, tuple[tuple[str, str], ...]] = {
    "district": (
        ("district_code", "district"),
        ("bps_district_code", "BPS"),
        ("district_name", "name"),
    ),
    "village": (("village_code", "village"), ("village_name", "name")),
    "enumerator": (("enumerator_id", "enumerator"), ("supervisor_id", "supervisor")),
}
_COUNTS = (
    ("target", "target"),
    ("enumerated", "enumerated"),
    ("percent", "%"),
    ("visited", "visited"),
    ("rejected", "rejected"),
    ("warnings", "warnings"),
)
_ENUMERATOR_EXTRA = (
    ("households_per_day", "per day"),
    ("duration_p50_s", "p50 min"),
    ("duration_p90_s", "p90 min"),
)


@click.command("progress")
@click.option(
    "--by", type=click.Choice(DIMENSIONS), default="district", show_default=True, help="Rows per."
)
@click.option("--district", default=None, help="Only this district: 35.09.02 or BPS 3509010.")
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between refreshes.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (one document per refresh).")
@click.option("--direct", is_flag=True, help="Open ClickHouse here even in embedded mode.")
@click.option("--database", default=None, help="[default: REGSOSEK_CLICKHOUSE_DATABASE]")
@click.pass_obj
def command(
    settings: Settings,
    *,
    by: str,
    district: str | None,
    watch: bool,
    interval: float,
    as_json: bool,
    direct: bool,
    database: str | None,
) -> None:
    """Targets, enumerated households, rejections and warnings, as a table or JSON."""
    fetch, close = source(settings, direct=direct, database=database)
    try:
        if not watch:
            show(fetch(by, district), by, as_json)
        elif as_json:
            _watch_json(fetch, by, district, interval)
        else:
            _watch_table(fetch, by, district, interval)
    except KeyboardInterrupt:
        pass
    finally:
        close()


def source(
    settings: Settings, *, direct: bool, database: str | None = None
) -> tuple[Fetch, Callable[[], None]]:
    """Where rows come from: the worker over HTTP (embedded) or ClickHouse; and a closer."""
    dsn = settings.clickhouse_dsn.get_secret_value()
    if parse_dsn(dsn).embedded and not direct:
        host, port = worker_host(settings.web_host), settings.web_port
        token = client_token(settings)

        def ask_worker(by: str, district: str | None) -> list[dict[str, Any]]:
            return from_worker(port, by, district, host=host, token=token)

        return ask_worker, lambda: None
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    db = database or settings.clickhouse_database

    def fetch(by: str, district: str | None) -> list[dict[str, Any]]:
        return progress_json(client, by, district, database=db)

    return fetch, client.close


def worker_host(web_host: str) -> str:
    """Where to reach the worker: its listen address, or loopback when it listens everywhere."""
    return "127.0.0.1" if web_host in ("", "0.0.0.0", "::") else web_host  # noqa: S104


def from_worker(
    port: int,
    by: str,
    district: str | None,
    *,
    host: str = "127.0.0.1",
    timeout_s: float = 30.0,
    token: str | None = None,
) -> list[dict[str, Any]]:
    """Rows from the worker's ``GET /progress`` (a list, or ``{"rows": [...]}``).

    ``token`` is an operator token (REGSOSEK_OPERATOR_TOKENS[_FILE]): the worker
    answers 401/403 without one.
    """
    query = urlencode({"by": by} | ({"district": district} if district else {}))
    request = urllib.request.Request(f"http://{host}:{port}/progress?{query}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http:// built above
            body = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:200]
        raise ClickHouseError(
            f"worker on :{port} answered {exc.code} for /progress: {detail}"
        ) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise ClickHouseError(
            f"no worker answering on :{port} — start it with `regsosek worker`, "
            "or stop it to query the embedded engine directly with --direct"
        ) from exc
    rows = body.get("rows") if isinstance(body, dict) else body
    if not isinstance(rows, list):
        raise ClickHouseError(f"worker on :{port} sent an unexpected /progress body")
    return rows


def show(rows: list[dict[str, Any]], by: str, as_json: bool) -> None:
    """Print once: JSON, or a table."""
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        Console().print(progress_table(rows, by))


def progress_table(rows: list[dict[str, Any]], by: str, caption: str | None = None) -> Table:
    """A rich table of progress rows with a total line (targets and counts add up)."""
    columns = _COLUMNS[by] + _COUNTS + (_ENUMERATOR_EXTRA if by == "enumerator" else ())
    columns += (("last_submission_at", "last submission (WIB)"),)
    table = Table(title=f"Regsosek progress by {by}", caption=caption, show_footer=bool(rows))
    totals = _totals(rows)
    for index, (key, header) in enumerate(columns):
        numeric = index >= len(_COLUMNS[by]) and key != "last_submission_at"
        footer = "total" if index == 0 else cell(key, totals.get(key))
        table.add_column(header, justify="right" if numeric else "left", footer=footer)
    for row in rows:
        table.add_row(*(cell(key, row.get(key)) for key, _header in columns))
    return table


def _totals(rows: list[dict[str, Any]]) -> dict[str, Any]:
    totals: dict[str, Any] = {}
    for key in ("target", "enumerated", "visited", "rejected", "warnings"):
        values = [row[key] for row in rows if isinstance(row.get(key), int)]
        totals[key] = sum(values) if values else None
    target, enumerated = totals.get("target"), totals.get("enumerated")
    totals["percent"] = (
        round(100 * enumerated / target, 1) if target and enumerated is not None else None
    )
    return totals


def cell(key: str, value: Any) -> str:
    """One value as shown: dashes for unknown, % and minutes, times in WIB."""
    if value is None or value == "":
        return "-"
    if key == "percent":
        return f"{value:.1f}%"
    if key.startswith("duration_"):
        return f"{value / 60:.0f}"
    if key == "last_submission_at":
        return datetime.fromisoformat(value).astimezone(WIB).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _watch_table(fetch: Fetch, by: str, district: str | None, interval: float) -> None:
    """Redraw in place; a failed refresh keeps the last table and says why."""
    rows = fetch(by, district)
    with Live(progress_table(rows, by), auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            caption = f"updated {datetime.now(WIB):%H:%M:%S} WIB, every {interval:g}s, Ctrl-C ends"
            try:
                rows = fetch(by, district)
            except RegsosekError as exc:
                caption = f"refresh failed ({exc}); showing the last answer"
            live.update(progress_table(rows, by, caption), refresh=True)


def _watch_json(fetch: Fetch, by: str, district: str | None, interval: float) -> None:
    while True:
        show(fetch(by, district), by, as_json=True)
        time.sleep(interval)

"""``regsosek rejections reprocess``: re-drive quarantined originals through the current rules.

The command asks the running worker (``POST /rejections/reprocess`` with an
operator token), in both engine modes: the worker selects the originals from
``rejection_payloads``, records each re-drive in ``reprocess_audit`` and
publishes it to the submissions topic with signed re-drive headers, while
fieldwork goes on (streams/worker/reprocess_page.py says why the worker). The
originals' bytes never reach this command: it shows ids, codes and outcomes.

Each rejected original is re-driven once: a second run with the same filter
selects nothing, unless ``--again``. ``--report`` shows every re-drive with
the worker's verdict (accepted, rejected with its codes, dropped, or pending
until the worker has read it).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from schemas.errors import ClickHouseError
from streams.cli.progress import worker_host
from streams.secret_files import client_token
from streams.settings import Settings

PATH = "/rejections/reprocess"
WIB = timezone(timedelta(hours=7), "WIB")


def parse_time(text: str | None) -> datetime | None:
    """An ISO 8601 date or time; without a zone it is WIB, the regency office's clock."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date or time") from exc
    return value if value.tzinfo is not None else value.replace(tzinfo=WIB)


def ask_worker(
    settings: Settings, method: str, path: str, body: dict[str, Any] | None = None
) -> dict[str, Any]:
    """One JSON request to the worker's operator page; a refusal or no worker is one clear error."""
    host, port = worker_host(settings.web_host), settings.web_port
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://{host}:{port}{path}", data=data, method=method)
    request.add_header("Content-Type", "application/json")
    token = client_token(settings)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310 - http:// built above
            answer = json.load(response)
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:300]
        raise ClickHouseError(
            f"worker on :{port} answered {exc.code} for {path}: {detail}"
        ) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise ClickHouseError(
            f"no worker answering on :{port}: re-drives are published by the running worker; "
            "start it with `regsosek worker`"
        ) from exc
    if not isinstance(answer, dict):
        raise ClickHouseError(f"worker on :{port} sent an unexpected {path} body")
    return answer


@click.group("rejections")
def command() -> None:
    """The quarantine: rejected originals and their re-drives."""


@command.command("reprocess")
@click.option("--reason", "reasons", multiple=True, help="Reason code (repeatable: any of them).")
@click.option("--since", default=None, help="Received at or after (ISO 8601; no zone = WIB).")
@click.option("--until", default=None, help="Received before (ISO 8601; no zone = WIB).")
@click.option("--enumerator", default=None, help="Only this enumerator's (PPL code).")
@click.option("--district", default=None, help="Only this district: 35.09.02 or BPS 3509010.")
@click.option("--by", "by", default=None, help="Who re-drives (required; kept in the audit).")
@click.option("--dry-run", is_flag=True, help="List what would be re-driven; publish nothing.")
@click.option("--again", is_flag=True, help="Also originals re-driven before.")
@click.option("--limit", default=10_000, show_default=True, help="At most this many.")
@click.option("--report", is_flag=True, help="Show the re-drives and their outcomes instead.")
@click.option("--json", "as_json", is_flag=True, help="Print the worker's JSON answer.")
@click.pass_obj
def reprocess(
    settings: Settings,
    *,
    reasons: tuple[str, ...],
    since: str | None,
    until: str | None,
    enumerator: str | None,
    district: str | None,
    by: str | None,
    dry_run: bool,
    again: bool,
    limit: int,
    report: bool,
    as_json: bool,
) -> None:
    """Re-drive quarantined originals through the current rules, each once, audited."""
    if report:
        answer = ask_worker(settings, "GET", f"{PATH}?limit={min(limit, 10_000)}")
        _print(answer, as_json, report_table)
        return
    if not by and not dry_run:
        raise click.UsageError("--by NAME is required: the audit records who re-drove")
    filt = {
        "reasons": list(reasons),
        "since": _iso(parse_time(since)),
        "until": _iso(parse_time(until)),
        "enumerator": enumerator,
        "district": district,
    }
    body = {"filter": filt, "by": by or "(dry run)", "dry_run": dry_run, "again": again}
    answer = ask_worker(settings, "POST", PATH, body | {"limit": limit})
    _print(answer, as_json, selection_table)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _print(answer: dict[str, Any], as_json: bool, table: Any) -> None:
    if as_json:
        click.echo(json.dumps(answer, ensure_ascii=False))
    else:
        Console().print(table(answer))


def selection_table(answer: dict[str, Any]) -> Table:
    """What was (or, in a dry run, would be) re-driven."""
    items = answer.get("items") or []
    verb = "would re-drive" if answer.get("dry_run") else "re-driven"
    table = Table(
        title=f"{len(items)} quarantined original(s) {verb}",
        caption=None
        if answer.get("dry_run")
        else "outcomes: regsosek rejections reprocess --report",
    )
    for header in ("source", "household", "enumerator", "district", "reasons", "received"):
        table.add_column(header)
    for item in items:
        table.add_row(
            item["source"],
            item.get("household_id") or "-",
            item.get("enumerator_id") or "-",
            item.get("district_code") or "-",
            ", ".join(item.get("reason_codes") or []),
            _wib(item.get("received_at")),
        )
    return table


def report_table(answer: dict[str, Any]) -> Table:
    """One row per re-drive: who, when, what, and what the worker made of it."""
    rows = answer.get("rows") or []
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["outcome"]] = counts.get(row["outcome"], 0) + 1
    summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items()))
    table = Table(title=f"Re-drives: {summary or 'none'}")
    for header in ("re-drive", "when (WIB)", "by", "source", "household", "outcome", "reasons"):
        table.add_column(header)
    table.add_column("deliveries", justify="right")
    for row in rows:
        table.add_row(
            str(row["redrive_id"])[:8],
            _wib(row.get("redriven_at")),
            row.get("requested_by") or "-",
            row.get("source") or "-",
            row.get("household_id") or "-",
            row.get("outcome") or "-",
            ", ".join(row.get("reason_codes") or []) or "-",
            str(row.get("deliveries") or 0),
        )
    return table


def _wib(text: str | None) -> str:
    if not text:
        return "-"
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(WIB).strftime("%Y-%m-%d %H:%M")

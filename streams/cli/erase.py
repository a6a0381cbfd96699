"""``regsosek erase household``: remove one household on a lawful request, and say what remains.

The work is sinks/erasure.py. Where it runs follows the engine, as for
``regsosek progress``: with the embedded engine (``chdb://``) the running
worker owns it, so the command asks the worker's ``POST /erase`` (operator
token) and fieldwork goes on; ``--direct`` opens the engine here instead (the
worker must be stopped) and is the default for a ClickHouse server. Either
way one audit row goes to ``erasures`` with the id only as an HMAC.

ClickHouse is only one copy. The Kafka topics keep the household's records
until their retention ends (they are not compacted: a record cannot be
deleted from them), and the worker's dedup changelog is compacted and keeps
the household's latest state under its id. :func:`kafka_remains` says so in
every answer, from the same settings that created the topics.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import click
from rich.console import Console
from rich.table import Table

from schemas.errors import ClickHouseError, ConfigurationError
from sinks.clickhouse import client_from_dsn, parse_dsn
from sinks.erasure import ErasureReport
from streams import topics as names
from streams.cli.progress import worker_host
from streams.secret_files import client_token
from streams.settings import Settings
from streams.worker.app import DEDUP_TABLE
from streams.worker.erasure import ErasureRequest, run_erasure

MS_PER_DAY = 24 * 3600 * 1000


def kafka_remains(settings: Settings) -> list[str]:
    """What Kafka still holds of an erased household, per topic, and until when. Pure."""
    days = settings.topic_retention_ms / MS_PER_DAY
    until = f"until {days:g} days after each record was written (retention.ms, not compacted)"
    prefix = settings.topic_prefix

    def topic(base: str) -> str:
        return names.named(base, prefix)

    return [
        f"{topic(names.SUBMISSIONS)}: every submission of it (answers, names, NIKs) {until}",
        f"{topic(names.SUBMISSIONS_VALID)}: its validated submissions {until}",
        f"{topic(names.SUBMISSIONS_REJECTED)}: its rejected originals {until}",
        f"{topic(names.REVIEWS)}: supervisors' decisions on it, with comments, {until}",
        f"{topic(names.ENUMERATOR_EVENTS)}: INTERVIEW_* events naming it {until}",
        f"{prefix}-worker-{DEDUP_TABLE}-changelog: the worker's dedup state keyed by its id "
        "(revision, recent submission ids, owner's enumerator/village/SLS; no answers); "
        "compacted, so the latest state stays while the topic exists",
    ]


@click.group("erase")
def command() -> None:
    """Erase personal data on a lawful request (docs/lifecycle.md)."""


@command.command("household")
@click.argument("household_id")
@click.option("--request", "request_ref", required=True, help="Reference of the lawful request.")
@click.option("--by", "erased_by", required=True, help="Who carries it out (for the audit).")
@click.option("--dry-run", is_flag=True, help="Count what would go; change nothing, no audit.")
@click.option("--direct", is_flag=True, help="Open ClickHouse here even in embedded mode.")
@click.option("--json", "as_json", is_flag=True, help="Print the answer as JSON.")
@click.pass_obj
def household(
    settings: Settings,
    *,
    household_id: str,
    request_ref: str,
    erased_by: str,
    dry_run: bool,
    direct: bool,
    as_json: bool,
) -> None:
    """Remove HOUSEHOLD_ID from every ClickHouse table and progress aggregate, with an audit row.

    With the embedded engine the running worker does it (POST /erase); stop
    the worker and add --direct to do it here. What Kafka keeps until its
    retention ends is printed too.
    """
    asked = ErasureRequest(household_id.strip(), request_ref.strip(), erased_by.strip(), dry_run)
    dsn = settings.clickhouse_dsn.get_secret_value()
    if parse_dsn(dsn).embedded and not direct:
        report = ask_worker(settings, asked)
    else:
        report = erase_here(settings, asked)
    remains = kafka_remains(settings)
    if as_json:
        click.echo(json.dumps(report.to_json() | {"kafka_remains": remains}))
        return
    show(report, remains)


def erase_here(settings: Settings, asked: ErasureRequest) -> ErasureReport:
    """Run the erasure on an engine this process opens (worker stopped, or a server)."""
    if settings.clickhouse_cluster:
        raise ConfigurationError(
            "erasure on a ClickHouse cluster is not implemented: see docs/lifecycle.md"
        )
    key = settings.nik_key()
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    try:
        return run_erasure(client, settings.clickhouse_database, key, asked)
    finally:
        client.close()


def ask_worker(
    settings: Settings, asked: ErasureRequest, timeout_s: float = 300.0
) -> ErasureReport:
    """``POST /erase`` on the running worker, with this machine's operator token."""
    port = settings.web_port
    body = json.dumps(
        {
            "household_id": asked.household_id,
            "request": asked.request,
            "by": asked.by,
            "dry_run": asked.dry_run,
        }
    ).encode()
    request = urllib.request.Request(
        f"http://{worker_host(settings.web_host)}:{port}/erase",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    token = client_token(settings)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - http:// built above
            return ErasureReport.from_json(json.load(response))
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise ClickHouseError(
            f"worker on :{port} answered {exc.code} for /erase: {detail}"
        ) from exc
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise ClickHouseError(
            f"no worker answering on :{port}: start it with `regsosek worker`, or stop it "
            "for good and erase with --direct"
        ) from exc


def show(report: ErasureReport, remains: list[str]) -> None:
    """Per table what went (or would go), then what Kafka keeps."""
    console = Console()
    verb = "would remove" if report.dry_run else "removed"
    table = Table(title=f"Erasure of household {report.household_hash[:16]}… (HMAC)")
    table.add_column("table")
    table.add_column(f"rows {verb}", justify="right")
    table.add_column("aggregate keys recomputed", justify="right")
    for outcome in report.tables:
        keys = str(outcome.rebuilt_keys) if outcome.rebuilt_keys else ""
        table.add_row(outcome.table, str(outcome.rows), keys)
    console.print(table)
    if report.nothing:
        click.echo(
            "nothing to erase: no table holds this household (already erased, or never here)"
        )
    elif report.dry_run:
        click.echo(f"dry run: {report.rows} row(s) would be removed; nothing changed, no audit")
    else:
        click.echo(f"erased: {report.rows} row(s) removed; audit row written to erasures")
    click.echo("Still in Kafka (not erasable there; gone when retention ends):")
    for line in remains:
        click.echo(f"  - {line}")

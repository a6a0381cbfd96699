"""``regsosek replay``: recompute every derived table under the current rules, then swap.

The replay runs inside the worker (streams/worker/replay.py): with the embedded
engine only the worker may open ClickHouse, and it is the process that must
swap the tables under its own inserts. So this command only asks the worker,
over its operator pages, and follows the run with a progress bar:
``POST /replay/start`` (starts a run, or resumes the unfinished one),
``GET /replay/status`` (messages done of total, rate, phase) and
``POST /replay/drop-old`` (the ``__replaced`` tables of the last run).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from schemas.errors import RegsosekError
from streams.cli.progress import worker_host
from streams.secret_files import client_token
from streams.settings import Settings


class ReplayRefused(RegsosekError):
    """The worker refused or could not be asked."""


def ask(settings: Settings, method: str, path: str, timeout_s: float = 60.0) -> dict[str, Any]:
    """One operator request to the worker; its JSON answer."""
    url = f"http://{worker_host(settings.web_host)}:{settings.web_port}{path}"
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    token = client_token(settings)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310 - http:// above
            body: dict[str, Any] = json.loads(answer.read())
            return body
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")[:500]
        raise ReplayRefused(f"worker answered {exc.code} to {path}: {detail}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise ReplayRefused(
            f"no worker answers at {url} ({exc}); the replay runs inside `regsosek worker`"
        ) from exc


@click.command("replay")
@click.option("--status", "status_only", is_flag=True, help="Show the last run and exit.")
@click.option("--resume", is_flag=True, help="Only resume an unfinished run; start none.")
@click.option("--drop-old", is_flag=True, help="Drop the __replaced tables of the last run.")
@click.option("--no-wait", is_flag=True, help="Start (or resume) and return at once.")
@click.option("--json", "as_json", is_flag=True, help="Print the final status as JSON.")
@click.option("--interval", default=1.0, show_default=True, help="Seconds between status polls.")
@click.pass_obj
def command(
    settings: Settings,
    *,
    status_only: bool,
    resume: bool,
    drop_old: bool,
    no_wait: bool,
    as_json: bool,
    interval: float,
) -> None:
    """Recompute households, members, rejections and progress from the submissions topic.

    The worker keeps ingesting meanwhile; the new tables replace the live ones
    when the replay has caught up (the old ones stay as <table>__replaced until
    --drop-old). Running it again after a crash resumes the unfinished run.
    """
    console = Console(stderr=True)
    if drop_old:
        dropped = ask(settings, "POST", "/replay/drop-old")["dropped"]
        console.print(f"dropped {len(dropped)} old table(s): {', '.join(dropped) or 'none'}")
        return
    status = ask(settings, "GET", "/replay/status")
    if status_only:
        click.echo(json.dumps(status, indent=1))
        return
    if resume and status.get("phase") not in ("catching_up", "swapping", "finishing"):
        raise ReplayRefused(f"no unfinished replay to resume (last: {status.get('phase')})")
    status = ask(settings, "POST", "/replay/start")
    verb = "resuming" if status.get("resumed") else "started"
    console.print(f"replay {status['run_id']} {verb}, rules {status['rules_version']}")
    if not no_wait:
        status = follow(settings, console, interval)
    if as_json:
        click.echo(json.dumps(status, indent=1))
    if status.get("phase") == "failed":
        raise ReplayRefused(f"replay {status['run_id']} failed: {status.get('error')}")


def follow(settings: Settings, console: Console, interval: float) -> dict[str, Any]:
    """A progress bar of the run until it is done or failed; its last status."""
    columns = (
        TextColumn("[bold]{task.fields[phase]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]:>8.0f} msg/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("replay", total=None, phase="starting", rate=0.0)
        while True:
            status = ask(settings, "GET", "/replay/status")
            bar.update(
                task,
                completed=status.get("done", 0),
                total=status.get("total") or None,
                phase=status.get("phase", "?"),
                rate=float(status.get("rate") or 0.0),
            )
            if status.get("phase") in ("done", "failed"):
                break
            time.sleep(interval)
    if status.get("phase") == "done":
        old = status.get("old_tables") or []
        console.print(
            f"replay {status['run_id']} done: {status.get('done')} messages; tables swapped; "
            f"{len(old)} old table(s) kept as __replaced (regsosek replay --drop-old)"
        )
    return status

"""``POST /erase``: erase one household on the worker's own engine, while fieldwork goes on.

In embedded mode only the worker may open the chdb engine, and stopping the
worker of a regency in the middle of fieldwork to answer one request is what
nobody would do; so the worker runs the erasure itself (``regsosek erase
household`` asks here, with an operator token: every path but health and
metrics is behind streams/worker/auth.py). The work (sinks/erasure.py) runs on
a client and thread of its own, not the sink's, so inserts and the readiness
ping go on meanwhile; one erasure at a time (a second answers 409).

A submission of the same household that arrives during or after the erasure
is ingested again: the request must be honoured at the source too (the field
app), and docs/lifecycle.md says so.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faust.web import View

from schemas.errors import RegsosekError
from sinks.clickhouse import client_from_dsn
from sinks.erasure import ErasureReport, erase_household, load_plan, record_audit
from streams.settings import Settings

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

#: What an erasure request may carry; ids are printable and short (a household id is ~26).
MAX_ID_CHARS = 128
MAX_TEXT_CHARS = 200
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f]+$")


class BadErasure(ValueError):
    """A request body this page cannot take: 400 with the message."""


@dataclass(frozen=True)
class ErasureRequest:
    """One lawful request as the worker receives it."""

    household_id: str
    request: str
    by: str
    dry_run: bool = False


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value.strip():
        raise BadErasure(f"{name} is required (a non-empty string)")
    value = value.strip()
    if len(value) > limit or not _PRINTABLE.match(value):
        raise BadErasure(f"{name} must be printable text of at most {limit} characters")
    return value


def parse_request(raw: bytes) -> ErasureRequest:
    """The JSON body ``{household_id, request, by, dry_run}``, checked; raises BadErasure."""
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadErasure("the body must be JSON") from None
    if not isinstance(body, dict):
        raise BadErasure("the body must be a JSON object")
    unknown = sorted(set(body) - {"household_id", "request", "by", "dry_run"})
    if unknown:
        raise BadErasure(f"unknown field(s) {', '.join(unknown)}")
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadErasure("dry_run must be true or false")
    return ErasureRequest(
        household_id=_text(body, "household_id", MAX_ID_CHARS),
        request=_text(body, "request", MAX_TEXT_CHARS),
        by=_text(body, "by", MAX_TEXT_CHARS),
        dry_run=dry_run,
    )


def run_erasure(client: Client, database: str, key: bytes, asked: ErasureRequest) -> ErasureReport:
    """Plan from the catalogue as it is now (a replay may have swapped tables), erase, audit."""
    plan = load_plan(client, database)
    report = erase_household(client, plan, asked.household_id, key=key, dry_run=asked.dry_run)
    if not asked.dry_run:
        record_audit(client, database, report, request=asked.request, by=asked.by)
    return report


def install_erasure(
    app: Any, *, client: Client | None, database: str, key: bytes, refusal: str | None = None
) -> None:
    """Add ``POST /erase``; ``refusal`` (e.g. cluster mode) makes it answer 501 with that reason."""
    executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="clickhouse-erase")
    running = asyncio.Lock()

    class Erase(View):
        """Erase one household (body: household_id, request, by, dry_run)."""

        async def post(self, request: Any) -> Any:
            if refusal is not None or client is None:
                return self.json({"error": refusal or "erasure is not available"}, status=501)
            try:
                asked = parse_request(await request.read())
            except BadErasure as exc:
                return self.json({"error": str(exc)}, status=400)
            if running.locked():
                return self.json({"error": "another erasure is running; retry"}, status=409)
            async with running:
                loop = asyncio.get_running_loop()
                try:
                    report = await loop.run_in_executor(
                        executor, run_erasure, client, database, key, asked
                    )
                except Exception as exc:  # the engine's own message is the useful part
                    message = str(exc) if isinstance(exc, RegsosekError) else repr(exc)
                    return self.json({"error": message.splitlines()[0][:500]}, status=500)
            return self.json(report.to_json())

    app.page("/erase")(Erase)


def install_erasure_from_settings(app: Any, settings: Settings, key: bytes) -> None:
    """``POST /erase`` with a writable client of its own; refused (501) on a cluster."""
    database = settings.clickhouse_database
    if settings.clickhouse_cluster:
        refusal = (
            "erasure on a ClickHouse cluster is not implemented (the shard-local tables need "
            "ON CLUSTER mutations): see docs/lifecycle.md"
        )
        install_erasure(app, client=None, database=database, key=key, refusal=refusal)
        return
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn, ca_file=settings.clickhouse_ca_file)
    install_erasure(app, client=client, database=database, key=key)

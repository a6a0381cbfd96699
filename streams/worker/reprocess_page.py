"""``/rejections/reprocess``: the worker re-drives quarantined originals itself (issue #17).

Why the worker and not the command: with the embedded engine only the worker
may open ClickHouse while it runs, and re-drives are wanted *during*
fieldwork, right after the frame or a rule was fixed. So ``regsosek rejections
reprocess`` asks the running worker (operator token, streams/worker/auth.py),
in both engine modes, and the originals' bytes (names and NIKs in clear) never
leave the worker: only ids and codes go back over HTTP.

``POST`` body: ``{"filter": {...}, "by": NAME, "dry_run": bool, "again":
bool, "limit": N}``. The worker selects the originals (sinks/reprocess.py, on
the pages' read thread), and unless it is a dry run writes one ``redriven``
audit row each (on the sink's thread, so it is durable) *before* publishing
them with signed re-drive headers (streams/worker/redrive.py). Audit first:
an original published but not audited could be re-driven twice by the next
run; one audited but not published (the broker failed mid-way) shows as
``pending`` in the report, and ``--again`` re-drives it. One request at a time
per worker, so two operators cannot select the same originals at once.

``GET ?limit=N``: the report, one row per re-drive with its outcome.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from faust.web import View

from processors.rules import RULES_BY_CODE
from sinks.reprocess import (
    MAX_SELECTED,
    Original,
    ReprocessFilter,
    redriven_block,
    report,
    select_originals,
)
from sinks.rows import Block
from streams.worker.reads import Reads, ReadsBusy
from streams.worker.redrive import headers
from streams.worker.web import DISTRICT_CODE, BadParameter, busy, single

PATH = "/rejections/reprocess"
#: Who asked: a name or login as the regency office writes it, no control characters.
OPERATOR_NAME = re.compile(r"[^\x00-\x1f\x7f]{1,100}")
ENUMERATOR_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def reprocess_request(body: Any) -> tuple[ReprocessFilter, str, bool, bool, int]:
    """Filter, who, dry run, again and limit of a POST body, checked; raises BadParameter."""
    if not isinstance(body, dict):
        raise BadParameter("the body must be a JSON object")
    unknown = set(body) - {"filter", "by", "dry_run", "again", "limit"}
    if unknown:
        raise BadParameter(f"unknown field(s): {', '.join(sorted(unknown))}")
    try:
        filt = ReprocessFilter.from_json(body.get("filter") or {})
    except (TypeError, ValueError) as exc:
        raise BadParameter(f"filter: {exc}") from exc
    unknown_codes = sorted(set(filt.reasons) - set(RULES_BY_CODE))
    if unknown_codes:
        raise BadParameter(f"unknown reason code(s): {', '.join(unknown_codes)}")
    if filt.district and not DISTRICT_CODE.fullmatch(filt.district):
        raise BadParameter("district must be a district code: 35.09.02 or BPS 3509010")
    if filt.enumerator and not ENUMERATOR_ID.fullmatch(filt.enumerator):
        raise BadParameter("enumerator: letters, digits, '.', '_' or '-', at most 64")
    by = body.get("by")
    if not isinstance(by, str) or not OPERATOR_NAME.fullmatch(by.strip()):
        raise BadParameter("by: who asks (a name, 1 to 100 characters) is required")
    flags = {name: body.get(name, False) for name in ("dry_run", "again")}
    if not all(isinstance(value, bool) for value in flags.values()):
        raise BadParameter("dry_run and again are true or false")
    limit = body.get("limit", MAX_SELECTED)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_SELECTED:
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_SELECTED}")
    return filt, by.strip(), flags["dry_run"], flags["again"], limit


def report_limit(query: Mapping[str, str]) -> int:
    """``limit`` of the report (1..10000, default 1000); raises BadParameter."""
    text = single(query, {"limit"}).get("limit", "1000")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_SELECTED:
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_SELECTED}")
    return int(text)


class Redriver:
    """Selects, audits and publishes; one run at a time."""

    def __init__(
        self,
        *,
        reads: Reads,
        write: Callable[[Sequence[Block], str], object],
        executor: ThreadPoolExecutor,
        producer: Callable[[], Any],
        topic: str,
        key: bytes,
        database: str,
    ) -> None:
        self._reads = reads
        self._write = write
        self._executor = executor
        self._producer = producer
        self._topic = topic
        self._key = key
        self._database = database
        self._lock = asyncio.Lock()

    async def run(
        self, filt: ReprocessFilter, by: str, *, dry_run: bool, again: bool, limit: int
    ) -> dict[str, Any]:
        """The selection, and unless ``dry_run`` its re-drives, as the answer's body."""
        async with self._lock:
            originals = await self._reads.run(
                lambda client: select_originals(
                    client,
                    filt,
                    topic=self._topic,
                    again=again,
                    limit=limit,
                    database=self._database,
                )
            )
            pairs = [(str(uuid.uuid4()), original) for original in originals]
            if pairs and not dry_run:
                await self._audit(pairs, by, filt)
                await self._publish(pairs)
        items = [
            original.listing() | {"redrive_id": None if dry_run else rid} for rid, original in pairs
        ]
        return {
            "dry_run": dry_run,
            "again": again,
            "by": by,
            "filter": filt.to_json(),
            "selected": len(pairs),
            "redriven": 0 if dry_run else len(pairs),
            "items": items,
        }

    async def _audit(
        self, pairs: list[tuple[str, Original]], by: str, filt: ReprocessFilter
    ) -> None:
        block = redriven_block(pairs, requested_by=by, filt=filt, at=datetime.now(UTC))
        token = f"reprocess:{pairs[0][0]}"
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._write, [block], token)

    async def _publish(self, pairs: list[tuple[str, Original]]) -> None:
        """Every re-drive acknowledged by the broker (acks=all, Faust's producer)."""
        producer = self._producer()
        sent = []
        for redrive_id, original in pairs:
            key = original.household_id.encode() if original.household_id else None
            sent.append(
                await producer.send(
                    self._topic,
                    value=original.value,
                    key=key,
                    headers=headers(self._key, redrive_id, original.source, original.value),
                )
            )
        await asyncio.gather(*sent)


def install(app: Any, redriver: Redriver, reads: Reads, database: str) -> None:
    """Add ``/rejections/reprocess`` (GET: report, POST: re-drive) to the worker's pages."""

    class Reprocess(View):
        """Operator-only (the token middleware guards every non-public path)."""

        async def get(self, request: Any) -> Any:
            try:
                limit = report_limit(request.query)
                rows = await reads.run(
                    lambda client: report(client, limit=limit, database=database)
                )
            except BadParameter as exc:
                return self.json({"error": str(exc)}, status=400)
            except ReadsBusy as exc:
                return busy(self, exc)
            return self.json({"rows": rows})

        async def post(self, request: Any) -> Any:
            try:
                body = json.loads(await request.read() or b"null")
                filt, by, dry_run, again, limit = reprocess_request(body)
                answer = await redriver.run(filt, by, dry_run=dry_run, again=again, limit=limit)
            except json.JSONDecodeError:
                return self.json({"error": "the body is not JSON"}, status=400)
            except BadParameter as exc:
                return self.json({"error": str(exc)}, status=400)
            except ReadsBusy as exc:
                return busy(self, exc)
            return self.json(answer)

    app.page(PATH)(Reprocess)

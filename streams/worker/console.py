"""``/console/...``: the worker's read-only JSON for the operator console (issue #16).

The gateway serves the console to browsers and asks these pages (with its
operator token; streams/worker/auth.py protects every path here), coalescing
identical reads, so browser tabs never multiply queries. Like ``/board``, each
page's ClickHouse work runs on the pages' own thread under the read budget
(streams/worker/reads.py): a burst is refused with 503 and ``Retry-After``,
never queued ahead of the sink. SQL and answer shapes are in
sinks/console_queries.py; this module checks parameters and adds what only
the worker knows: its counters, its consumer-lag snapshot and its insert rate.

Parameters are checked strictly (unknown or repeated ones, bad codes, limits
out of 1..500 are 400s): they end up in SQL parameters, and a typo should say
so rather than silently show everything.
"""

from __future__ import annotations

import re
import time
from collections import deque
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sinks.console_queries import (
    district_json,
    freshness_json,
    overview_json,
    rejections_json,
    reviews_json,
)
from streams.worker.board_page import board_query
from streams.worker.observer import WorkerStats
from streams.worker.reads import Reads, ReadsBusy
from streams.worker.web import DISTRICT_CODE, BadParameter, busy, single

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from monitoring.lag import ConsumerLag

#: An enumerator (PPL) or supervisor code: digits only, short.
ENUMERATOR_ID = re.compile(r"\d{1,16}")
#: Bounds of ``limit`` and of the ids one review-queue request may name.
MAX_LIMIT = 500
MAX_ENUMERATORS = 500
#: How often the insert rate is sampled, and the span it is measured over (seconds).
RATE_SAMPLE_S = 5.0
RATE_WINDOW_S = 60.0


class InsertRate:
    """Rows the sink wrote per second over the last minute, from (time, total rows) samples.

    The worker's own ``sink_rows`` counters are the same source as the
    Prometheus rows counter, so the console and Grafana agree; a small ring of
    samples (one per :data:`RATE_SAMPLE_S`) turns the running total into a
    rate without any I/O. Pure: the caller passes the time.
    """

    def __init__(self, window_s: float = RATE_WINDOW_S, every_s: float = RATE_SAMPLE_S) -> None:
        self.window_s = window_s
        self._samples: deque[tuple[float, int]] = deque(maxlen=int(window_s / every_s) + 2)

    def record(self, now: float, total_rows: int) -> None:
        """One sample of the running total; a sample older than the last is ignored."""
        if self._samples and now <= self._samples[-1][0]:
            return
        self._samples.append((now, total_rows))

    def rate(self) -> float:
        """Rows per second between the oldest sample of the window and the newest; 0.0 before two.

        A counter that went down (a restart) restarts the measure at the drop.
        """
        if len(self._samples) < 2:
            return 0.0
        newest_t, newest_rows = self._samples[-1]
        start_t, start_rows = newest_t, newest_rows
        for t, rows in reversed(self._samples):
            if newest_t - t > self.window_s or rows > start_rows:
                break
            start_t, start_rows = t, rows
        if newest_t <= start_t:
            return 0.0
        return round((newest_rows - start_rows) / (newest_t - start_t), 2)


def _limit(params: Mapping[str, str], default: int) -> int:
    text = params.get("limit", str(default))
    if not text.isascii() or not text.isdigit() or len(text) > 3 or not 1 <= int(text) <= MAX_LIMIT:
        raise BadParameter(f"limit must be a whole number from 1 to {MAX_LIMIT}")
    return int(text)


def _district(text: str | None, *, required: bool) -> str | None:
    if not text:
        if required:
            raise BadParameter("code is required: a district code, 35.09.02 or BPS 3509010")
        return None
    if not DISTRICT_CODE.fullmatch(text):
        raise BadParameter("district must be a district code: 35.09.02 or BPS 3509010")
    return text


def _enumerator(text: str) -> str:
    if not ENUMERATOR_ID.fullmatch(text):
        raise BadParameter("enumerator ids are digits only, at most 16")
    return text


def district_query(query: Mapping[str, str]) -> str:
    """``code`` of ``GET /console/district`` (required); raises BadParameter."""
    code = _district(single(query, {"code"}).get("code"), required=True)
    assert code is not None  # noqa: S101 - required=True raised otherwise
    return code


def rejections_query(query: Mapping[str, str]) -> tuple[int, str | None, str | None]:
    """``limit`` (1..500, default 50), ``district`` and ``enumerator`` (both optional)."""
    params = single(query, {"limit", "district", "enumerator"})
    enumerator = params.get("enumerator") or None
    return (
        _limit(params, 50),
        _district(params.get("district"), required=False),
        _enumerator(enumerator) if enumerator else None,
    )


def reviews_query(query: Mapping[str, str]) -> tuple[list[str] | None, int]:
    """``enumerators`` (comma-separated ids; absent = all, empty = none) and ``limit``.

    An empty list means nobody, never everybody: the gateway sends a
    supervisor's team, and an empty team must not see the whole regency.
    """
    params = single(query, {"enumerators", "limit"})
    limit = _limit(params, 100)
    if "enumerators" not in params:
        return None, limit
    ids = [_enumerator(part.strip()) for part in params["enumerators"].split(",") if part.strip()]
    ids = list(dict.fromkeys(ids))
    if len(ids) > MAX_ENUMERATORS:
        raise BadParameter(f"at most {MAX_ENUMERATORS} enumerators per request")
    return ids, limit


def lag_by_topic(snapshot: Mapping[tuple[str, int], int]) -> dict[str, int]:
    """Messages not yet committed per topic (partitions summed), as Prometheus sums them."""
    topics: dict[str, int] = {}
    for (topic, _partition), lag in sorted(snapshot.items()):
        topics[topic] = topics.get(topic, 0) + lag
    return topics


def health_body(
    stats: WorkerStats,
    *,
    lag: Mapping[tuple[str, int], int],
    lag_read_at: float | None,
    freshness: Mapping[str, Any],
    insert_rows_per_s: float,
    commit_stall_s: float,
) -> dict[str, Any]:
    """``/console/health`` from figures already at hand. Pure.

    ``ready`` is the part of readiness known without I/O (no sink holding a
    refused batch, no commit stuck past ``commit_stall_s``); ``/readyz`` adds
    the broker and ClickHouse probes. ``sink_failing`` names tables only: the
    engine's error text may quote a value of the refused batch.
    """
    stuck = {tp: s for tp, s in stats.commits_stalled.items() if s >= commit_stall_s}
    return {
        "lag": lag_by_topic(lag),
        "lag_read_at": (
            datetime.fromtimestamp(lag_read_at, UTC).isoformat() if lag_read_at else None
        ),
        "freshness_ms": dict(freshness),
        "insert_rows_per_s": insert_rows_per_s,
        "processed": stats.processed,
        "valid": stats.valid,
        "rejected": stats.rejected,
        "dropped": dict(stats.dropped),
        "sink_rows": dict(stats.sink_rows),
        "sink_failing": bool(stats.sink_failing),
        "sink_failing_tables": sorted(stats.sink_failing),
        "commits_stalled": dict(stats.commits_stalled),
        "ready": not stats.sink_failing and not stuck,
        "as_of": datetime.now(UTC).isoformat(),
    }


def install_console(
    app: Any,
    *,
    stats: WorkerStats,
    reads: Reads,
    database: str,
    lag: ConsumerLag | None,
    commit_stall_s: float = 300.0,
    clock: Callable[[], float] = time.monotonic,
) -> InsertRate:
    """Add the five ``/console/...`` pages and the insert-rate sampler to the worker."""
    rate = InsertRate()

    def sample() -> None:
        rate.record(clock(), sum(stats.sink_rows.values()))

    sample()  # the counters' start: a burst before the first timer tick still counts

    async def sample_rate() -> None:
        sample()

    def page(
        path: str, build: Callable[[Mapping[str, str]], Callable[[Client], dict[str, Any]]]
    ) -> None:
        async def view_page(view: Any, request: Any) -> Any:
            try:
                read = build(request.query)
                body = await reads.run(read)
            except BadParameter as exc:
                return view.json({"error": str(exc)}, status=400)
            except ReadsBusy as exc:
                return busy(view, exc)
            return view.json(body)

        view_page.__doc__ = f"GET {path}: read-only console JSON (ids and codes only)."
        app.page(path)(view_page)

    def overview(query: Mapping[str, str]) -> Callable[[Client], dict[str, Any]]:
        window = board_query(query)
        return lambda client: overview_json(client, database=database, window_s=window)

    def district(query: Mapping[str, str]) -> Callable[[Client], dict[str, Any]]:
        code = district_query(query)
        return lambda client: district_json(client, code, database=database)

    def rejections(query: Mapping[str, str]) -> Callable[[Client], dict[str, Any]]:
        limit, code, enumerator = rejections_query(query)
        return lambda client: rejections_json(
            client, limit=limit, district=code, enumerator=enumerator, database=database
        )

    def reviews(query: Mapping[str, str]) -> Callable[[Client], dict[str, Any]]:
        enumerators, limit = reviews_query(query)
        return lambda client: reviews_json(client, enumerators, limit=limit, database=database)

    async def health(view: Any, request: Any) -> Any:
        """GET /console/health: lag, freshness, insert rate, counters, readiness without I/O."""
        try:
            single(request.query, set())
            freshness = await reads.run(lambda client: freshness_json(client, database=database))
        except BadParameter as exc:
            return view.json({"error": str(exc)}, status=400)
        except ReadsBusy as exc:
            return busy(view, exc)
        sample()  # in the event loop, like the timer and every counter update
        return view.json(
            health_body(
                stats,
                lag=lag.snapshot if lag is not None else {},
                lag_read_at=lag.read_at if lag is not None else None,
                freshness=freshness,
                insert_rows_per_s=rate.rate(),
                commit_stall_s=commit_stall_s,
            )
        )

    page("/console/overview", overview)
    page("/console/district", district)
    page("/console/rejections", rejections)
    page("/console/reviews", reviews)
    app.page("/console/health")(health)
    app.timer(interval=RATE_SAMPLE_S, name="regsosek-console-insert-rate")(sample_rate)
    return rate

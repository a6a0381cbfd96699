"""The live terminal board of ``make demo``: progress per district, rates, rejections, freshness.

It reads the worker's ``GET /board`` once a second (in embedded mode only the
worker can open the engine) and renders it with rich. Pure rendering is kept
apart from polling so the layout can be tested without a worker.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text


def fetch_board(
    web_port: int, timeout_s: float = 5.0, *, token: str | None = None
) -> dict[str, Any] | None:
    """The worker's board JSON, or ``None`` while it does not answer (or refuses ``token``)."""
    request = urllib.request.Request(f"http://127.0.0.1:{web_port}/board")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as answer:  # noqa: S310
            body: dict[str, Any] = json.loads(answer.read())
            return body
    except (urllib.error.URLError, OSError, ValueError):
        return None


@dataclass
class Rate:
    """Events per second from successive counter readings (a short moving window)."""

    samples: list[tuple[float, int]] = field(default_factory=list)
    window_s: float = 10.0

    def add(self, count: int, at: float | None = None) -> float:
        now = time.monotonic() if at is None else at
        self.samples.append((now, count))
        self.samples = [(t, c) for t, c in self.samples if now - t <= self.window_s]
        first_t, first_c = self.samples[0]
        return (count - first_c) / (now - first_t) if now > first_t else 0.0


def district_table(districts: list[dict[str, Any]]) -> Table:
    """One row per district: a bar of enumerated against target."""
    table = Table(expand=True, title="Progress by district (kecamatan)", title_justify="left")
    for name, justify in (
        ("district", "left"),
        ("progress", "left"),
        ("enumerated / target", "right"),
        ("%", "right"),
        ("rejected", "right"),
        ("warnings", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in districts:
        target = row.get("target") or 0
        done = row.get("enumerated") or 0
        bar = ProgressBar(total=max(target, 1), completed=min(done, max(target, 1)), width=24)
        percent = f"{100 * done / target:.1f}" if target else "-"
        table.add_row(
            f"{row.get('district_name') or row['district_code']}",
            bar,
            f"{done:,} / {target:,}",
            percent,
            f"{row.get('rejected') or 0:,}",
            f"{row.get('warnings') or 0:,}",
        )
    return table


def side_panel(board: dict[str, Any], rate: float) -> Table:
    """Totals, rates, freshness and rejections by reason."""
    totals = board.get("totals", {})
    worker = board.get("worker", {})
    facts = Table.grid(padding=(0, 2))
    facts.add_column(justify="left")
    facts.add_column(justify="right")
    p50, p95 = board.get("freshness_p50_ms"), board.get("freshness_p95_ms")
    freshness = (
        f"{p50 / 1000:.2f} s / {p95 / 1000:.2f} s" if p50 is not None and p95 is not None else "-"
    )
    for label, value in (
        ("events/s (processed)", f"{rate:,.0f}"),
        ("households in ClickHouse", f"{totals.get('households', 0):,}"),
        ("members living in", f"{totals.get('members', 0):,}"),
        ("rejected messages", f"{totals.get('rejections', 0):,}"),
        ("duplicates dropped", f"{sum((worker.get('dropped') or {}).values()):,}"),
        (
            f"active enumerators ({board.get('window_s', 60)} s)",
            f"{board.get('active_enumerators', 0):,}",
        ),
        ("freshness p50 / p95", freshness),
    ):
        facts.add_row(label, value)
    reasons = board.get("rejections_by_reason") or {}
    for code, count in sorted(reasons.items(), key=lambda item: -item[1]):
        facts.add_row(Text(f"  {code}", style="red"), f"{count:,}")
    if worker.get("sink_failing"):
        facts.add_row(Text("sink failing", style="bold red"), ", ".join(worker["sink_failing"]))
    return facts


def render(board: dict[str, Any] | None, rate: float, status: str) -> RenderableType:
    """The whole board; a waiting message before the worker answers."""
    if board is None:
        return Panel(Text(f"waiting for the worker… {status}"), title="Regsosek live board")
    return Panel(
        Group(district_table(board.get("districts", [])), side_panel(board, rate), Text(status)),
        title="Regsosek live board — Jember fieldwork",
    )

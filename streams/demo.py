"""The main job, end to end on the embedded default: what ``make demo`` runs.

Each step says what it did with real components, and a step whose part of the
platform is not built yet says so instead of pretending. Processes the demo
started are stopped at the end (or on Ctrl-C); data under the state directory
is kept so it can be inspected afterwards.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from rich.console import Console

from schemas.errors import RegsosekError
from sinks.clickhouse import client_from_dsn, describe
from streams import local_kafka
from streams.kafka_admin import broker_api_version, metadata_answered
from streams.settings import Settings


@dataclass
class DemoReport:
    """What ran for real and what is still missing, for the closing summary."""

    done: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


#: Parts of the main job that later issues deliver, by the module that will hold them.
PLANNED_PARTS = (
    ("streams.simulator", "simulator of 4,000 Jember enumerators (issue #6)"),
    ("streams.worker", "Faust worker: validate, dedup, enrich, sink to ClickHouse (#4, #5)"),
    ("streams.board", "live progress board (#6)"),
)


def run(settings: Settings, scale: float, console: Console | None = None) -> DemoReport:
    """Bring up the stack, run every built stage, and report the rest honestly."""
    out = console or Console()
    report = DemoReport()
    out.rule("[bold]Regsosek streaming ingestion — demo on the embedded default")
    out.print(f"scale {scale}, state directory {settings.state_dir.resolve()}")
    with _kafka(settings, out.print) as bootstrap:
        report.done.append(f"Kafka answering at {bootstrap}")
        _run_step(out, report, "ClickHouse", lambda: _clickhouse(settings))
        for name, step in _optional_steps(settings):
            _run_step(out, report, name, step)
        for module, what in PLANNED_PARTS:
            if importlib.util.find_spec(module) is None:
                report.missing.append(what)
    _summary(out, report, settings)
    return report


@contextlib.contextmanager
def _kafka(settings: Settings, echo: Callable[[str], None]) -> Iterator[str]:
    """Use the configured cluster if it answers, else start (and later stop) the local one."""
    if metadata_answered(settings.kafka_bootstrap, timeout_s=3):
        version = broker_api_version(settings.kafka_bootstrap)
        echo(f"Using the running Kafka at {settings.kafka_bootstrap} (API {version})")
        yield settings.kafka_bootstrap
        return
    from streams.cli.kafka import spec_from  # noqa: PLC0415 - CLI helper, imported lazily

    spec = spec_from(settings)
    state = local_kafka.start(spec, echo=echo)
    echo(f"Started Apache Kafka {state.version} at {spec.bootstrap} (pid {state.pid})")
    try:
        yield spec.bootstrap
    finally:
        local_kafka.stop(spec)
        echo("Stopped the Kafka broker the demo started (data kept).")


def _clickhouse(settings: Settings) -> str:
    dsn = settings.clickhouse_dsn.get_secret_value()
    client = client_from_dsn(dsn)
    try:
        client.query("SELECT 1")
        return describe(client, dsn)
    finally:
        client.close()


def _optional_steps(settings: Settings) -> list[tuple[str, Callable[[], str]]]:
    """Steps whose code may already exist; each returns a one-line result."""
    steps: list[tuple[str, Callable[[], str]]] = []
    if importlib.util.find_spec("streams.topics") is not None:

        def topics() -> str:
            from streams.topics import desired_topics, ensure_topics, summary  # noqa: PLC0415

            return summary(ensure_topics(settings.kafka_bootstrap, desired_topics(settings)))

        steps.append(("Topics", topics))
    return steps


def _run_step(out: Console, report: DemoReport, name: str, step: Callable[[], str]) -> None:
    try:
        result = step()
    except RegsosekError as exc:
        out.print(f"[red]✗ {name}: {exc}")
        raise
    out.print(f"[green]✓ {name}: {result}")
    report.done.append(f"{name}: {result}")


def _summary(out: Console, report: DemoReport, settings: Settings) -> None:
    out.rule("summary")
    for line in report.done:
        out.print(f"[green]✓[/] {line}")
    for line in report.missing:
        out.print(f"[yellow]… not built yet:[/] {line}")
    if report.missing:
        out.print(
            "[yellow]The demo ran every stage that exists; the stages above are open issues,"
            " so no households were simulated or counted in this run."
        )
    out.print(f"Data kept under {settings.state_dir.resolve()}")

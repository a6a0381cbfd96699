"""``regsosek worker``: the processing and sink agents, with health and progress pages."""

from __future__ import annotations

import click

from streams.settings import Settings


@click.command("worker")
@click.pass_obj
def command(settings: Settings) -> None:
    """Validate, deduplicate and enrich submissions, and write them to ClickHouse.

    Runs until SIGINT/SIGTERM. Serves /healthz, /readyz, /metrics, /progress, /board, /stats and
    /debug/consumer on REGSOSEK_WEB_HOST:REGSOSEK_WEB_PORT.
    """
    import faust  # noqa: PLC0415 - heavy import, only for this command

    from streams.worker.runtime import create_worker  # noqa: PLC0415

    worker = create_worker(settings)
    click.echo(
        f"worker: Kafka {settings.kafka_bootstrap}, web http://{settings.web_host}:{settings.web_port}"
    )
    faust.Worker(
        worker.app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False
    ).execute_from_commandline()

"""``regsosek topics create|list``: the platform's topics on the configured cluster."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from streams import topics
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings


@click.group("topics")
def command() -> None:
    """Kafka topics regsosek.* (partitions, replication, retention from REGSOSEK_TOPIC_*)."""


@command.command("create")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the cluster.")
@click.option(
    "--strict", is_flag=True, help="Exit 1 when a topic has fewer partitions than desired."
)
@click.pass_obj
def create(settings: Settings, timeout: float, strict: bool) -> None:
    """Create missing topics; existing ones are reported as "exists", never changed.

    A topic with fewer partitions than REGSOSEK_TOPIC_PARTITIONS still works (with
    less parallelism), so it is a warning, not a failure, unless --strict: adding
    partitions would move households to other partitions, which stays an
    operator's decision.
    """
    security = KafkaSecurity.from_settings(settings)
    specs = topics.desired_topics(topics.resolve_replication(settings, security))
    reports = topics.ensure_topics(
        settings.kafka_bootstrap, specs, timeout_s=timeout, security=security
    )
    short = [r for r in reports if r.state is topics.TopicState.TOO_FEW_PARTITIONS]
    for report in reports:
        click.echo(f"{report.name}: {report.state.value} ({report.partitions} partitions)")
    for report in short:
        click.echo(
            f"warning: {report.name} has {report.partitions} partitions, "
            f"{report.desired_partitions} desired; left unchanged because adding partitions "
            "moves household keys to other partitions",
            err=True,
        )
    if short and strict:
        sys.exit(1)


@command.command("list")
@click.option("--timeout", default=10.0, show_default=True, help="Seconds to wait for the cluster.")
@click.pass_obj
def list_(settings: Settings, timeout: float) -> None:
    """Show the regsosek.* topics present, with partitions and replication."""
    found = topics.describe_topics(
        settings.kafka_bootstrap,
        timeout_s=timeout,
        prefix=settings.topic_prefix,
        security=KafkaSecurity.from_settings(settings),
    )
    present = {info.name for info in found}
    table = Table(title=f"regsosek topics at {settings.kafka_bootstrap}")
    for column in ("topic", "partitions", "replication"):
        table.add_column(column)
    for info in found:
        table.add_row(info.name, str(info.partitions), str(info.replication))
    for name in (topics.named(t, settings.topic_prefix) for t in topics.ALL_TOPICS):
        if name not in present:
            table.add_row(name, "missing", "-")
    Console(width=100).print(table)

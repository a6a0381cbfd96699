"""``regsosek demo``: the main job end to end on the embedded default (``make demo``)."""

from __future__ import annotations

import click

from streams import demo
from streams.settings import Settings


@click.command("demo")
@click.option(
    "--scale",
    type=float,
    default=0.01,
    show_default=True,
    envvar="REGSOSEK_DEMO_SCALE",
    show_envvar=True,
    help="Fraction of Jember's ~800,000 households to simulate.",
)
@click.pass_obj
def command(settings: Settings, scale: float) -> None:
    """Start Kafka and the embedded ClickHouse, run the pipeline, and summarise."""
    demo.run(settings, scale)

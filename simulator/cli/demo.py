"""``regsosek demo``: the main job end to end on the embedded default (``make demo``)."""

from __future__ import annotations

import sys

import click

from simulator import demo
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
@click.option("--seed", type=int, default=7, show_default=True, envvar="REGSOSEK_DEMO_SEED")
@click.option(
    "--duration",
    type=float,
    default=300.0,
    show_default=True,
    envvar="REGSOSEK_DEMO_DURATION",
    help="Wall seconds the fieldwork month is compressed into.",
)
@click.option(
    "--via",
    type=click.Choice(["sdk", "http"]),
    default="sdk",
    show_default=True,
    envvar="REGSOSEK_DEMO_VIA",
    help="How the simulated tablets publish: the Python SDK or the HTTP gateway.",
)
@click.option(
    "--secure",
    is_flag=True,
    default=False,
    envvar="REGSOSEK_DEMO_SECURE",
    show_envvar=True,
    help="The local broker over SASL_SSL with ACLs; the worker logs in as `worker`, the gateway "
    "and the simulator as `field`. Needs a state directory of its own (make demo SECURE=1).",
)
@click.option(
    "--keep-data",
    is_flag=True,
    default=False,
    envvar="REGSOSEK_DEMO_KEEP_DATA",
    show_envvar=True,
    help="Keep the previous runs' topics, ClickHouse data and Faust state instead of clearing "
    "them first; corrupt-message counts then include earlier runs and are compared as at least.",
)
@click.option(
    "--reviews/--no-reviews",
    default=True,
    show_default=True,
    envvar="REGSOSEK_DEMO_REVIEWS",
    show_envvar=True,
    help="Supervisors review their teams' interviews (simulate --reviews); the summary "
    "compares each district's review statuses too.",
)
@click.option(
    "--paradata/--no-paradata",
    default=True,
    show_default=True,
    envvar="REGSOSEK_DEMO_PARADATA",
    show_envvar=True,
    help="The tablets send their events (simulate --paradata); the summary compares the "
    "stored events by type too.",
)
@click.option(
    "--hold",
    is_flag=True,
    default=False,
    envvar="REGSOSEK_DEMO_HOLD",
    show_envvar=True,
    help="After the comparison, keep the worker and the gateway running (the operator console "
    "stays up) until Ctrl-C.",
)
@click.pass_obj
def command(
    settings: Settings,
    /,
    *,
    scale: float,
    seed: int,
    duration: float,
    via: str,
    secure: bool,
    keep_data: bool,
    reviews: bool,
    paradata: bool,
    hold: bool,
) -> None:
    """Kafka, worker, gateway and simulator with a live board; compares with the ground truth.

    Each run starts from a clean dataset in its state directory (the broker, jars,
    frame and secrets are kept) unless --keep-data.
    """
    options = demo.DemoOptions(
        scale=scale,
        seed=seed,
        duration_s=duration,
        via=via,
        secure=secure,
        keep_data=keep_data,
        reviews=reviews,
        paradata=paradata,
        hold=hold,
    )
    sys.exit(demo.run(settings, options))

"""``regsosek kafka fetch|start|stop|status|logs``: the local broker from Maven Central."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import click

from streams import local_kafka
from streams.settings import Settings


def spec_from(settings: Settings, *, secure: bool = False) -> local_kafka.BrokerSpec:
    """The local broker described by the settings (its port is the bootstrap port).

    Secure when asked, or when the settings' clients speak SASL_SSL (they could
    not talk to a PLAINTEXT broker); a state directory once secure stays so.
    """
    return local_kafka.BrokerSpec(
        host=settings.kafka_host,
        port=settings.kafka_port,
        controller_port=settings.kafka_controller_port,
        state_dir=settings.state_dir,
        cache_dir=settings.cache_dir,
        heap=settings.kafka_heap,
        partitions=settings.topic_partitions,
        secure=secure or settings.kafka_security_protocol == "SASL_SSL",
        topic_prefix=settings.topic_prefix,
    )


@click.group("kafka")
def command() -> None:
    """Run a real single-node Apache Kafka (KRaft) assembled from Maven Central."""


@command.command("fetch")
@click.pass_obj
def fetch(settings: Settings) -> None:
    """Download Kafka's jars once into the cache (REGSOSEK_CACHE_DIR)."""
    cache, downloaded = local_kafka.fetch_jars(spec_from(settings))
    verb = "Fetched" if downloaded else "Already cached:"
    click.echo(f"{verb} Apache Kafka {cache.kafka_version()} jars in {cache.libs}")


@command.command("start")
@click.option(
    "--secure",
    is_flag=True,
    help="SASL_SSL with SCRAM users (admin, field, worker), a local CA and ACLs; writes "
    "<state>/kafka/client-<user>.env. Implied by REGSOSEK_KAFKA_SECURITY_PROTOCOL=SASL_SSL.",
)
@click.pass_obj
def start(settings: Settings, secure: bool) -> None:
    """Start the broker in the background and wait until it answers metadata requests."""
    state = local_kafka.start(spec_from(settings, secure=secure), echo=click.echo)
    click.echo(f"Kafka ready at {state.bootstrap} (Apache Kafka {state.version}, pid {state.pid})")


@command.command("stop")
@click.pass_obj
def stop(settings: Settings) -> None:
    """Stop the broker this state directory started, and wait for it to exit."""
    pid = local_kafka.stop(spec_from(settings))
    click.echo(f"Kafka (pid {pid}) stopped." if pid else "Kafka was not running.")


@command.command("status")
@click.pass_obj
def status(settings: Settings) -> None:
    """Say whether our broker runs and answers; exit 1 when it does not answer."""
    state = local_kafka.status(spec_from(settings))
    owner = f"pid {state.pid}" if state.running else "not started by this state directory"
    answer = f"answering, Apache Kafka {state.version}" if state.answering else "not answering"
    click.echo(f"Kafka at {state.bootstrap}: {answer} ({owner})")
    if not state.answering:
        sys.exit(1)


@command.command("logs")
@click.option("-n", "--lines", default=50, show_default=True, help="Lines to show.")
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C ends).")
@click.pass_obj
def logs(settings: Settings, lines: int, follow: bool) -> None:
    """Show the end of the broker's server.log."""
    log = spec_from(settings).layout.server_log
    if not log.exists():
        click.echo(f"no broker log yet at {log}", err=True)
        sys.exit(1)
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), str(log)]
    with contextlib.suppress(KeyboardInterrupt):
        subprocess.run(cmd, check=False)

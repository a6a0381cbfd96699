"""``regsosek kafka fetch|start|stop|status|logs``: the local broker from Maven Central."""

from __future__ import annotations

import contextlib
import subprocess
import sys

import click

from streams import local_kafka
from streams.settings import Settings


def spec_from(
    settings: Settings, *, secure: bool = False, brokers: int = 1
) -> local_kafka.BrokerSpec:
    """The local broker or cluster described by the settings (the first bootstrap port).

    Secure when asked, or when the settings' clients speak SASL_SSL (they could
    not talk to a PLAINTEXT broker); a state directory once secure stays so, and
    once formatted for N brokers stays N (``stop`` and ``status`` find them all).
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
        brokers=brokers,
    )


@click.group("kafka")
def command() -> None:
    """Run a real Apache Kafka (KRaft), one broker or a cluster, from Maven Central jars."""


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
@click.option(
    "--brokers",
    type=click.IntRange(1, 9),
    default=1,
    show_default=True,
    help="Nodes of a local KRaft cluster (each a broker and a controller; node n on the "
    "bootstrap port + 2(n-1)). With 3 or more, topics get 3 replicas and min.insync 2. "
    "Remembered by the state directory; a later start brings back only nodes that are down.",
)
@click.pass_obj
def start(settings: Settings, secure: bool, brokers: int) -> None:
    """Start the broker(s) in the background and wait until the cluster answers whole."""
    state = local_kafka.start(spec_from(settings, secure=secure, brokers=brokers), echo=click.echo)
    click.echo(f"Kafka ready at {state.bootstrap} (Apache Kafka {state.version}, pid {state.pid})")


@command.command("stop")
@click.pass_obj
def stop(settings: Settings) -> None:
    """Stop the broker(s) this state directory started, and wait for them to exit."""
    pids = local_kafka.stop(spec_from(settings))
    listed = ", ".join(str(pid) for pid in pids)
    click.echo(f"Kafka (pid {listed}) stopped." if pids else "Kafka was not running.")


@command.command("status")
@click.pass_obj
def status(settings: Settings) -> None:
    """Say whether our broker runs and answers; exit 1 when it does not answer."""
    spec = local_kafka.remembered(spec_from(settings))
    state = local_kafka.status(spec)
    owner = f"pid {state.pid}" if state.pid else "not started by this state directory"
    answer = f"answering, Apache Kafka {state.version}" if state.answering else "not answering"
    click.echo(f"Kafka at {state.bootstrap}: {answer} ({owner})")
    if spec.brokers > 1:
        for node, each in enumerate(local_kafka.node_statuses(spec), start=1):
            pid = f"pid {each.pid}" if each.pid else "not running"
            click.echo(
                f"  node {node} at {each.bootstrap}: {pid}, "
                + ("answering" if each.answering else "not answering")
            )
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

"""Each demo starts from a clean dataset: what a previous run left, and clearing it.

Why the demo clears rather than comparing differently: a corrupt message has no
submission id to deduplicate on, so its rejection is stored again on every run,
while households and rule rejections are not (their ids dedupe). The ground
truth covers one run, so after a second run in the same state directory no
single reading of the comparison (absolute, or this run's delta) is right for
both kinds. Clearing the previous run's data makes every row exact again.

Cleared: the Kafka topics of the prefix (the platform's four and the worker's
Faust internal topics ``<prefix>-worker-…``), the worker's consumer group and
its offsets, the ClickHouse database, the worker's local Faust state and the
demo's previous logs and ground truth. Kept: the broker itself, the Kafka jars,
the enumeration frame and the generated secrets, which are reused.

:func:`plan` and :func:`topics_to_delete` are pure; :func:`clear` does the I/O,
before the worker starts (with the embedded engine the worker owns ClickHouse
while it runs: the demo opens it here and closes it again).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sinks.clickhouse import client_from_dsn
from sinks.migrations import check_names
from streams.kafka_admin import delete_group
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings
from streams.topics import ALL_TOPICS, delete_topics, list_topic_names, named


def worker_app_id(prefix: str) -> str:
    """The worker's Faust app id, also its consumer group (``streams.worker.app.build_app``)."""
    return f"{prefix}-worker"


def topics_to_delete(prefix: str, existing: Iterable[str]) -> list[str]:
    """The topics of a demo under ``prefix`` among ``existing``. Pure.

    Exact names for the platform's topics, not everything starting with
    ``<prefix>.``: another environment's prefix may extend this one
    (``regsosek.staging.submissions``). Faust names every topic it makes after
    the app id (``<prefix>-worker-dedup-changelog``, the assignor's
    ``<prefix>-worker-__assignor-__leader``), hence the prefix match there.
    """
    platform = {named(topic, prefix) for topic in ALL_TOPICS}
    internal = worker_app_id(prefix) + "-"
    return sorted({name for name in existing if name in platform or name.startswith(internal)})


def drop_database_sql(database: str, cluster: str | None) -> str:
    """The statement that removes the analytics database; SYNC frees it before the worker starts.

    Pure.
    """
    check_names(database, cluster)
    on_cluster = f" ON CLUSTER '{cluster}'" if cluster else ""
    return f"DROP DATABASE IF EXISTS {database}{on_cluster} SYNC"


@dataclass(frozen=True)
class ResetPlan:
    """What one demo clears before it starts (everything but the Kafka topics, listed live)."""

    prefix: str
    group: str
    database: str
    drop_sql: str
    #: Local folders: the worker's Faust state (datadir, tables dir inside) and the demo's logs
    #: and ground truth.
    folders: tuple[Path, ...]


#: Hosts of a broker on this machine: the only brokers a demo may clear topics on.
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})


def refusal(dsn: str, bootstrap: str) -> str | None:
    """Why the demo must not clear these stores, or ``None`` when they are its own. Pure.

    The demo clears only what it can only have made itself: the embedded
    engine and a broker on this machine. A DSN naming a ClickHouse server or a
    bootstrap naming another host may be shared (staging, production): clearing
    those because someone ran ``make demo`` with the wrong variables set would
    destroy census data.
    """
    if not dsn.startswith("chdb://"):
        return "REGSOSEK_CLICKHOUSE_DSN names a ClickHouse server, not the embedded engine"
    hosts = {server.strip().rsplit(":", 1)[0] for server in bootstrap.split(",")}
    if not hosts <= LOOPBACK:
        return f"Kafka at {bootstrap} is not on this machine"
    return None


def plan(settings: Settings, run_dir: Path) -> ResetPlan:
    """The reset for these settings; ``run_dir`` is where the demo writes logs and truth. Pure."""
    prefix = settings.topic_prefix
    return ResetPlan(
        prefix=prefix,
        group=worker_app_id(prefix),
        database=settings.clickhouse_database,
        drop_sql=drop_database_sql(settings.clickhouse_database, settings.clickhouse_cluster),
        # the worker's datadir, as build_app sets it (a unit test holds the two together)
        folders=(settings.state_dir.resolve() / "faust", run_dir),
    )


@dataclass(frozen=True)
class Cleared:
    """What :func:`clear` found and removed, for the one line the demo prints."""

    topics: tuple[str, ...]
    group: str | None
    database: str | None
    folders: tuple[Path, ...]

    def line(self) -> str:
        """``Cleared the previous run's data: …`` or that there was none. Pure."""
        parts = []
        if self.topics:
            parts.append(f"{len(self.topics)} topics ({', '.join(self.topics)})")
        if self.group:
            parts.append(f"consumer group {self.group}")
        if self.database:
            parts.append(f"ClickHouse database {self.database}")
        parts += [str(folder) for folder in self.folders]
        kept = "broker, jars, frame and secrets kept; --keep-data keeps it all"
        if not parts:
            return f"No data of an earlier demo to clear ({kept})"
        return f"Cleared the previous run's data: {'; '.join(parts)} ({kept})"


def clear(settings: Settings, reset: ResetPlan, bootstrap: str, security: KafkaSecurity) -> Cleared:
    """Remove what ``reset`` names; raises BrokerError or ClickHouseError, leaving the rest.

    The group goes first: if a worker of this prefix still runs, the reset stops
    there, before any topic is pulled from under it.
    """
    group = delete_group(bootstrap, reset.group, security=security)
    existing = list_topic_names(bootstrap, security=security)
    topics = delete_topics(bootstrap, topics_to_delete(reset.prefix, existing), security=security)
    client = client_from_dsn(
        settings.clickhouse_dsn.get_secret_value(), ca_file=settings.clickhouse_ca_file
    )
    try:
        existed = client.command(f"EXISTS DATABASE {reset.database}") in (1, "1")
        client.command(reset.drop_sql)
    finally:
        client.close()
    folders = tuple(folder for folder in reset.folders if folder.exists())
    for folder in folders:
        shutil.rmtree(folder)
    return Cleared(
        topics=tuple(topics),
        group=reset.group if group else None,
        database=reset.database if existed else None,
        folders=folders,
    )

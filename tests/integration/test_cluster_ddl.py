"""The cluster DDL executed, not only parsed: ZooKeeper, Replicated engines, Distributed tables.

Here (no Docker): a real ZooKeeper 3.8 from the cached Kafka jars, and the
embedded engine started with a server config (``--config-file``) that gives
it macros, a one-node cluster ``census`` whose only replica is itself, and
that ZooKeeper. What chdb 4.4 (ClickHouse 26.9) does with the cluster
rendering of every migration, measured:

- ``ON CLUSTER`` cannot run: "Replicated DDL queries are disabled"
  (QUERY_IS_PROHIBITED), and past that gate "DDL background thread is not
  initialized" (clickhouse-local starts no DDL worker). So the statements are
  applied per node (``plan(..., per_node=True)``), as on a cluster without
  distributed DDL.
- Every Replicated table is created and registered in ZooKeeper under the
  macro-expanded path, but its replica never becomes active: the engine log
  says "Parameter 'interserver_http(s)_port' required for replication is not
  specified" (only clickhouse-server sets that address). So ALTER and INSERT
  on a replicated table are refused with TABLE_IS_READ_ONLY, and replicated
  insert deduplication cannot be shown here.
- The Distributed front tables, materialized views and views do work over
  the one-node cluster, in process (``tcp_port`` makes localhost:9000 the
  local replica): the same cluster rendering with plain MergeTree shards
  takes the product's writer path, deduplicates a replayed block through the
  Distributed table, and answers the progress views.

Where a Docker engine answers, two ClickHouse servers and a ZooKeeper run in
containers and the migrations go through ``ON CLUSTER`` with real
replication; without Docker that test is skipped (a skip, not a pass).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sinks.migrations import created_objects, load_migrations, migrate, plan
from sinks.queries import progress_sql
from sinks.rows import Block, household_blocks
from sinks.writer import ClickHouseWriter, dedup_token
from tests import builders
from tests.backends import docker_engine_answers
from tests.cluster_config import NodeConfig
from tests.engine_process import EngineError, EngineProcess
from tests.zookeeper import ZooKeeper, local_zookeeper

pytestmark = pytest.mark.integration

CLUSTER = "census"
SHARD, REPLICA = "01", "r1"
REPLICATED = "regsosek_replicated"
SHARDED = "regsosek_sharded"
WRITTEN = dt.datetime(2022, 10, 20, 3, tzinfo=dt.UTC)
_REPLICATED_ENGINE = re.compile(r"Replicated(\w*MergeTree)\('[^']*', '\{replica\}'(?:, )?")


def unreplicated(statement: str) -> str:
    """The cluster statement with plain MergeTree shards: what chdb can write to.

    chdb never activates a replica (no interserver address), so the data-path
    half of this module swaps each ``Replicated*MergeTree(path, '{replica}'[, args])``
    for ``*MergeTree([args])`` and keeps everything else of the cluster
    rendering: ``_local`` shards, Distributed fronts, views reading them.
    """
    return _REPLICATED_ENGINE.sub(r"\1(", statement)


def first_line(statement: str) -> str:
    return statement.splitlines()[0].strip()


@dataclass(frozen=True)
class Applied:
    """What applying a list of statements did: the engine's refusals, by statement."""

    statements: list[str]
    refused: dict[str, EngineError]


def apply(engine: EngineProcess, statements: list[str]) -> Applied:
    refused: dict[str, EngineError] = {}
    for statement in statements:
        try:
            engine.command(statement)
        except EngineError as exc:
            refused[first_line(statement)] = exc
    return Applied(statements, refused)


def tables(engine: EngineProcess, database: str) -> dict[str, str]:
    rows = engine.query(
        "SELECT name, engine FROM system.tables WHERE database = {db:String}", {"db": database}
    ).rows
    return {str(name): str(kind) for name, kind in rows}


@pytest.fixture(scope="module")
def zookeeper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ZooKeeper]:
    with local_zookeeper(tmp_path_factory.mktemp("zookeeper")) as server:
        yield server


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, zookeeper: ZooKeeper) -> Iterator[EngineProcess]:
    """The embedded engine as one node of ``census``, in a process of its own."""
    root = tmp_path_factory.mktemp("cluster-node")
    config = root / "config.xml"
    config.write_text(
        NodeConfig(
            cluster=CLUSTER,
            shard=SHARD,
            replica=REPLICA,
            replicas=[("localhost", 9000)],
            zookeeper=(zookeeper.host, zookeeper.port),
            tcp_port=9000,
            log_dir=root,
        ).xml()
    )
    engine = EngineProcess(root / "chdb", config, root / "engine.stderr")
    yield engine
    # A read-only replica keeps its restarting thread retrying and makes the
    # engine's close hang: drop the replicated tables first.
    for database in (REPLICATED, SHARDED):
        engine.command(f"DROP DATABASE IF EXISTS {database} SYNC")
    engine.close()


@pytest.fixture(scope="module")
def replicated(node: EngineProcess) -> Applied:
    """The full cluster rendering of every migration, per node, on the ZooKeeper-backed node."""
    return apply(node, plan(REPLICATED, CLUSTER, per_node=True))


@pytest.fixture(scope="module")
def sharded(node: EngineProcess) -> Applied:
    applied = apply(node, [unreplicated(s) for s in plan(SHARDED, CLUSTER, per_node=True)])
    assert applied.refused == {}
    return applied


def test_the_engine_takes_the_server_config(node: EngineProcess) -> None:
    macros = {
        str(name): str(value)
        for name, value in node.query("SELECT macro, substitution FROM system.macros").rows
    }
    assert macros == {"cluster": CLUSTER, "shard": SHARD, "replica": REPLICA}
    cluster = node.query(
        "SELECT shard_num, host_name, port, is_local FROM system.clusters"
        " WHERE cluster = {c:String}",
        {"c": CLUSTER},
    ).rows
    assert cluster == [(1, "localhost", 9000, 1)]


def test_on_cluster_cannot_run_in_the_embedded_engine(node: EngineProcess) -> None:
    """The exact refusals, so that a chdb able to run ON CLUSTER makes this test say so."""
    with pytest.raises(EngineError, match="Replicated DDL queries are disabled") as gate:
        node.command(plan(REPLICATED, CLUSTER)[0])  # CREATE DATABASE ... ON CLUSTER 'census'
    assert gate.value.code == "QUERY_IS_PROHIBITED"
    # A SYSTEM query passes that gate and meets the missing DDL worker.
    with pytest.raises(EngineError, match="DDL background thread is not initialized") as worker:
        node.command(f"SYSTEM FLUSH LOGS ON CLUSTER '{CLUSTER}'")
    assert worker.value.code == "NO_ELEMENTS_IN_CONFIG"


def test_every_table_is_replicated_under_its_zookeeper_path(
    node: EngineProcess, replicated: Applied, zookeeper: ZooKeeper
) -> None:
    created = set(created_objects(replicated.statements))
    assert not any(line.startswith("CREATE TABLE") for line in replicated.refused)
    engines = tables(node, REPLICATED)
    merge_trees = {name for name, kind in engines.items() if kind.endswith("MergeTree")}
    assert len(merge_trees) >= 15
    assert all(engines[name].startswith("Replicated") for name in merge_trees)
    assert engines["households_local"] == "ReplicatedReplacingMergeTree"
    assert engines["progress_village_daily_local"] == "ReplicatedAggregatingMergeTree"
    fronts = {name for name, kind in engines.items() if kind == "Distributed"}
    assert {
        name.removesuffix("_local") for name in merge_trees if name.endswith("_local")
    } == fronts
    dropped = {
        match.group(1)
        for statement in replicated.statements
        if (match := re.match(rf"DROP VIEW IF EXISTS {REPLICATED}\.(\w+)", statement))
    }
    not_created = set(created_objects(list(replicated.refused)))  # see the read-only test
    assert created - dropped - not_created <= set(engines)

    replicas = node.query(
        "SELECT table, zookeeper_path, replica_name FROM system.replicas"
        " WHERE database = {db:String}",
        {"db": REPLICATED},
    ).rows
    expected = {
        name: f"/clickhouse/tables/{'all' if '_local' not in name else SHARD}/{REPLICATED}/{name}"
        for name in merge_trees
    }
    assert {str(t): str(path) for t, path, _ in replicas} == expected
    assert {str(replica) for _, _, replica in replicas} == {REPLICA}
    # ZooKeeper itself holds them: asked through its own CLI, not through ClickHouse.
    sharded_tables = zookeeper.children(f"/clickhouse/tables/{SHARD}/{REPLICATED}")
    assert sharded_tables == sorted(n for n in merge_trees if n.endswith("_local"))
    everywhere = zookeeper.children(f"/clickhouse/tables/all/{REPLICATED}")
    assert "schema_migrations" in everywhere and "targets" in everywhere
    replica_nodes = zookeeper.children(
        f"/clickhouse/tables/{SHARD}/{REPLICATED}/households_local/replicas"
    )
    assert replica_nodes == [REPLICA]


def test_a_replica_never_activates_so_writes_are_refused(
    node: EngineProcess, replicated: Applied
) -> None:
    """The measured limit of chdb: created in ZooKeeper, read-only for ever."""
    for line, error in replicated.refused.items():
        if line.startswith("ALTER TABLE"):
            assert line.startswith(f"ALTER TABLE {REPLICATED}.") and "_local" in line, line
            assert error.code == "TABLE_IS_READ_ONLY", error
        else:  # a view selecting the column that ALTER could not add
            assert line.startswith("CREATE MATERIALIZED VIEW"), line
            assert error.code == "UNKNOWN_IDENTIFIER", error
    assert any(line.startswith("ALTER TABLE") for line in replicated.refused)
    states = node.query(
        "SELECT DISTINCT is_readonly, active_replicas FROM system.replicas"
        " WHERE database = {db:String}",
        {"db": REPLICATED},
    ).rows
    assert states == [(1, 0)]
    with pytest.raises(EngineError) as insert:
        node.command(  # what migrate() records after each step
            f"INSERT INTO {REPLICATED}.schema_migrations (version, name, checksum, applied_at)"
            " SETTINGS insert_keeper_max_retries = 0"
            " VALUES (1, '0001_x', 'c', '2022-10-20 00:00:00.000')"
        )
    assert insert.value.code == "TABLE_IS_READ_ONLY"
    log = (node.log.parent / "clickhouse.log").read_text(errors="replace")
    assert "interserver_http(s)_port' required for replication" in log


def test_reapplying_the_replicated_schema_changes_nothing(
    node: EngineProcess, replicated: Applied
) -> None:
    before = tables(node, REPLICATED)
    again = apply(node, replicated.statements)
    assert set(again.refused) == set(replicated.refused)  # the same read-only ALTERs, nothing new
    assert tables(node, REPLICATED) == before


def household(household_id: str) -> dict[str, Any]:
    submission = builders.household_submission(
        household_id=household_id,
        members=builders.family_members()[:4],
        member_count=4,
        enumeration=builders.enumeration(result="COMPLETE"),
    )
    return builders.validated_submission(submission=submission)


def blocks(*household_ids: str) -> list[Block]:
    return household_blocks([household(h) for h in household_ids], nik_key=b"k", written_at=WRITTEN)


def test_the_writer_goes_through_the_distributed_tables_once_per_token(
    node: EngineProcess, sharded: Applied
) -> None:
    engines = tables(node, SHARDED)
    assert engines["households"] == "Distributed"
    assert engines["households_local"] == "ReplacingMergeTree"
    writer = ClickHouseWriter(node, SHARDED, distributed=True)
    token = dedup_token("regsosek.submissions.valid", 0, 10, 19)
    for _ in range(3):  # a retry and a replay of the same offsets
        writer.write(blocks("3509010001-0003-012-01"), token)
    writer.write(
        blocks("3509010001-0003-013-01"), dedup_token("regsosek.submissions.valid", 0, 20, 20)
    )
    for table in ("households", "households_local"):
        assert node.scalar(f"SELECT count() FROM {SHARDED}.{table}") == 2
    assert node.scalar(f"SELECT count() FROM {SHARDED}.members") == 8
    # The materialized views on the shards fired once per block, not once per try.
    assert node.scalar(f"SELECT count() FROM {SHARDED}.progress_village_daily") == 2
    sql, parameters = progress_sql("district", database=SHARDED)
    rows = node.query(sql, parameters).dicts()
    assert [row["enumerated"] for row in rows] == [2]
    sql, parameters = progress_sql("enumerator", database=SHARDED)
    assert sum(int(str(row["enumerated"])) for row in node.query(sql, parameters).dicts()) == 2


def test_reapplying_the_sharded_schema_keeps_tables_and_rows(
    node: EngineProcess, sharded: Applied
) -> None:
    before = tables(node, SHARDED)
    rows = node.scalar(f"SELECT count() FROM {SHARDED}.households")
    assert apply(node, sharded.statements).refused == {}
    assert tables(node, SHARDED) == before
    assert node.scalar(f"SELECT count() FROM {SHARDED}.households") == rows


# ---------------------------------------------------------------- two replicas, where Docker is

CLICKHOUSE_IMAGE = "clickhouse/clickhouse-server:24.8"
ZOOKEEPER_IMAGE = "zookeeper:3.8.4"


@pytest.mark.skipif(
    not docker_engine_answers(),
    reason="SKIPPED, NOT PASSED: no Docker engine reachable for the two-replica"
    " ClickHouse + ZooKeeper cluster (ON CLUSTER and replication run only there)",
)
def test_two_replicas_apply_on_cluster_and_replicate(
    tmp_path: Path,
) -> None:  # pragma: no cover - needs a Docker engine
    from testcontainers.community.clickhouse import ClickHouseContainer  # noqa: PLC0415
    from testcontainers.core.container import DockerContainer  # noqa: PLC0415
    from testcontainers.core.network import Network  # noqa: PLC0415
    from testcontainers.core.waiting_utils import wait_for_logs  # noqa: PLC0415

    from sinks.clickhouse import client_from_dsn  # noqa: PLC0415

    names = ("ch1", "ch2")
    database = f"regsosek_{uuid.uuid4().hex[:8]}"
    with (
        Network() as network,
        DockerContainer(ZOOKEEPER_IMAGE)
        .with_network(network)
        .with_network_aliases("zookeeper") as zk,
    ):
        wait_for_logs(zk, "binding to port", timeout=120)
        servers: list[ClickHouseContainer] = []
        try:
            for name in names:
                config = tmp_path / f"{name}.xml"
                config.write_text(
                    NodeConfig(
                        cluster=CLUSTER,
                        shard=SHARD,
                        replica=name,
                        replicas=[(other, 9000) for other in names],
                        zookeeper=("zookeeper", 2181),
                        interserver_host=name,
                        credentials=("test", "test"),
                    ).xml()
                )
                container = (
                    ClickHouseContainer(CLICKHOUSE_IMAGE, username="test", password="test")
                    .with_network(network)
                    .with_network_aliases(name)
                    .with_volume_mapping(str(config), "/etc/clickhouse-server/config.d/cluster.xml")
                )
                servers.append(container.start())
            clients = []
            for server in servers:
                host = server.get_container_host_ip()
                port = server.get_exposed_port(8123)
                dsn = f"http://{server.username}:{server.password}@{host}:{port}/default"
                clients.append(client_from_dsn(dsn))
            first, second = clients
            names_applied = [m.name for m in load_migrations()]
            assert migrate(first, database=database, cluster=CLUSTER) == names_applied
            second.command(f"SYSTEM SYNC REPLICA {database}.schema_migrations")
            assert migrate(second, database=database, cluster=CLUSTER) == []  # recorded once
            engines = {
                str(n): str(e)
                for n, e in second.query(
                    "SELECT name, engine FROM system.tables WHERE database = {db:String}",
                    parameters={"db": database},
                ).result_rows
            }
            assert engines["households_local"] == "ReplicatedReplacingMergeTree"
            assert engines["households"] == "Distributed"
            writer = ClickHouseWriter(first, database, distributed=True)
            token = dedup_token("regsosek.submissions.valid", 0, 1, 1)
            writer.write(blocks("3509010001-0003-012-01"), token)
            writer.write(blocks("3509010001-0003-012-01"), token)  # ZooKeeper-backed dedup
            second.command(f"SYSTEM SYNC REPLICA {database}.households_local")
            local = second.query(f"SELECT count() FROM {database}.households_local")
            assert local.result_rows[0][0] == 1
            active = second.query(
                "SELECT min(active_replicas) FROM system.replicas WHERE database = {db:String}",
                parameters={"db": database},
            )
            assert active.result_rows[0][0] == 2
        finally:
            for server in servers:
                server.stop()

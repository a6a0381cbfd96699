"""Pure parts of the local broker: config rendering, cluster ids, command lines."""

from __future__ import annotations

import base64
from dataclasses import replace
from pathlib import Path

import pytest

from schemas.errors import BrokerError
from schemas.limits import BROKER_MESSAGE_MAX_BYTES
from streams import local_kafka


def _spec(tmp_path: Path) -> local_kafka.BrokerSpec:
    return local_kafka.BrokerSpec(
        host="127.0.0.1",
        port=19092,
        controller_port=19093,
        state_dir=tmp_path,
        cache_dir=tmp_path / "cache",
        heap="256m",
        partitions=4,
    )


def test_rendered_config_is_single_node_kraft(tmp_path: Path) -> None:
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    rendered = local_kafka.render_config(template, _spec(tmp_path), tmp_path / "data")
    props = dict(
        line.split("=", 1)
        for line in rendered.splitlines()
        if line.strip() and not line.startswith("#")
    )
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["num.partitions"] == "4"
    assert "$" not in rendered


def test_rendered_config_sets_the_record_size_limit_on_purpose(tmp_path: Path) -> None:
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    rendered = local_kafka.render_config(template, _spec(tmp_path), tmp_path / "data")
    settings = [line for line in rendered.splitlines() if line.startswith("message.max.bytes=")]
    assert settings == [f"message.max.bytes={BROKER_MESSAGE_MAX_BYTES}"], "once, from limits.py"
    assert "schemas/limits.py" in rendered


def test_unknown_placeholder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(KeyError):
        local_kafka.render_config("x=${nope}", _spec(tmp_path), tmp_path)


def test_cluster_id_is_kraft_shaped() -> None:
    ids = {local_kafka.new_cluster_id() for _ in range(2000)}
    assert len(ids) == 2000
    for cluster_id in ids:
        assert not cluster_id.startswith("-"), "StorageTool would read it as an option"
        assert len(cluster_id) == 22
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_java_command_uses_cached_classpath(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    cmd = local_kafka.java_command(spec, "/usr/bin/java", "kafka.Kafka", "server.properties")
    assert cmd[0] == "/usr/bin/java"
    assert "-Xmx256m" in cmd
    assert cmd[cmd.index("-cp") + 1] == f"{spec.jars.libs}/*"
    assert cmd[-2:] == ["kafka.Kafka", "server.properties"]


def test_jar_cache_is_keyed_by_pom_content(tmp_path: Path) -> None:
    pom = tmp_path / "pom.xml"
    pom.write_text("<project>a</project>")
    first = local_kafka.JarCache.for_pom(tmp_path, pom)
    assert first == local_kafka.JarCache.for_pom(tmp_path, pom)
    pom.write_text("<project>b</project>")
    assert first != local_kafka.JarCache.for_pom(tmp_path, pom)
    assert not first.complete


def test_a_dead_pid_is_not_our_broker(tmp_path: Path) -> None:
    layout = local_kafka.BrokerLayout.under(tmp_path)
    layout.root.mkdir(parents=True)
    layout.pid_file.write_text("999999999")
    assert local_kafka.read_pid(layout) is None
    layout.pid_file.write_text("1")  # init: alive, but not a broker of ours
    assert local_kafka.read_pid(layout) is None


def _props(rendered: str) -> dict[str, str]:
    return dict(
        line.split("=", 1)
        for line in rendered.splitlines()
        if line.strip() and not line.startswith("#")
    )


def test_a_cluster_of_three_has_three_voters_three_replicas_and_min_insync_two(
    tmp_path: Path,
) -> None:
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    cluster = replace(_spec(tmp_path), brokers=3)
    nodes = local_kafka.nodes(cluster)
    assert [node.node_id for node in nodes] == [1, 2, 3]
    assert cluster.bootstrap == "127.0.0.1:19092,127.0.0.1:19094,127.0.0.1:19096"
    props = [
        _props(local_kafka.render_config(template, node, node.layout.data_dir)) for node in nodes
    ]
    voters = "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    assert {p["controller.quorum.voters"] for p in props} == {voters}
    assert [p["node.id"] for p in props] == ["1", "2", "3"]
    assert props[2]["listeners"] == "PLAINTEXT://127.0.0.1:19096,CONTROLLER://127.0.0.1:19097"
    for p in props:
        assert p["default.replication.factor"] == "3"
        assert p["offsets.topic.replication.factor"] == "3"
        assert p["min.insync.replicas"] == "2"
        assert p["transaction.state.log.min.isr"] == "2"
    # every port distinct, every node its own data directory, one shared secure layout
    ports = [n.client_port for n in nodes] + [n.node_controller_port for n in nodes]
    assert len(set(ports)) == 6
    assert len({n.layout.data_dir for n in nodes}) == 3
    assert {n.secure_layout.root for n in nodes} == {tmp_path.resolve() / "kafka"}


def test_a_single_broker_keeps_its_old_layout_and_one_replica(tmp_path: Path) -> None:
    spec = _spec(tmp_path)
    assert spec.layout.root == tmp_path.resolve() / "kafka"
    assert spec.bootstrap == "127.0.0.1:19092"
    template = (local_kafka.DEPLOY_DIR / "server.properties.template").read_text()
    props = _props(local_kafka.render_config(template, spec, tmp_path / "data"))
    assert props["default.replication.factor"] == "1"
    assert props["min.insync.replicas"] == "1"


def test_a_state_directory_remembers_its_cluster_size(tmp_path: Path) -> None:
    cluster = replace(_spec(tmp_path), brokers=3)
    cluster.meta_file.parent.mkdir(parents=True)
    cluster.meta_file.write_text('{"cluster_id": "x", "secure": false, "brokers": 3}')
    # `stop` and `status` do not say how many: they get the whole cluster
    assert local_kafka.remembered(_spec(tmp_path)).brokers == 3
    with pytest.raises(BrokerError, match="formatted for 3 broker"):
        local_kafka.remembered(replace(_spec(tmp_path), brokers=5))

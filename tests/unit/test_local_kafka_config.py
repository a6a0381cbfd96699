"""Pure parts of the local broker: config rendering, cluster ids, command lines."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

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

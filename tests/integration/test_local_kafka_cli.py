"""`regsosek kafka` as an operator uses it: real java, real Maven, real broker processes."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streams.kafka_admin import metadata_answered
from streams.settings import Settings
from tests.backends import free_port

pytestmark = pytest.mark.integration


def _broker_pids(state_dir: Path) -> list[int]:
    """Every live kafka.Kafka process whose config lives under ``state_dir``."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            args = (proc / "cmdline").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        text = [a.decode(errors="replace") for a in args]
        if state != "Z" and "kafka.Kafka" in text and any(str(state_dir) in a for a in text):
            pids.append(int(proc.name))
    return pids


def _regsosek(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


@pytest.fixture
def broker_env(tmp_path: Path) -> dict[str, str]:
    port = free_port()
    return {
        **os.environ,
        "REGSOSEK_STATE_DIR": str(tmp_path / "state"),
        "REGSOSEK_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
        "REGSOSEK_KAFKA_CONTROLLER_PORT": str(free_port()),
        "REGSOSEK_KAFKA_HEAP": "384m",
        "REGSOSEK_CACHE_DIR": str(Settings().cache_dir),
    }


def test_start_twice_one_broker_stop_leaves_none_restart_reuses_jars(
    broker_env: dict[str, str],
) -> None:
    state_dir = Path(broker_env["REGSOSEK_STATE_DIR"]).resolve()
    bootstrap = broker_env["REGSOSEK_KAFKA_BOOTSTRAP"]
    try:
        first = _regsosek(broker_env, "kafka", "start")
        assert first.returncode == 0, first.stderr
        assert f"Kafka ready at {bootstrap} (Apache Kafka 3.9" in first.stdout
        assert metadata_answered(bootstrap)

        second = _regsosek(broker_env, "kafka", "start")
        assert second.returncode == 0, second.stderr
        assert "already running" in second.stdout
        assert len(_broker_pids(state_dir)) == 1

        status = _regsosek(broker_env, "kafka", "status")
        assert status.returncode == 0 and "answering" in status.stdout

        stopped = _regsosek(broker_env, "kafka", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stdout
        assert _broker_pids(state_dir) == []
        assert not metadata_answered(bootstrap, timeout_s=2)
        assert _regsosek(broker_env, "kafka", "status").returncode == 1

        again = _regsosek(broker_env, "kafka", "start")
        assert again.returncode == 0, again.stderr
        assert "Reusing cached Kafka jars" in again.stdout
        assert len(_broker_pids(state_dir)) == 1
    finally:
        _regsosek(broker_env, "kafka", "stop")
    assert _broker_pids(state_dir) == []


def test_port_in_use_is_one_clear_line(broker_env: dict[str, str]) -> None:
    port = int(broker_env["REGSOSEK_KAFKA_BOOTSTRAP"].rsplit(":", 1)[1])
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        result = _regsosek(broker_env, "kafka", "start")
    assert result.returncode == 4
    assert result.stderr.strip() == f"error: port {port} on 127.0.0.1 is in use by another process"
    assert "Traceback" not in result.stderr


def test_missing_java_is_one_clear_line(broker_env: dict[str, str]) -> None:
    env = {**broker_env, "PATH": "/nonexistent"}
    env.pop("JAVA_HOME", None)
    result = _regsosek(env, "kafka", "start")
    assert result.returncode == 3
    assert result.stderr.startswith("error: `java` not found on PATH")
    assert len(result.stderr.strip().splitlines()) == 1


def test_failed_download_names_the_cause(broker_env: dict[str, str], tmp_path: Path) -> None:
    """Real Maven, with an empty local repository and a mirror nobody serves."""
    home = tmp_path / "home"
    (home / ".m2").mkdir(parents=True)
    (home / ".m2" / "settings.xml").write_text(
        "<settings><localRepository>"
        f"{home / 'repo'}"
        "</localRepository><mirrors><mirror><id>down</id><mirrorOf>*</mirrorOf>"
        "<url>http://127.0.0.1:9/maven2</url></mirror></mirrors></settings>"
    )
    env = {
        **broker_env,
        "MAVEN_OPTS": f"-Duser.home={home}",  # Maven reads user.home, not $HOME
        "REGSOSEK_CACHE_DIR": str(tmp_path / "cache"),
    }
    result = _regsosek(env, "kafka", "fetch")
    assert result.returncode == 5, result.stderr
    assert result.stderr.startswith("error: mvn could not fetch Kafka's jars:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not list((tmp_path / "cache").glob("kafka/*/.complete")), "no half cache marked done"

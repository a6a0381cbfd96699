"""``make demo SECURE=1``: each child logs in as its own principal, from the broker's env files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from rich.console import Console

from simulator import demo
from streams import local_kafka_secure as secure
from streams.kafka_security import KafkaSecurity
from streams.settings import Settings

QUIET = Console(file=io.StringIO())


def test_env_files_are_read_as_the_broker_writes_them(tmp_path: Path) -> None:
    layout = secure.SecureLayout(tmp_path)
    text = secure.client_env_text("field", "127.0.0.1:9092", layout)
    values = demo.env_file_values(text + "\n  # a comment\n\n")
    assert values == {
        "REGSOSEK_KAFKA_BOOTSTRAP": "127.0.0.1:9092",
        "REGSOSEK_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "REGSOSEK_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "REGSOSEK_KAFKA_USERNAME": "field",
        "REGSOSEK_KAFKA_PASSWORD_FILE": str(layout.password_file("field")),
        "REGSOSEK_KAFKA_CA_FILE": str(layout.ca_cert),
    }


def test_a_child_runs_as_its_principal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    layout = secure.SecureLayout(tmp_path / "kafka")
    layout.secrets_dir.mkdir(parents=True)
    layout.password_file("field").write_text("field-password\n")
    envs = {
        principal: demo.env_file_values(secure.client_env_text(principal, "b:9092", layout))
        for principal in ("worker", "field")
    }
    admin = KafkaSecurity("SASL_SSL", username="admin", password="pw")
    kafka = demo.KafkaAccess("b:9092", admin, envs)
    run = demo.Demo(Settings(state_dir=tmp_path), demo.DemoOptions(secure=True), QUIET)
    monkeypatch.setenv("REGSOSEK_KAFKA_USERNAME", "someone-else")  # the demo's own environment
    env = run.env(kafka, demo.FIELD, REGSOSEK_GATEWAY_PORT="8081")
    assert env["REGSOSEK_KAFKA_USERNAME"] == "field"
    assert env["REGSOSEK_GATEWAY_PORT"] == "8081"
    assert env["REGSOSEK_STATE_DIR"] == str(tmp_path.resolve())
    # the settings a child builds from it: the field login, the password read from its file
    kafka_env = {k: v for k, v in env.items() if k.startswith("REGSOSEK_KAFKA_")}
    for name in [n for n in os.environ if n.startswith("REGSOSEK_KAFKA_")]:
        monkeypatch.delenv(name)
    for name, value in kafka_env.items():
        monkeypatch.setenv(name, value)
    security = KafkaSecurity.from_settings(Settings())
    assert (security.protocol, security.username, security.password) == (
        "SASL_SSL",
        "field",
        "field-password",
    )
    assert run.env(kafka, demo.WORKER)["REGSOSEK_KAFKA_USERNAME"] == "worker"


def test_without_secure_mode_children_inherit_the_demo_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = demo.Demo(Settings(state_dir=tmp_path), demo.DemoOptions(), QUIET)
    monkeypatch.setenv("REGSOSEK_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")  # an operator's cluster
    env = run.env(demo.KafkaAccess("broker:9093"), demo.FIELD)
    assert env["REGSOSEK_KAFKA_BOOTSTRAP"] == "broker:9093"
    assert env["REGSOSEK_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"

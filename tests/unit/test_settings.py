"""The settings object: env prefix, derived defaults and masking."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from streams.cli import cli
from streams.settings import Settings, mask_url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os  # noqa: PLC0415

    for name in list(os.environ):
        if name.startswith("REGSOSEK_"):
            monkeypatch.delenv(name)


def test_defaults() -> None:
    settings = Settings()
    assert settings.kafka_bootstrap == "127.0.0.1:9092"
    assert settings.state_dir == Path(".regsosek")
    assert settings.schema_registry_url is None
    dsn = settings.clickhouse_dsn.get_secret_value()
    assert dsn == f"chdb://{Path('.regsosek').resolve() / 'clickhouse'}"


def test_env_prefix_and_dsn_follows_state_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_STATE_DIR", "/srv/regsosek")
    monkeypatch.setenv("REGSOSEK_KAFKA_BOOTSTRAP", "broker-a:29092,broker-b:29092")
    settings = Settings()
    assert settings.clickhouse_dsn.get_secret_value() == "chdb:///srv/regsosek/clickhouse"
    assert (settings.kafka_host, settings.kafka_port) == ("broker-a", 29092)


def test_explicit_dsn_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "https://analyst:s3cret@ch.bps.example:8443/db")
    assert Settings().clickhouse_dsn.get_secret_value().startswith("https://analyst:s3cret@")


def test_masked_hides_every_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "http://writer:pw-123@clickhouse:8123/regsosek")
    monkeypatch.setenv("REGSOSEK_SCHEMA_REGISTRY_URL", "https://sr:token-9@registry:8081")
    monkeypatch.setenv("REGSOSEK_NIK_HMAC_KEY", "hmac-key-xyz")
    shown = Settings().masked()
    text = repr(shown)
    for secret in ("pw-123", "token-9", "hmac-key-xyz"):
        assert secret not in text
    assert shown["clickhouse_dsn"] == "http://writer:****@clickhouse:8123/regsosek"
    assert shown["nik_hmac_key"] == "****"


def test_mask_url_leaves_passwordless_urls_alone() -> None:
    assert mask_url("chdb:///tmp/x") == "chdb:///tmp/x"
    assert mask_url("http://host:8123/db") == "http://host:8123/db"


def test_bad_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_TOPIC_PARTITIONS", "zero")
    with pytest.raises(ValueError, match="topic_partitions"):
        Settings()


def test_config_command_masks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGSOSEK_CLICKHOUSE_DSN", "http://writer:pw-123@clickhouse:8123/regsosek")
    result = CliRunner().invoke(cli, ["config", "--json"])
    assert result.exit_code == 0, result.output
    assert "pw-123" not in result.output
    assert '"clickhouse_dsn": "http://writer:****@clickhouse:8123/regsosek"' in result.output
